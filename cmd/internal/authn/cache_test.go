package authn_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/authn"
)

// TestVerifiedTokensStillExpire: a dev token verified once is remembered,
// but never past its own expiry, and a token signed by another key is
// never taken for one that was remembered.
func TestVerifiedTokensStillExpire(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	v := authn.NewDevVerifier(key)
	tok, err := authn.IssueDev(key, "user-1", "applicant", 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if a, err := v.Verify(tok); err != nil || a.ID != "user-1" || a.Role != "applicant" {
			t.Fatalf("Verify = %+v, %v", a, err)
		}
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := authn.IssueDev(other, "user-1", "applicant", time.Hour)
	if _, err := v.Verify(forged); err == nil {
		t.Fatal("a token of another key verified")
	}
	time.Sleep(2100 * time.Millisecond) // exp has one-second resolution
	if _, err := v.Verify(tok); err == nil {
		t.Fatal("an expired token verified from the cache")
	}
}
