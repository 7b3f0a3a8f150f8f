package authn_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/authn/oidctest"
	"github.com/omsonline/oms/events"
)

func ownKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// oidcVerifier verifies tokens of iss, found by discovery unless o says
// otherwise.
func oidcVerifier(t *testing.T, iss *oidctest.Issuer, key ed25519.PrivateKey, o authn.OIDCOptions) *authn.Verifier {
	t.Helper()
	if o.Issuer == "" {
		o.Issuer = iss.URL
	}
	o.Logger = slog.New(slog.DiscardHandler)
	v, err := authn.NewOIDCVerifier(context.Background(), o, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestOIDCAcceptsIssuerKeys(t *testing.T) {
	iss := oidctest.New(t)
	iss.AddKey(t, "ed-1", "EdDSA")
	iss.Publish("rsa-1", "ec-1", "ed-1")
	v := oidcVerifier(t, iss, ownKey(t), authn.OIDCOptions{})
	if !v.OIDC() {
		t.Fatal("an OIDC verifier says it is in dev mode")
	}
	for _, tc := range []struct {
		kid   string
		roles any
		want  string
	}{
		{"rsa-1", []string{"reviewer"}, "reviewer"},
		{"ec-1", []string{"auditor"}, "auditor"},
		{"ed-1", []string{"admin"}, "admin"},
		{"rsa-1", "operator", "operator"}, // a string, not an array
		// Other values are the issuer's own business (Keycloak adds these).
		{"ec-1", []string{"offline_access", "uma_authorization", "applicant"}, "applicant"},
		{"rsa-1", []string{"admin", "admin"}, "admin"}, // a repeat is still one role
	} {
		tok := iss.Sign(t, tc.kid, iss.Claims("user-"+tc.kid, tc.roles))
		actor, err := v.Verify(tok)
		if err != nil {
			t.Errorf("%s %v: %v", tc.kid, tc.roles, err)
			continue
		}
		if actor != (events.Actor{ID: "user-" + tc.kid, Role: tc.want}) {
			t.Errorf("%s %v: actor %+v", tc.kid, tc.roles, actor)
		}
	}
}

// unsigned makes a token with any header and claims and the given
// signature part.
func unsigned(header, claims map[string]any, sig string) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + sig
}

func TestOIDCRefusesBadTokens(t *testing.T) {
	iss := oidctest.New(t)
	iss.AddKey(t, "rogue", "RS256") // never published
	key := ownKey(t)
	v := oidcVerifier(t, iss, key, authn.OIDCOptions{})
	good := func() jwt.MapClaims { return iss.Claims("alice", []string{"applicant"}) }
	with := func(k string, val any) jwt.MapClaims {
		c := good()
		c[k] = val
		return c
	}
	without := func(k string) jwt.MapClaims {
		c := good()
		delete(c, k)
		return c
	}
	now := time.Now()

	// HS256 keyed with the issuer's public key, the classic confusion of
	// a verifier that takes the algorithm from the token.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, good())
	hs.Header["kid"] = "rsa-1"
	hsTok, err := hs.SignedString(iss.PublicKeyPEM(t, "rsa-1"))
	if err != nil {
		t.Fatal(err)
	}
	devTok, err := authn.IssueDev(key, "alice", "admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		token string
		want  error // nil: any refusal
	}{
		{"wrong issuer", iss.Sign(t, "rsa-1", with("iss", "https://id.example.org")), jwt.ErrTokenInvalidIssuer},
		{"wrong audience", iss.Sign(t, "rsa-1", with("aud", "another-app")), jwt.ErrTokenInvalidAudience},
		{"no audience", iss.Sign(t, "rsa-1", without("aud")), jwt.ErrTokenRequiredClaimMissing},
		{"expired", iss.Sign(t, "ec-1", with("exp", now.Add(-2*time.Minute).Unix())), jwt.ErrTokenExpired},
		{"no expiry", iss.Sign(t, "ec-1", without("exp")), jwt.ErrTokenRequiredClaimMissing},
		{"not yet valid", iss.Sign(t, "rsa-1", with("nbf", now.Add(2*time.Minute).Unix())), jwt.ErrTokenNotValidYet},
		{"issued in the future", iss.Sign(t, "rsa-1", with("iat", now.Add(2*time.Minute).Unix())), jwt.ErrTokenUsedBeforeIssued},
		{"alg none", unsigned(map[string]any{"alg": "none", "kid": "rsa-1"}, good(), ""), jwt.ErrTokenSignatureInvalid},
		{"HS256 with the public key as secret", hsTok, jwt.ErrTokenSignatureInvalid},
		{"unknown kid", iss.Sign(t, "rogue", good()), nil},
		{"known kid, other key", iss.SignAs(t, "rogue", "rsa-1", good()), jwt.ErrTokenSignatureInvalid},
		{"no kid", iss.SignAs(t, "rsa-1", "", good()), nil},
		{"critical header", iss.SignHeader(t, "rsa-1", map[string]any{"crit": []string{"exp"}}, good()), nil},
		{"no subject", iss.Sign(t, "rsa-1", without("sub")), nil},
		{"subject with spaces", iss.Sign(t, "rsa-1", with("sub", "a b")), nil},
		{"no roles claim", iss.Sign(t, "rsa-1", without("roles")), authn.ErrNoRole},
		{"unknown role", iss.Sign(t, "rsa-1", with("roles", []string{"superuser"})), authn.ErrNoRole},
		{"empty roles", iss.Sign(t, "rsa-1", with("roles", []string{})), authn.ErrNoRole},
		{"roles not strings", iss.Sign(t, "rsa-1", with("roles", []any{"admin", 7})), authn.ErrNoRole},
		{"roles a number", iss.Sign(t, "rsa-1", with("roles", 1)), authn.ErrNoRole},
		{"ambiguous roles", iss.Sign(t, "ec-1", with("roles", []string{"reviewer", "admin"})), authn.ErrAmbiguousRole},
		{"dev token", devTok, authn.ErrDevToken},
		{"garbage", "not.a.jwt", nil},
	}
	for _, tc := range cases {
		actor, err := v.Verify(tc.token)
		if err == nil {
			t.Errorf("%s: accepted as %+v", tc.name, actor)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: refused with %v, want %v", tc.name, err, tc.want)
		}
	}
	var amb *authn.AmbiguousRoleError
	_, err = v.Verify(iss.Sign(t, "ec-1", with("roles", []string{"reviewer", "admin", "offline_access"})))
	if !errors.As(err, &amb) || strings.Join(amb.Roles, ",") != "admin,reviewer" {
		t.Errorf("ambiguous roles: %v", err)
	}
}

// The issuer starts signing with a key it publishes only later: tokens of
// the new key are refused until it appears in the key set and accepted
// after that without a restart; a key the issuer withdraws stops working
// at the next fetch.
func TestOIDCKeyRotation(t *testing.T) {
	iss := oidctest.New(t)
	v := oidcVerifier(t, iss, ownKey(t), authn.OIDCOptions{
		KeyRefresh: time.Hour, UnknownKIDRefresh: 20 * time.Millisecond,
	})
	old := iss.Token(t, "rsa-1", "alice", "applicant")
	if _, err := v.Verify(old); err != nil {
		t.Fatalf("before rotation: %v", err)
	}

	iss.AddKey(t, "rsa-2", "RS256")
	fresh := iss.Token(t, "rsa-2", "bob", "reviewer")
	if _, err := v.Verify(fresh); err == nil {
		t.Fatal("a token of a key not yet published was accepted")
	}
	iss.Publish("rsa-1", "ec-1", "rsa-2")
	time.Sleep(50 * time.Millisecond) // past the unknown-kid rate limit
	if actor, err := v.Verify(fresh); err != nil || actor.Role != "reviewer" {
		t.Fatalf("after the new key was published: %+v %v", actor, err)
	}
	if _, err := v.Verify(old); err != nil {
		t.Fatalf("the old key, still published: %v", err)
	}

	// Withdraw rsa-1. The key set is fetched again when a token names an
	// unknown key; that fetch replaces the whole set.
	iss.Publish("ec-1", "rsa-2")
	time.Sleep(50 * time.Millisecond)
	fetches := iss.JWKSFetches()
	iss.AddKey(t, "rsa-3", "RS256")
	_, _ = v.Verify(iss.Token(t, "rsa-3", "carol", "auditor"))
	if iss.JWKSFetches() == fetches {
		t.Fatal("an unknown kid did not fetch the key set")
	}
	if _, err := v.Verify(old); err == nil {
		t.Fatal("a withdrawn key still verifies after the key set was fetched again")
	}
	if _, err := v.Verify(fresh); err != nil {
		t.Fatalf("the new key after the old one was withdrawn: %v", err)
	}
}

// The periodic fetch alone, with no unknown kid to prompt it, drops a
// withdrawn key and picks up a new one.
func TestOIDCPeriodicKeyRefresh(t *testing.T) {
	iss := oidctest.New(t)
	v := oidcVerifier(t, iss, ownKey(t), authn.OIDCOptions{
		KeyRefresh: 100 * time.Millisecond, UnknownKIDRefresh: time.Hour,
	})
	old := iss.Token(t, "ec-1", "alice", "applicant")
	if _, err := v.Verify(old); err != nil {
		t.Fatal(err)
	}
	iss.AddKey(t, "ec-2", "ES256")
	iss.Publish("rsa-1", "ec-2")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(old)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a withdrawn key still verifies 5 s after it left the key set")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := v.Verify(iss.Token(t, "ec-2", "bob", "reviewer")); err != nil {
		t.Fatalf("the new key after a periodic fetch: %v", err)
	}
}

