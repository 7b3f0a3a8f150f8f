//go:build race

package storedjson_test

import (
	"testing"

	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/events/storedjson"
)

// Under -race, checkptr turns goccy/go-json's read past its buffer on a
// malformed escape at the end of the input into a fatal error (goccy
// issues 575 and 577): stored JSON with a backslash must not reach it.
// Only a race build can see the difference, hence the build tag.
func TestMalformedEscapesDoNotReachGoccy(t *testing.T) {
	for _, in := range []string{`{"\0"\`, `{"\0d\`, `{"\29\`, `{"a\`, `{"\`} {
		var v struct {
			A string `json:"a"`
		}
		if err := storedjson.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%q decoded", in)
		}
		for _, typ := range schema.Types() {
			if _, err := schema.Decode(typ, 1, []byte(in)); err == nil {
				t.Errorf("%s: %q decoded", typ, in)
			}
		}
	}
}
