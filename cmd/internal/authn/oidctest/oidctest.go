// Package oidctest runs an OpenID Connect issuer for tests: discovery and a
// JWKS served on 127.0.0.1, signing keys that can be added, published and
// withdrawn while it runs, and tokens signed by them. The key set is written
// out here by hand, not by the library omsd verifies with, so a test does
// not grade the library against itself.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is a running test issuer.
type Issuer struct {
	// URL is the issuer identifier, also its base address.
	URL string

	srv       *httptest.Server
	mu        sync.Mutex
	keys      map[string]signer
	published []string
	fetches   atomic.Int64
}

type signer struct {
	alg  string
	priv crypto.Signer
}

// New starts an issuer with two published keys: "rsa-1" (RS256) and
// "ec-1" (ES256). It stops when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{keys: map[string]signer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": i.URL, "jwks_uri": i.JWKSURL(),
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		i.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": i.jwks()})
	})
	i.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(i.srv.Close)
	i.URL = i.srv.URL
	i.AddKey(t, "rsa-1", "RS256")
	i.AddKey(t, "ec-1", "ES256")
	i.Publish("rsa-1", "ec-1")
	return i
}

// JWKSURL is where the key set is served.
func (i *Issuer) JWKSURL() string { return i.URL + "/jwks" }

// JWKSFetches counts the requests for the key set so far.
func (i *Issuer) JWKSFetches() int64 { return i.fetches.Load() }

// AddKey makes a signing key for alg (RS256, ES256 or EdDSA) without
// publishing it.
func (i *Issuer) AddKey(t testing.TB, kid, alg string) {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("oidctest: algorithm %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys[kid] = signer{alg: alg, priv: priv}
}

// Publish makes the key set hold exactly these keys.
func (i *Issuer) Publish(kids ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = append([]string(nil), kids...)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (i *Issuer) jwks() []map[string]string {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := []map[string]string{}
	for _, kid := range i.published {
		k := i.keys[kid]
		j := map[string]string{"kid": kid, "use": "sig", "alg": k.alg}
		switch pub := k.priv.Public().(type) {
		case *rsa.PublicKey:
			j["kty"], j["n"], j["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			raw, err := pub.Bytes() // 0x04 || X || Y
			if err != nil {
				continue
			}
			j["kty"], j["crv"], j["x"], j["y"] = "EC", "P-256", b64(raw[1:33]), b64(raw[33:])
		case ed25519.PublicKey:
			j["kty"], j["crv"], j["x"] = "OKP", "Ed25519", b64(pub)
		}
		out = append(out, j)
	}
	return out
}

// PublicKeyPEM is a key's public half as a PKIX PEM block.
func (i *Issuer) PublicKeyPEM(t testing.TB, kid string) []byte {
	t.Helper()
	i.mu.Lock()
	k, ok := i.keys[kid]
	i.mu.Unlock()
	if !ok {
		t.Fatalf("oidctest: no key %q", kid)
	}
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Claims are the claims of a good token for audience "oms": this issuer,
// the subject, issued now, valid for an hour, roles in the "roles" claim
// (nil leaves the claim out).
func (i *Issuer) Claims(sub string, roles any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": i.URL, "aud": "oms", "sub": sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if roles != nil {
		c["roles"] = roles
	}
	return c
}

// Sign signs claims with a key, naming it in the header's kid.
func (i *Issuer) Sign(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	return i.SignAs(t, kid, kid, claims)
}

// SignAs signs claims with the key kid but names headerKID in the header
// ("" leaves kid out).
func (i *Issuer) SignAs(t testing.TB, kid, headerKID string, claims jwt.MapClaims) string {
	t.Helper()
	return i.SignHeader(t, kid, map[string]any{"kid": headerKID}, claims)
}

// SignHeader signs claims with the key kid, with these header fields over
// the usual ones ("alg", and "kid" naming the key); a field set to "" is
// left out.
func (i *Issuer) SignHeader(t testing.TB, kid string, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	i.mu.Lock()
	k, ok := i.keys[kid]
	i.mu.Unlock()
	if !ok {
		t.Fatalf("oidctest: no key %q", kid)
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), claims)
	tok.Header["kid"] = kid
	for name, v := range header {
		if v == "" {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Token is a good token for a subject and one role, signed by kid.
func (i *Issuer) Token(t testing.TB, kid, sub, role string) string {
	t.Helper()
	return i.Sign(t, kid, i.Claims(sub, []string{role}))
}
