package httpapi_test

import (
	"testing"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/httpapi"
)

// A member named twice in one object is refused where it repeats, since
// encoding/json would keep the last one silently (and matches names to
// fields ignoring case); the same name in different objects is no repeat.
func TestRepeatedMembersAreRefused(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []string // pointers refused; none: accepted
	}{
		{`{"consent":false,"contacts":{"phone":"+79161234567"},"consent":true}`, []string{"/consent"}},
		{`{"consent":true,"Consent":false}`, []string{"/Consent"}},
		{`{"consent":true,"\u0063onsent":false}`, []string{"/consent"}},
		{`{"address":{"city":"Москва","street":"a","city":"Тверь"}}`, []string{"/address/city"}},
		{`{"documents":[{"kind":"passport","id":"a"},{"kind":"consent","id":"b","KIND":"passport"}]}`, []string{"/documents/1/KIND"}},
		// No repeats: one name in several objects, and names, commas and
		// quotes inside string values.
		{`{"documents":[{"kind":"passport","id":"a"},{"kind":"consent","id":"b"}]}`, nil},
		{`{"contacts":{"email":"a\",\"email\":\"b"},"address":{"city":"{\"city\":1}"}}`, nil},
		{`{"applicant":{"lastName":"K"},"address":{"lastName":"K"}}`, nil},
	} {
		_, err := httpapi.DecodeSubmit([]byte(tc.body))
		var got []string
		if e, ok := cmderr.As(err); ok {
			for _, f := range e.Fields {
				if f.Code == "repeated_member" {
					got = append(got, f.Field)
					if f.Message.RU == "" || f.Message.EN == "" {
						t.Errorf("%s: a message without both languages: %+v", tc.body, f)
					}
				}
			}
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Errorf("%s: repeated %q (err %v), want %q", tc.body, got, err, tc.want)
		}
	}
}
