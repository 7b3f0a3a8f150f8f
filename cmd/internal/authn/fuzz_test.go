package authn_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/events"
)

// FuzzVerify feeds arbitrary bearer tokens and session cookies to the JWT
// verifier: it never panics, and it accepts only what the key signed (the
// signature's last base64 character has spare bits, so a copy may differ
// there), with a known role and a subject.
func FuzzVerify(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	v := authn.NewDevVerifier(key)
	good, _ := authn.IssueDev(key, "alice", "applicant", time.Hour)
	session, _, _ := authn.IssueSession(key, "bob", "reviewer", time.Hour)
	// IssueDev refuses a lifetime that is over already; an expired token
	// is signed here by hand.
	now := time.Now()
	expired := signDev(f, key, "carol", "auditor", now.Add(-time.Hour), now.Add(-time.Minute))
	if _, err := v.Verify(expired); err == nil {
		f.Fatal("the expired seed verifies")
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := authn.IssueDev(other, "mallory", "admin", time.Hour)
	head, _, _ := strings.Cut(good, ".")
	for _, s := range []string{good, session, expired, forged, "", "a.b.c", head + ".e30.", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		actor, err := v.Verify(token)
		if err != nil {
			return
		}
		if actor != (events.Actor{ID: "alice", Role: "applicant"}) && actor != (events.Actor{ID: "bob", Role: "reviewer"}) {
			t.Fatalf("accepted a token the key did not sign: %q as %+v", token, actor)
		}
		if !slices.Contains(authn.Roles, actor.Role) || actor.ID == "" {
			t.Fatalf("accepted %+v", actor)
		}
	})
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FuzzNormalizePhone: whatever people type, a number that is accepted is
// E.164 and normalising it again changes nothing.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+7 (916) 123-45-67", "89161234567", "+0123456789", "+7\u00a0916\u00a01234567", "++7916", "+7916123456789012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := authn.NormalizePhone(s)
		if !ok {
			return
		}
		if !e164.MatchString(p) {
			t.Fatalf("NormalizePhone(%q) = %q", s, p)
		}
		if again, ok := authn.NormalizePhone(p); !ok || again != p {
			t.Fatalf("NormalizePhone(%q) = %q, then %q", s, p, again)
		}
	})
}

// Russian numbers are taken as people write them at home; anything else
// without its "+" is not a number, and a short one is not either.
func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+7 (916) 123-45-67": "+79161234567",
		"8 916 123-45-67":    "+79161234567",
		"79161234567":        "+79161234567",
		"9161234567":         "+79161234567",
		"+998 90 123 45 67":  "+998901234567",
		"998901234567":       "",
		"89160000":           "",
		"+7916":              "",
		"1234567890":         "",
		"alice":              "",
	} {
		got, ok := authn.NormalizePhone(in)
		if ok != (want != "") || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
