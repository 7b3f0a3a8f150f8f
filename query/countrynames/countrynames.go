// Package countrynames names citizenship codes — ISO 3166-1 alpha-3, and
// XXA for a stateless person — in Russian and English, for the pages and
// the policy extract.
//
// The names come from CLDR through golang.org/x/text, so every code the
// form accepts has one. CLDR's short forms are meant for menus; where one
// reads oddly on a state document (a country under a former name, "Конго -
// Киншаса"), the table here gives the name the country uses now.
package countrynames

import (
	"cmp"
	"slices"
	"strings"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/omsonline/oms/events/schema"
)

// names are the names given here rather than by CLDR, in Russian and
// English.
var names = map[string][2]string{
	schema.StatelessCode: {"Лицо без гражданства", "Stateless person"},
	"COD":                {"Демократическая Республика Конго", "Democratic Republic of the Congo"},
	"COG":                {"Республика Конго", "Republic of the Congo"},
	"MKD":                {"Северная Македония", "North Macedonia"},
	"PSE":                {"Палестина", "Palestine"},
	"SWZ":                {"Эсватини", "Eswatini"},
	"HKG":                {"Гонконг", "Hong Kong"},
	"MAC":                {"Макао", "Macao"},
}

// Name is the country's name in lang ("ru" or "en"; any other reads as
// Russian), or "" for a code that is not a citizenship code.
func Name(code, lang string) string {
	en := lang == "en"
	if n, ok := names[code]; ok {
		if en {
			return n[1]
		}
		return n[0]
	}
	if !schema.IsCountryCode(code) {
		return ""
	}
	r, err := language.ParseRegion(code)
	if err != nil {
		return ""
	}
	namer := display.Russian.Regions()
	if en {
		namer = display.English.Regions()
	}
	return namer.Name(r)
}

// Codes returns the codes a person may choose as a citizenship — every
// ISO 3166-1 country but Russia, and the stateless code — with first the
// ones most applicants have (in that order), then the rest in the
// alphabetical order of their names in lang.
func Codes(first []string, lang string) []string {
	seen := make(map[string]bool, len(first))
	out := make([]string, 0, 250)
	for _, c := range first {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	tag := language.Russian
	if lang == "en" {
		tag = language.English
	}
	col := collate.New(tag, collate.IgnoreCase)
	type named struct{ code, name string }
	var rest []named
	for _, c := range append(schema.CountryCodes(), schema.StatelessCode) {
		if c == "RUS" || seen[c] {
			continue
		}
		rest = append(rest, named{c, Name(c, lang)})
	}
	slices.SortFunc(rest, func(a, b named) int {
		return cmp.Or(col.CompareString(a.name, b.name), strings.Compare(a.code, b.code))
	})
	for _, n := range rest {
		out = append(out, n.code)
	}
	return out
}
