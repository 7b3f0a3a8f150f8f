package application_test

import (
	"encoding/json"
	"testing"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
)

// FuzzDecideActions feeds arbitrary JSON bodies as every command that
// carries fields, in a state that lets the command reach its validation:
// the decision never panics, refuses only with bilingual refusals, and
// whatever it accepts folds into a state that exists.
func FuzzDecideActions(f *testing.F) {
	type target struct {
		decode func([]byte) (application.Command, error)
		state  application.Status
		caller application.Caller
	}
	targets := []target{
		{decodeAs[application.RequestInfo], application.StatusInReview, asReviewer},
		{decodeAs[application.ProvideInfo], application.StatusInfoRequested, asOwner},
		{decodeAs[application.Reject], application.StatusInReview, asReviewer},
		{decodeAs[application.ChangeAddress], application.StatusPolicyActive, asOperator},
		{decodeAs[application.Renew], application.StatusPolicyActive, asOwner},
		{decodeAs[application.Withdraw], application.StatusSubmitted, asOwner},
	}
	for i, body := range []string{
		`{"questions":[{"text":"Уточните","field":"/address/city","documentKind":"passport"}]}`,
		`{"answers":[{"questionId":"1.1","text":"Москва"}],"corrections":{"address":{"region":"77","city":"Москва","street":"Тверская","house":"1","postalCode":"125009"}},"documents":[{"kind":"passport","id":"doc-passport"}]}`,
		`{"reasonCode":"other","reason":"x"}`,
		`{"address":{"region":"78","city":"СПб","street":"Невский","house":"1","postalCode":"191025"}}`,
		`{"residenceDocument":{"type":"vnzh","series":"82","number":"1234567","issuedAt":"2025-01-01"},"documents":[{"kind":"residence_document","id":"doc-residence2"}]}`,
		`{"reason":"\u0000"}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		tg := targets[int(which)%len(targets)]
		cmd, err := tg.decode(body)
		if err != nil {
			return
		}
		s := application.Fold(history(tg.state)...)
		evs, err := application.Decide(s, cmd, env(tg.caller, now))
		if err != nil {
			e, ok := cmderr.As(err)
			if !ok || e.Message.RU == "" || e.Message.EN == "" {
				t.Fatalf("%s: %v is not a bilingual refusal", cmd.Name(), err)
			}
			for _, fe := range e.Fields {
				if fe.Message.RU == "" || fe.Message.EN == "" {
					t.Fatalf("%s: field error %+v", cmd.Name(), fe)
				}
			}
			return
		}
		if next := application.Fold(append(history(tg.state), evs...)...); !next.Exists() {
			t.Fatalf("%s accepted %s into a state that does not exist", cmd.Name(), body)
		}
	})
}

func decodeAs[T application.Command](b []byte) (application.Command, error) {
	var v T
	return v, json.Unmarshal(b, &v)
}
