package httpapi

import (
	"strconv"
	"testing"

	"github.com/omsonline/oms/command/cmderr"
)

// FuzzDecodeAction feeds arbitrary bodies to the decoder of every
// application action: each is decoded into its command or refused with a
// bilingual 400 or 422, never a panic or another error.
func FuzzDecodeAction(f *testing.F) {
	for i, body := range []string{"", "{}", "null", `{"questions":[{"text":"?"}]}`, `{"answers":[{"questionId":1}]}`,
		`{"corrections":{"address":{"city":5}}}`, `{"reasonCode":"other","reason":"x"}`, `{} []`, `{"residenceDocument":null}`} {
		f.Add(uint8(i), []byte(body))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		action := Actions[int(which)%len(Actions)]
		cmd, err := commandFor(action, body)
		if err == nil {
			if cmd == nil {
				t.Fatalf("%s: no command and no error", action)
			}
			return
		}
		e, ok := cmderr.As(err)
		if !ok || (e.Kind != cmderr.BadRequest && e.Kind != cmderr.Validation) || e.Message.RU == "" || e.Message.EN == "" {
			t.Fatalf("%s: %v is not a bilingual refusal", action, err)
		}
	})
}

// FuzzParseIfMatch feeds arbitrary If-Match headers to the revision parser:
// a revision it reads is the number the header carries.
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{`"5"`, `W/"5"`, "5", `""`, `W/`, `"18446744073709551616"`, `"-1"`, `"5`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		rev, err := parseRevision(v)
		if err != nil {
			if e, ok := cmderr.As(err); !ok || e.Kind != cmderr.BadRequest {
				t.Fatalf("%q: %v", v, err)
			}
			return
		}
		if again, err := parseRevision(`"` + strconv.FormatUint(rev, 10) + `"`); err != nil || again != rev {
			t.Fatalf("%q read as %d, then %d %v", v, rev, again, err)
		}
	})
}
