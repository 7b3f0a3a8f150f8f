package schema_test

import (
	"encoding/json"
	"testing"

	"github.com/omsonline/oms/events/schema"
)

// FuzzDecode feeds arbitrary stored payloads, at every version of every
// event type, through the upcasters and the decoder: nothing may panic,
// and whatever decodes must encode to a payload that decodes to the same
// event again.
func FuzzDecode(f *testing.F) {
	types := schema.Types()
	f.Add(uint8(0), 1, []byte(`{"applicationId":"a","form":{"applicant":{"fullName":"Каримов Бахтиёр"}}}`))
	f.Add(uint8(1), 2, []byte(`{}`))
	f.Add(uint8(2), 0, []byte(`null`))
	f.Add(uint8(3), 1, []byte(`{"questions":[{"id":"1.1"}],"documents":null}`))
	f.Add(uint8(4), 9, []byte(`[]`))
	f.Fuzz(func(t *testing.T, ti uint8, version int, data []byte) {
		typ := types[int(ti)%len(types)]
		e, err := schema.Decode(typ, version, data)
		if err != nil {
			return
		}
		typ2, v, back, err := schema.Encode(e)
		if err != nil || typ2 != typ {
			t.Fatalf("%s decoded from %q does not encode: %v", typ, data, err)
		}
		e2, err := schema.Decode(typ, v, back)
		if err != nil {
			t.Fatalf("%s: the encoding %s does not decode: %v", typ, back, err)
		}
		again, _ := json.Marshal(e2)
		if string(again) != string(back) {
			t.Fatalf("%s: round trip changed\n%s\n%s", typ, back, again)
		}
	})
}
