package events_test

import (
	"strings"
	"testing"

	"github.com/omsonline/oms/events"
)

// FuzzValidActorID: an actor's id (an applicant id an operator types, an
// issuer's subject) is either refused or made of visible ASCII only, so it
// cannot break a URL, a header, a stream name or a log line it is put in.
func FuzzValidActorID(f *testing.F) {
	for _, s := range []string{"alice", "", "a b", "ж", strings.Repeat("x", 129), strings.Repeat("x", 128), "x\r\nSet-Cookie: y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !events.ValidActorID(s) {
			return
		}
		if len(s) == 0 || len(s) > events.MaxActorID || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Fatalf("ValidActorID accepts %q", s)
		}
	})
}
