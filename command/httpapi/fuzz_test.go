package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/events"
)

// FuzzDecodeSubmit feeds arbitrary bytes to the submit body decoder and
// what it accepts to validation: nothing may panic, and every failure must
// be a refusal the API can answer (400 or 422), never an internal error.
func FuzzDecodeSubmit(f *testing.F) {
	valid, _ := json.Marshal(form("1234567", nil))
	for _, seed := range []string{
		string(valid), "", "null", "{}", "[]", `"x"`, "1e999", `{"applicant":`, `{} {}`,
		`{"applicant":{"birthDate":1}}`, `{"documents":[{"kind":5}]}`, `{"documents":{"kind":"passport"}}`,
		`{"consent":"yes"}`, `{"applicant":{"lastName":"\ud800"}}`, "\xff\xfe{", `{"a":` + string(make([]byte, 64)) + `}`,
		`{"identityDocument":{"number":"` + "\u00a0" + `"},"contacts":{"phone":"+7 (916) 123-45-67"}}`,
	} {
		f.Add([]byte(seed))
	}
	env := application.Env{
		Now:    time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC),
		Caller: application.CallerFrom(events.Metadata{Actor: events.Actor{ID: "user-1", Role: events.RoleApplicant}}),
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		form, err := httpapi.DecodeSubmit(body)
		if err != nil {
			e, ok := cmderr.As(err)
			if !ok || (e.Kind != cmderr.BadRequest && e.Kind != cmderr.Validation) || e.Message.RU == "" || e.Message.EN == "" {
				t.Fatalf("decode error is not a bilingual refusal: %v", err)
			}
			return
		}
		_, err = application.Decide(application.State{}, application.SubmitApplication{ApplicationID: "a", Form: form}, env)
		if err != nil {
			if _, ok := cmderr.As(err); !ok {
				t.Fatalf("submit failed with a non-refusal: %v", err)
			}
		}
	})
}
