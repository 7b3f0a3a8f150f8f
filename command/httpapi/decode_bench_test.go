package httpapi_test

import (
	"encoding/json"
	"testing"

	"github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/events/schema"
)

// BenchmarkDecodeSubmit is the decoding of a valid submission's body, the
// path every submission takes; the shape walk that names wrong types and
// unknown members runs only for a body encoding/json refused.
func BenchmarkDecodeSubmit(b *testing.B) {
	body, err := json.Marshal(form("1234567", []schema.DocumentRef{
		{Kind: schema.DocumentPassport, ID: "0193c8a4-0000-7000-8000-000000000001"},
		{Kind: schema.DocumentResidence, ID: "0193c8a4-0000-7000-8000-000000000002"},
		{Kind: schema.DocumentConsent, ID: "0193c8a4-0000-7000-8000-000000000003"},
	}))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := httpapi.DecodeSubmit(body); err != nil {
			b.Fatal(err)
		}
	}
}
