package streamdb

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord feeds arbitrary bodies to the event log record decoder:
// it must refuse or decode without panicking, and a decoded record must
// encode back to the same record.
func FuzzDecodeRecord(f *testing.F) {
	valid := encode(&Event{Stream: "application-1", Revision: 3, Created: 42, ID: [16]byte{1, 2, 3},
		Type: "ApplicationSubmitted", ContentType: "application/json", Metadata: []byte(`{"actor":{}}`), Data: []byte(`{"a":1}`)})
	f.Add(valid)
	f.Add(valid[:34])
	f.Add([]byte{})
	f.Add(append(bytes.Clone(valid[:33]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
	f.Fuzz(func(t *testing.T, body []byte) {
		var e Event
		if err := decode(body, 99, &e, true); err != nil {
			return
		}
		var back Event
		if err := decode(encode(&e), 99, &back, false); err != nil {
			t.Fatalf("a decoded record does not decode once encoded: %v", err)
		}
		if back.Stream != e.Stream || back.Revision != e.Revision || back.Created != e.Created || back.ID != e.ID ||
			back.Type != e.Type || back.ContentType != e.ContentType ||
			!bytes.Equal(back.Metadata, e.Metadata) || !bytes.Equal(back.Data, e.Data) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", e, back)
		}
	})
}

// FuzzParseMeta feeds arbitrary stream metadata (which any client may
// write) to its parser: it must never panic, and limits it reads are never
// negative.
func FuzzParseMeta(f *testing.F) {
	f.Add([]byte(`{"$maxCount":10,"$maxAge":3600,"$tb":5}`))
	f.Add([]byte(`{"$maxCount":-1,"$maxAge":1e300,"$tb":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parseMeta(data)
		if m.maxAge < 0 {
			t.Fatalf("negative max age from %q", data)
		}
	})
}
