package authn_test

import (
	"testing"

	"github.com/omsonline/oms/cmd/internal/authn"
)

// The scheme's name is case-insensitive; the token is not, and an empty
// one is no token.
func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc.DEF", "abc.DEF", true},
		{"bearer abc.DEF", "abc.DEF", true},
		{"BEARER  abc.DEF ", "abc.DEF", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	} {
		token, ok := authn.BearerToken(tc.header)
		if token != tc.token || ok != tc.ok {
			t.Errorf("%q: %q %v, want %q %v", tc.header, token, ok, tc.token, tc.ok)
		}
	}
}
