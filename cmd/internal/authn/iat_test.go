package authn_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/omsonline/oms/cmd/internal/authn"
)

// A token of omsd's own key dated in the future (beyond the clock skew)
// is refused; one issued now, or within the skew, is taken.
func TestOwnTokensIssuedInTheFutureAreRefused(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v := authn.NewDevVerifier(key)
	sign := func(iat time.Time) string {
		c := authn.Claims{Role: "applicant", RegisteredClaims: jwt.RegisteredClaims{
			Issuer: authn.DevIssuer, Subject: "alice", Audience: jwt.ClaimStrings{authn.Audience},
			IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(time.Now().Add(48 * time.Hour)), ID: "t-" + iat.String(),
		}}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, err := v.Verify(sign(time.Now())); err != nil {
		t.Fatalf("a token issued now: %v", err)
	}
	if _, err := v.Verify(sign(time.Now().Add(authn.ClockSkew / 2))); err != nil {
		t.Fatalf("a token within the clock skew: %v", err)
	}
	if _, err := v.Verify(sign(time.Now().Add(24 * time.Hour))); err == nil {
		t.Fatal("a token issued a day ahead was taken")
	}
}
