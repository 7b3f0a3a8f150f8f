package httpapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/events/schema"
)

// The queue accepts as a region filter exactly the codes the command side
// accepts in an address, so a filter is refused only when no application
// can have that region.
func TestRegionFilterIsTheFormsRegionCode(t *testing.T) {
	codes := []string{"", "0", "7", "777", "ZZ", "7a", " 77", "77 ", "٧٧", "+7"}
	for i := range 100 {
		codes = append(codes, fmt.Sprintf("%02d", i))
	}
	for _, code := range codes {
		_, errs := application.ValidateForm(schema.Form{Address: schema.Address{Region: code}}, application.Env{Now: time.Now()}, "alice")
		formOK := true
		for _, e := range errs {
			if e.Field == "/address/region" {
				formOK = false
			}
		}
		if code == "" {
			formOK = false // required in a form; as a filter it means "any"
		}
		if got := knownRegion(code); got != formOK {
			t.Errorf("region %q: the queue filter accepts it: %v, the form: %v", code, got, formOK)
		}
	}
}
