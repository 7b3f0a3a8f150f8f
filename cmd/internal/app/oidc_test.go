package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/authn/oidctest"
	"github.com/omsonline/oms/cmd/internal/config"
)

// startOIDCApp runs a whole omsd on embedded stores whose callers
// authenticate through iss, found by discovery.
func startOIDCApp(t *testing.T, iss *oidctest.Issuer, logs *capture) (*app.App, config.Config) {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ESDBListen = "127.0.0.1:0"
	cfg.OIDCIssuer = iss.URL
	a, err := app.Start(context.Background(), cfg, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return a, cfg
}

// TestOIDCEndToEnd: with OMS_OIDC_ISSUER set, the issuer's tokens reach
// the API with the role they carry, dev tokens and the phone sign-in are
// gone, and a browser session starts from an issuer's token.
func TestOIDCEndToEnd(t *testing.T) {
	iss := oidctest.New(t)
	logs := newCapture()
	a, cfg := startOIDCApp(t, iss, logs)

	code, body := call(t, a, "GET", "/api/v1/cabinet", iss.Token(t, "rsa-1", "citizen-1", "applicant"), "")
	if code != 200 || !strings.Contains(string(body), `"applications":[]`) {
		t.Fatalf("OIDC applicant token: %d %s", code, body)
	}
	if code, body := call(t, a, "GET", "/api/v1/reviewer/queue", iss.Token(t, "ec-1", "staff-1", "reviewer"), ""); code != 200 {
		t.Fatalf("OIDC reviewer token (EC key): %d %s", code, body)
	}
	if code, _ := call(t, a, "GET", "/api/v1/cabinet", iss.Token(t, "ec-1", "staff-1", "reviewer"), ""); code != 403 {
		t.Fatalf("reviewer at the cabinet: %d", code)
	}
	code, body = call(t, a, "GET", "/api/v1/cabinet", token(t, cfg, "applicant", "citizen-1"), "")
	if code != 401 || !strings.Contains(string(body), "Dev tokens") {
		t.Fatalf("dev token: %d %s", code, body)
	}
	code, body = call(t, a, "GET", "/api/v1/cabinet", iss.Sign(t, "rsa-1", iss.Claims("x", []string{"applicant", "admin"})), "")
	if code != 403 || !strings.Contains(string(body), "ambiguous_role") {
		t.Fatalf("ambiguous roles: %d %s", code, body)
	}
	other := iss.Claims("citizen-1", []string{"applicant"})
	other["aud"] = "someone-else"
	if code, _ := call(t, a, "GET", "/api/v1/cabinet", iss.Sign(t, "rsa-1", other), ""); code != 401 {
		t.Fatalf("wrong audience: %d", code)
	}

	// The phone + one-time code sign-in is not there.
	form := url.Values{"phone": {"+79161234567"}, "role": {"applicant"}}.Encode()
	for _, path := range []string{"/signin/code", "/signin/verify"} {
		resp, err := httpClient.Post("http://"+a.HTTPAddr()+path, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("dev sign-in POST %s: %d", path, resp.StatusCode)
		}
	}
	code, body = call(t, a, "GET", "/signin", "", "")
	if code != 200 || !strings.Contains(string(body), iss.URL) || strings.Contains(string(body), `action="/signin/code"`) {
		t.Fatalf("sign-in page: %d, want a link to the issuer and no phone form", code)
	}

	// A session from an issuer's token, then a page by cookie: the page
	// calls the API in-process with the session.
	req, _ := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/signin/verify", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Token(t, "rsa-1", "citizen-1", "applicant"))
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == authn.SessionCookie {
			session = c
		}
	}
	if resp.StatusCode != 204 || session == nil || !session.HttpOnly {
		t.Fatalf("session start: %d %+v", resp.StatusCode, session)
	}
	req, _ = http.NewRequest("GET", "http://"+a.HTTPAddr()+"/cabinet", nil)
	req.AddCookie(session)
	resp, err = httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cabinet page by session: %d %s", resp.StatusCode, page)
	}

	out := logs.all()
	if !strings.Contains(out, "OIDC authentication on") || !strings.Contains(out, "issuer="+iss.URL) || !strings.Contains(out, "keys="+iss.JWKSURL()) {
		t.Errorf("no start-up line naming the issuer and its key set:\n%s", out)
	}
	if strings.Contains(out, "DEV AUTHENTICATION") || strings.Contains(out, "dev-mode sign-in is on") {
		t.Errorf("dev mode announced with an issuer configured:\n%s", out)
	}
}

// Without an issuer omsd says at WARN that dev authentication is on.
func TestDevModeWarnsAtStart(t *testing.T) {
	logs := newCapture()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ESDBListen = "127.0.0.1:0"
	a, err := app.Start(context.Background(), cfg, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	var warned bool
	for _, line := range strings.Split(logs.all(), "\n") {
		if strings.HasPrefix(line, "WARN DEV AUTHENTICATION IS ON") && strings.Contains(line, "never use this in production") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no WARN about dev authentication:\n%s", logs.all())
	}
}

// A deployment that names an issuer but cannot reach it does not start
// in dev mode instead.
func TestOIDCUnreachableIssuerStopsStart(t *testing.T) {
	iss := oidctest.New(t)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ESDBListen = "127.0.0.1:0"
	cfg.OIDCIssuer = iss.URL + "/no-such-realm"
	a, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		a.Close()
		t.Fatal("omsd started although discovery failed")
	}
	if !strings.Contains(err.Error(), "discovery") {
		t.Fatalf("error does not say what failed: %v", err)
	}
}

// In production there is no phone book (the dev sign-in's): the operator's
// picker asks for the applicant's id, and a phone typed there is refused
// in words, not taken for an id that has no code.
func TestOperatorPickerInProductionTakesIDsOnly(t *testing.T) {
	iss := oidctest.New(t)
	a, cfg := startOIDCApp(t, iss, newCapture())
	c := newClient(t, a, cfg)
	op := c.session("operator", "op-prod")
	page := c.must(req{method: "GET", path: "/operator", session: op}, 200, nil)
	if !strings.Contains(page.body, "Идентификатор заявителя</label>") || strings.Contains(page.body, "Телефон или идентификатор") {
		t.Errorf("the production picker's label: %.2000s", page.body)
	}
	res := c.do(req{method: "POST", path: "/operator", session: op, form: url.Values{"who": {"+7 916 123-45-67"}, "code": {"123456"}}})
	if res.status != 422 || !strings.Contains(res.body, "Телефон здесь не подходит") {
		t.Errorf("a phone in production: %d %.2000s", res.status, res.body)
	}
}