// Tokens with made-up key ids are refused at once and do not each fetch
// the issuer's key set.
func TestOIDCUnknownKIDFloodIsRateLimited(t *testing.T) {
	iss := oidctest.New(t)
	v := oidcVerifier(t, iss, ownKey(t), authn.OIDCOptions{KeyRefresh: time.Hour, UnknownKIDRefresh: time.Hour})
	if _, err := v.Verify(iss.Token(t, "rsa-1", "alice", "applicant")); err != nil {
		t.Fatal(err)
	}
	var flood []string
	for n := range 200 {
		flood = append(flood, iss.SignAs(t, "ec-1", fmt.Sprintf("garbage-%d", n), iss.Claims("mallory", []string{"admin"})))
	}
	before := iss.JWKSFetches()
	start := time.Now()
	for _, tok := range flood {
		if _, err := v.Verify(tok); err == nil {
			t.Fatal("a token with a made-up kid was accepted")
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("200 refusals took %v: requests wait for the rate limiter", d)
	}
	if n := iss.JWKSFetches() - before; n > 1 {
		t.Errorf("200 unknown kids fetched the key set %d times", n)
	}
	if _, err := v.Verify(iss.Token(t, "ec-1", "bob", "reviewer")); err != nil {
		t.Fatalf("a good token after the flood: %v", err)
	}
}

func TestOIDCStaticPublicKey(t *testing.T) {
	iss := oidctest.New(t)
	dir := t.TempDir()
	for _, tc := range []struct{ kid, other string }{{"ec-1", "rsa-1"}, {"rsa-1", "ec-1"}} {
		file := filepath.Join(dir, tc.kid+".pem")
		if err := os.WriteFile(file, iss.PublicKeyPEM(t, tc.kid), 0o600); err != nil {
			t.Fatal(err)
		}
		v := oidcVerifier(t, iss, ownKey(t), authn.OIDCOptions{PublicKeyFile: file})
		fetches := iss.JWKSFetches()
		if actor, err := v.Verify(iss.Token(t, tc.kid, "alice", "auditor")); err != nil || actor.Role != "auditor" {
			t.Errorf("%s: %+v %v", tc.kid, actor, err)
		}
		// An issuer with one key may leave kid out.
		if _, err := v.Verify(iss.SignAs(t, tc.kid, "", iss.Claims("alice", "auditor"))); err != nil {
			t.Errorf("%s without kid: %v", tc.kid, err)
		}
		if _, err := v.Verify(iss.Token(t, tc.other, "mallory", "admin")); err == nil {
			t.Errorf("%s: a token of another key was accepted", tc.kid)
		}
		hs := jwt.NewWithClaims(jwt.SigningMethodHS256, iss.Claims("mallory", "admin"))
		hsTok, _ := hs.SignedString(iss.PublicKeyPEM(t, tc.kid))
		if _, err := v.Verify(hsTok); err == nil {
			t.Errorf("%s: HS256 keyed with the public key was accepted", tc.kid)
		}
		if iss.JWKSFetches() != fetches {
			t.Errorf("%s: the static key mode fetched the key set", tc.kid)
		}
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := authn.NewOIDCVerifier(context.Background(), authn.OIDCOptions{Issuer: iss.URL, PublicKeyFile: bad}, ownKey(t)); err == nil {
		t.Error("a file without a PEM key was accepted")
	}
}

func TestOIDCRolesClaimPath(t *testing.T) {
	iss := oidctest.New(t)
	v := oidcVerifier(t, iss, ownKey(t), authn.OIDCOptions{RolesClaim: "realm_access.roles"})
	keycloak := func(roles ...string) jwt.MapClaims {
		c := iss.Claims("f3b1c9a2-4a0e-4c1e-9d7f-2b8e5a6c7d10", nil)
		c["realm_access"] = map[string]any{"roles": roles}
		c["roles"] = []string{"admin"} // a top-level claim of another name is not read
		return c
	}
	actor, err := v.Verify(iss.Sign(t, "rsa-1", keycloak("offline_access", "default-roles-oms", "reviewer")))
	if err != nil || actor.Role != "reviewer" {
		t.Fatalf("realm_access.roles: %+v %v", actor, err)
	}
	if _, err := v.Verify(iss.Sign(t, "rsa-1", keycloak("offline_access"))); !errors.Is(err, authn.ErrNoRole) {
		t.Errorf("no role under realm_access.roles: %v", err)
	}
	c := iss.Claims("x", nil)
	c["realm_access"] = "reviewer" // not an object
	if _, err := v.Verify(iss.Sign(t, "rsa-1", c)); !errors.Is(err, authn.ErrNoRole) {
		t.Errorf("realm_access not an object: %v", err)
	}

	// A namespaced claim (Auth0 style) has dots in its name; it is read as
	// one name before it is read as a path.
	ns := oidcVerifier(t, iss, ownKey(t), authn.OIDCOptions{RolesClaim: "https://oms.example/roles", JWKSURL: iss.JWKSURL()})
	c = iss.Claims("auth0|42", nil)
	c["https://oms.example/roles"] = []string{"operator"}
	if actor, err := ns.Verify(iss.Sign(t, "ec-1", c)); err != nil || actor.Role != "operator" {
		t.Errorf("namespaced claim: %+v %v", actor, err)
	}
}

func TestOIDCDiscoveryChecksIssuer(t *testing.T) {
	iss := oidctest.New(t)
	// The document at <issuer>/ says the issuer is <issuer> without the
	// slash: a different identifier, so the keys are not trusted.
	_, err := authn.NewOIDCVerifier(context.Background(), authn.OIDCOptions{Issuer: iss.URL + "/", Logger: slog.New(slog.DiscardHandler)}, ownKey(t))
	if err == nil || !strings.Contains(err.Error(), "names issuer") {
		t.Fatalf("discovery naming another issuer: %v", err)
	}
	_, err = authn.NewOIDCVerifier(context.Background(), authn.OIDCOptions{Issuer: iss.URL + "/nowhere", Logger: slog.New(slog.DiscardHandler)}, ownKey(t))
	if err == nil {
		t.Fatal("discovery that answers 404 was accepted")
	}
}

// problem reads a problem answer.
func problem(t *testing.T, resp *http.Response) (code string, detail map[string]string) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var p struct {
		Code   string            `json:"code"`
		Detail map[string]string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem: %s", body)
	}
	return p.Code, p.Detail
}

// The middleware answers 401 for a token that does not verify and 403,
// with a message saying why, for a good token without a single role; a
// browser session starts from an OIDC token and then works by cookie.
func TestOIDCMiddlewareAndSession(t *testing.T) {
	iss := oidctest.New(t)
	key := ownKey(t)
	v := oidcVerifier(t, iss, key, authn.OIDCOptions{})
	app := fiber.New()
	app.Post("/signin/verify", v.SessionFromBearer(), func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNotFound) })
	app.Use("/api", v.Middleware())
	app.All("/api/who", func(c *fiber.Ctx) error {
		md, _ := events.MetadataFrom(c.UserContext())
		return c.SendString(md.Actor.Role + " " + md.Actor.ID)
	})
	do := func(method, path, bearer string, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := app.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := do("GET", "/api/who", iss.Token(t, "rsa-1", "alice", "applicant"))
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "applicant alice" {
		t.Fatalf("good token: %d %s", resp.StatusCode, body)
	}
	lower := httptest.NewRequest("GET", "/api/who", nil)
	lower.Header.Set("Authorization", "bearer "+iss.Token(t, "rsa-1", "alice", "applicant"))
	if resp, err := app.Test(lower, 5000); err != nil || resp.StatusCode != 200 {
		t.Fatalf("good token, scheme in lower case: %v %v", resp, err)
	}
	resp = do("GET", "/api/who", iss.Sign(t, "rsa-1", iss.Claims("alice", []string{"reviewer", "auditor"})))
	if code, d := problem(t, resp); resp.StatusCode != 403 || code != "ambiguous_role" || !strings.Contains(d["en"], "auditor, reviewer") || !strings.Contains(d["ru"], "несколько ролей") {
		t.Errorf("ambiguous: %d %s %v", resp.StatusCode, code, d)
	}
	resp = do("GET", "/api/who", iss.Sign(t, "rsa-1", iss.Claims("alice", []string{"superuser"})))
	if code, d := problem(t, resp); resp.StatusCode != 403 || code != "no_role" || d["ru"] == "" || d["en"] == "" {
		t.Errorf("no role: %d %s %v", resp.StatusCode, code, d)
	}
	c := iss.Claims("alice", "applicant")
	c["aud"] = "other"
	if resp = do("GET", "/api/who", iss.Sign(t, "rsa-1", c)); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("wrong audience: %d", resp.StatusCode)
	}
	dev, _ := authn.IssueDev(key, "alice", "admin", time.Hour)
	resp = do("GET", "/api/who", dev)
	if _, d := problem(t, resp); resp.StatusCode != 401 || !strings.Contains(d["en"], "Dev tokens") {
		t.Errorf("dev token: %d %v", resp.StatusCode, d)
	}

	// Start a session.
	resp = do("POST", "/signin/verify", iss.Token(t, "ec-1", "bob", "reviewer"))
	if resp.StatusCode != 204 {
		t.Fatalf("session start: %d", resp.StatusCode)
	}
	var session, csrf *http.Cookie
	for _, ck := range resp.Cookies() {
		switch ck.Name {
		case authn.SessionCookie:
			session = ck
		case authn.CSRFCookie:
			csrf = ck
		}
	}
	if session == nil || csrf == nil || !session.HttpOnly || csrf.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookies: %+v %+v", session, csrf)
	}
	resp = do("GET", "/api/who", "", session)
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "reviewer bob" {
		t.Fatalf("by session cookie: %d %s", resp.StatusCode, body)
	}
	// The pages forward the session as a bearer token in-process.
	resp = do("GET", "/api/who", session.Value)
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "reviewer bob" {
		t.Fatalf("session as bearer: %d %s", resp.StatusCode, body)
	}
	// A state change by cookie still needs the CSRF token.
	if resp = do("POST", "/api/who", "", session); resp.StatusCode != 403 {
		t.Errorf("POST by cookie without CSRF: %d", resp.StatusCode)
	}
	// A session does not start a session (it would never end), nor does a
	// dev token; no bearer at all goes on to the page's handler.
	for name, tok := range map[string]string{"session": session.Value, "dev": dev, "none": ""} {
		if resp = do("POST", "/signin/verify", tok); resp.StatusCode == 204 {
			t.Errorf("%s: started a session", name)
		}
	}
	if resp = do("POST", "/signin/verify", ""); resp.StatusCode != 404 {
		t.Errorf("no bearer: %d, want the next handler's 404", resp.StatusCode)
	}
	resp = do("POST", "/signin/verify", iss.Token(t, "ec-1", "bob", "nobody"))
	if code, _ := problem(t, resp); resp.StatusCode != 403 || code != "no_role" {
		t.Errorf("session start without role: %d %s", resp.StatusCode, code)
	}
}

