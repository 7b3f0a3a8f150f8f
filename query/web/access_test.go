package web

import (
	"testing"

	"github.com/omsonline/oms/events/schema"
)

// TestEveryAccessCodeHasALabel keeps the timeline's access log readable:
// every code the service records names what was read in both languages,
// scans by their kind.
func TestEveryAccessCodeHasALabel(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{schema.AccessApplication, schema.AccessHistory, schema.AccessState, schema.AccessQueue, schema.AccessCabinet, schema.AccessPolicyPDF}
	for _, k := range schema.DocumentKinds {
		codes = append(codes, schema.AccessDocument+k)
	}
	for _, code := range Languages {
		l := cats[code]
		for _, what := range codes {
			got := accessLabel(l, what)
			if got == what || got == "" {
				t.Errorf("%s: %q has no label", code, what)
			}
		}
		if got := accessLabel(l, "something_new"); got != "something_new" {
			t.Errorf("%s: an unknown code shows as %q, want the code itself", code, got)
		}
	}
	if en := accessLabel(cats["en"], schema.AccessDocument+schema.DocumentPassport); en != "Scan: Passport scan (personal data page)" {
		t.Errorf("en passport scan: %q", en)
	}
}
