package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/projections/email"
	"github.com/omsonline/oms/projections/policies"
	"github.com/omsonline/oms/projections/runner"
	queryapi "github.com/omsonline/oms/query/httpapi"
	"github.com/omsonline/oms/query/policypdf"
	"github.com/omsonline/oms/query/web"
)

// webProjections are the read models the people's pages need beyond the
// cabinet, queue and history.
func webProjections(cfg config.Config) []runner.Projection {
	return []runner.Projection{policies.Projection{}}
}

// registerWeb mounts the pages, the sign-in flow and the policy PDF, and
// starts the e-mail sender when OMS_SMTP_URL is set.
func registerWeb(a *App, v *authn.Verifier) error {
	policypdf.Register(a.http, policypdf.Deps{
		Store: a.store, After: queryapi.ReadAfter{Waiter: a.leader, Events: a.events, Logger: a.log}, Issuer: a.cfg.PolicyIssuer, PublicURL: publicURL(a.cfg), VerifyKey: a.keys.Secret("policy-verify-code"),
	})
	// With an OIDC issuer, SignIn stays nil: the phone + code posts answer
	// 404 and the sign-in page sends people to the issuer. A front end
	// holding their token starts a session by POSTing it as a bearer token
	// to /signin/verify, ahead of the page's own handler there.
	var signIn web.SignIn
	if v.OIDC() {
		a.http.Post("/signin/verify", v.SessionFromBearer())
	} else {
		key, err := authn.DevKey(a.cfg.DevKeyDir)
		if err != nil {
			return err
		}
		a.log.Warn("dev-mode sign-in is on: one-time codes are printed in this log instead of being sent by SMS")
		signIn = devSignIn{authn.NewDevSignIn(key, a.log)}
	}
	api := &inProcessAPI{}
	err := web.Register(a.http, web.Deps{
		API:       api,
		Auth:      sessions{v: v, log: a.log},
		SignIn:    signIn,
		IssuerURL: a.cfg.OIDCIssuer,
		Store:     a.store,
		VerifyKey: a.keys.Secret("policy-verify-code"),
		Logger:    a.log,
		// The same limit as the upload's, said before the upload.
		MaxUploadBytes: document.MaxSize,
	})
	if err != nil {
		return err
	}
	// The handler is the app's own dispatch function: it routes through
	// whatever tree the app has when a request arrives, so taking it now,
	// before the server starts, is safe even if routes are added later.
	api.h = a.http.Handler()
	if a.cfg.SMTPURL != "" {
		if err := startMailer(a); err != nil {
			return err
		}
	}
	return nil
}

