package piicrypt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// FuzzOpen feeds Open whatever the event store could hand it — sealed
// payloads with their parts cut or altered, sealed look-alikes, junk —
// and Seal the same bytes: neither may panic, and what Open returns for a
// payload it accepts is JSON.
func FuzzOpen(f *testing.F) {
	s, _ := newSealer(f, bytes.Repeat([]byte{5}, 32))
	ctx := context.Background()
	sealed, err := s.Seal(ctx, "fuzz-subject", "Person", []byte(payload))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte(payload))
	f.Add([]byte(`{"$pii":{"v":1,"kid":"fuzz-subject","paths":["/name"],"ct":"AAAA"}}`))
	f.Add([]byte(`{"$pii":{"v":1,"kid":"","paths":["/a/0/b/~1"],"ct":null}}`))
	f.Add([]byte(`{"$pii":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := s.Open(ctx, "Person", b)
		if err == nil && json.Valid(b) && !json.Valid(out) {
			t.Fatalf("Open(%q) returned invalid JSON %q", b, out)
		}
		_, _ = s.Seal(ctx, "fuzz-subject", "Person", b)
	})
}
