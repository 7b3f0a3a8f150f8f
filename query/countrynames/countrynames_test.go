package countrynames

import (
	"testing"

	"github.com/omsonline/oms/events/schema"
)

// Every code the form accepts has a name in both languages, so no page
// shows a bare code to a person.
func TestEveryCitizenshipNamed(t *testing.T) {
	for _, code := range append(schema.CountryCodes(), schema.StatelessCode) {
		ru, en := Name(code, "ru"), Name(code, "en")
		if ru == "" || en == "" || ru == code || en == code {
			t.Errorf("%s: %q / %q", code, ru, en)
		}
	}
	for _, code := range []string{"", "QQQ", "ZZZ", "SUN", "uzb", "UZ", "860"} {
		if n := Name(code, "ru"); n != "" {
			t.Errorf("Name(%q) = %q, want none: not a citizenship code", code, n)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ code, lang, want string }{
		{"UZB", "ru", "Узбекистан"},
		{"UZB", "en", "Uzbekistan"},
		{"UZB", "kk", "Узбекистан"}, // a language without names reads as Russian
		{"KGZ", "ru", "Киргизия"},
		{"MKD", "ru", "Северная Македония"}, // CLDR still says Македония
		{"SWZ", "en", "Eswatini"},
		{"COD", "ru", "Демократическая Республика Конго"},
		{"XXA", "en", "Stateless person"},
	} {
		if got := Name(tc.code, tc.lang); got != tc.want {
			t.Errorf("Name(%s, %s) = %q, want %q", tc.code, tc.lang, got, tc.want)
		}
	}
}