func startMailer(a *App) error {
	smtp, err := email.ParseURL(a.cfg.SMTPURL)
	if err != nil {
		return err
	}
	// The same base as the extract's link, OMS_PUBLIC_URL's documented
	// default included: read raw, the letters of a node without it had
	// no link at all while telling people to answer in the cabinet
	// (decisions QA).
	if a.cfg.PublicURL == "" {
		a.log.Warn("e-mail links point at the HTTP listen address: set OMS_PUBLIC_URL to the address people reach", "url", publicURL(a.cfg))
	}
	cabinetURL := publicURL(a.cfg) + "/cabinet"
	m, err := email.New(email.Options{
		Events: a.events, Store: a.store, Waiter: a.leader, Sender: smtp,
		From: a.cfg.SMTPFrom, CabinetURL: cabinetURL, Logger: a.log,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if err := m.Run(ctx); err != nil {
			a.log.Error("e-mail sender stopped", "err", err)
		}
	}()
	// App.Close shuts HTTP down first and then the stores; the shutdown
	// hook runs in between, so a delivery in flight still has its stores.
	a.http.Hooks().OnShutdown(func() error {
		defer cancel()
		return m.Close()
	})
	a.log.Info("e-mail notifications on", "smtp", smtp.Addr())
	return nil
}

// sessions adapts authn's browser sessions to the pages.
type sessions struct {
	v   *authn.Verifier
	log *slog.Logger
}

func (s sessions) Session(c *fiber.Ctx) (web.Session, bool) {
	se, ok := s.v.Session(c)
	if !ok {
		return web.Session{}, false
	}
	return web.Session{ActorID: se.Actor.ID, Role: se.Actor.Role, Token: se.Token, CSRF: se.CSRF}, true
}
func (s sessions) FormToken(c *fiber.Ctx) string { return s.v.FormToken(c) }
func (s sessions) CheckForm(c *fiber.Ctx) bool   { return s.v.CheckForm(c) }
func (s sessions) SetSession(c *fiber.Ctx, token, csrf string) {
	authn.SetSession(c, token, csrf, authn.SessionTTL)
}

// ClearSession signs the browser out: the session token is withdrawn on
// every node, not only dropped from this browser, where a copy of it
// (a shared computer, a proxy's log) kept working until its expiry.
func (s sessions) ClearSession(c *fiber.Ctx) {
	if err := s.v.EndSession(c.UserContext(), c.Cookies(authn.SessionCookie)); err != nil {
		s.log.Error("a sign-out holds on this node only", "err", err)
	}
	authn.ClearSession(c)
}

// devSignIn adapts authn's dev sign-in, turning its refusals into the
// page's messages.
type devSignIn struct{ d *authn.DevSignIn }

func signinError(err error) error {
	switch {
	case errors.Is(err, authn.ErrBadPhone):
		return web.SignInError("signin.err.phone")
	case errors.Is(err, authn.ErrBadRole):
		return web.SignInError("signin.err.role")
	case errors.Is(err, authn.ErrNoCode):
		return web.SignInError("signin.err.noCode")
	case errors.Is(err, authn.ErrWrongCode):
		return web.SignInError("signin.err.wrongCode")
	case errors.Is(err, authn.ErrTooManyAttempts):
		return web.SignInError("signin.err.tooMany")
	}
	return err
}

func (d devSignIn) Start(phone, role string) error { return signinError(d.d.Start(phone, role)) }
func (d devSignIn) Verify(phone, role, code string) (string, string, error) {
	_, token, csrf, err := d.d.Verify(phone, role, code)
	return token, csrf, signinError(err)
}
func (d devSignIn) Subject(phone string) (string, bool) {
	p, ok := authn.NormalizePhone(phone)
	if !ok {
		return "", false
	}
	return authn.DevSubject("applicant", p), true
}

// inProcessAPI lets the pages call the HTTP API without a network hop:
// the request goes through the very same Fiber stack (authentication,
// routes, error handler) as one from outside, so a page can never see more
// than its caller could over HTTP.
type inProcessAPI struct {
	h fasthttp.RequestHandler
}

var loopback = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

func (p *inProcessAPI) Do(ctx context.Context, r web.APIRequest) (web.APIResponse, error) {
	if p.h == nil {
		return web.APIResponse{}, errors.New("app: the API is not ready")
	}
	var req fasthttp.Request
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.Path)
	if r.Token != "" {
		req.Header.Set(fiber.HeaderAuthorization, "Bearer "+r.Token)
	}
	if r.OnBehalfOf != "" {
		req.Header.Set("X-On-Behalf-Of", r.OnBehalfOf)
	}
	if r.Body != nil {
		req.Header.SetContentType(fiber.MIMEApplicationJSON)
		req.SetBody(r.Body)
	}
	var rc fasthttp.RequestCtx
	rc.Init(&req, loopback, nil)
	rc.SetUserValue(inProcessKey{}, true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.h(&rc)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return web.APIResponse{}, fmt.Errorf("app: in-process %s %s: %w", r.Method, r.Path, ctx.Err())
	case <-time.After(30 * time.Second):
		return web.APIResponse{}, fmt.Errorf("app: in-process %s %s timed out", r.Method, r.Path)
	}
	return web.APIResponse{Status: rc.Response.StatusCode(), Body: append([]byte(nil), rc.Response.Body()...)}, nil
}

// publicURL is OMS_PUBLIC_URL, or without it the address omsd listens on
// (what a developer's browser reaches): links the service prints never
// come from a request's Host header, which the client chooses.
func publicURL(cfg config.Config) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return "http://" + cfg.HTTPAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
