package esdbserver

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzParseBasic feeds arbitrary Authorization headers to the Basic
// credentials parser: no panic, and credentials it reads are what a client
// encoded.
func FuzzParseBasic(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("admin:changeit")))
	f.Add("basic YWRtaW4=")
	f.Add("Basic ")
	f.Add("Bearer x")
	f.Add("BASIC !!!")
	f.Fuzz(func(t *testing.T, h string) {
		user, pass, ok := parseBasic(h)
		if !ok {
			return
		}
		again, pass2, ok := parseBasic("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		if !ok || again != user || pass2 != pass || strings.Contains(user, ":") {
			t.Fatalf("%q read as %q/%q, re-encoded as %q/%q", h, user, pass, again, pass2)
		}
	})
}