// In dev mode the session endpoint is the sign-in page's alone.
func TestDevModeSessionFromBearerPassesThrough(t *testing.T) {
	key := ownKey(t)
	v := authn.NewDevVerifier(key)
	if v.OIDC() {
		t.Fatal("dev verifier says OIDC")
	}
	app := fiber.New()
	app.Post("/signin/verify", v.SessionFromBearer(), func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusTeapot) })
	dev, _ := authn.IssueDev(key, "alice", "admin", time.Hour)
	req := httptest.NewRequest("POST", "/signin/verify", nil)
	req.Header.Set("Authorization", "Bearer "+dev)
	resp, err := app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != fiber.StatusTeapot {
		t.Fatalf("dev mode: %d", resp.StatusCode)
	}
}

// FuzzOIDCVerify feeds arbitrary bearer tokens to the OIDC verifier: it
// never panics, and accepts only tokens the issuer signed for a known role
// (the fuzzer cannot sign, so only the seeded good tokens, or copies that
// differ where the encoding has spare bits, can pass).
func FuzzOIDCVerify(f *testing.F) {
	iss := oidctest.New(f)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	v, err := authn.NewOIDCVerifier(context.Background(), authn.OIDCOptions{
		Issuer: iss.URL, RolesClaim: "realm_access.roles",
		KeyRefresh: time.Hour, UnknownKIDRefresh: time.Hour, Logger: slog.New(slog.DiscardHandler),
	}, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	kc := func(sub string, roles any) jwt.MapClaims {
		c := iss.Claims(sub, nil)
		c["realm_access"] = map[string]any{"roles": roles}
		return c
	}
	expired := kc("carol", []string{"auditor"})
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	dev, _ := authn.IssueDev(key, "dave", "admin", time.Hour)
	for _, s := range []string{
		iss.Sign(f, "rsa-1", kc("alice", []string{"applicant"})),
		iss.Sign(f, "ec-1", kc("bob", []string{"offline_access", "reviewer"})),
		iss.Sign(f, "ec-1", kc("mallory", []string{"reviewer", "admin"})),
		iss.Sign(f, "rsa-1", expired), dev, "", "a.b.c",
		unsigned(map[string]any{"alg": "none", "kid": "rsa-1"}, kc("eve", "admin"), ""),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		actor, err := v.Verify(token)
		if err != nil {
			return
		}
		if actor != (events.Actor{ID: "alice", Role: "applicant"}) && actor != (events.Actor{ID: "bob", Role: "reviewer"}) {
			t.Fatalf("accepted a token the issuer did not sign: %q as %+v", token, actor)
		}
	})
}
