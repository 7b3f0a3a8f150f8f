package authn_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/omsonline/oms/cmd/internal/authn"
)

// Dev tokens follow the issuer's subject rule (visible ASCII, bounded) and
// must live a positive time: `omsctl token --subject "   "` or `--ttl -1h`
// printed tokens that named an actor no page can show, or were dead at
// birth.
func TestDevTokensNeedAVisibleSubjectAndALifetime(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		subject string
		ttl     time.Duration
	}{{"   ", time.Hour}, {"", time.Hour}, {"a b", time.Hour}, {"алиса", time.Hour}, {"alice", 0}, {"alice", -time.Hour}} {
		if tok, err := authn.IssueDev(key, c.subject, "applicant", c.ttl); err == nil {
			t.Errorf("subject %q, ttl %s: issued %s", c.subject, c.ttl, tok)
		}
	}
	// Signed with the key by other means, a blank subject is still refused.
	now := time.Now()
	blank := signDev(t, key, "   ", "applicant", now, now.Add(time.Hour))
	v := authn.NewDevVerifier(key)
	if actor, err := v.Verify(blank); err == nil {
		t.Fatalf("a blank subject verified as %+v", actor)
	}
	good, err := authn.IssueDev(key, "alice-1", "applicant", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(good); err != nil {
		t.Fatal(err)
	}
}

// signDev signs dev-token claims with the key directly, for tokens IssueDev
// refuses to make (an expired one, a blank subject).
func signDev(t testing.TB, key ed25519.PrivateKey, subject, role string, issued, expires time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, authn.Claims{Role: role, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: authn.DevIssuer, Subject: subject, Audience: jwt.ClaimStrings{authn.Audience},
		IssuedAt: jwt.NewNumericDate(issued), ExpiresAt: jwt.NewNumericDate(expires),
	}}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
