// Package web is the people's side of «ОМС онлайн»: server-rendered pages
// for applicants (the cabinet and the application form), МФЦ operators
// acting for them, reviewers (the queue and the application view) and
// auditors (the timeline with time travel), plus the sign-in pages.
//
// Pages read only through the query API and act only through the command
// API: the server renders a page from the same JSON an API client gets (the
// handlers call the API in-process with the caller's own session, so
// authorization is decided in one place), and the page's script sends
// commands to the command API with the session cookie and its CSRF token.
// Templates are html/template, so every value is escaped for its context;
// all texts come from the message catalogs in i18n/.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/projections/readstore"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed i18n/*.json
var catalogFS embed.FS

// Session is a signed-in browser.
type Session struct {
	ActorID string
	Role    string
	// Token is forwarded to the API as a bearer token for in-process reads.
	Token string
	CSRF  string
}

// Auth is the session mechanism the pages rely on (cmd/internal/authn).
type Auth interface {
	Session(c *fiber.Ctx) (Session, bool)
	// FormToken is the CSRF token for plain HTML forms; CheckForm checks a
	// posted one.
	FormToken(c *fiber.Ctx) string
	CheckForm(c *fiber.Ctx) bool
	SetSession(c *fiber.Ctx, token, csrf string)
	ClearSession(c *fiber.Ctx)
}

// SignIn is the dev-mode phone + one-time-code sign-in. Production leaves it
// nil and signs in at the configured issuer instead.
type SignIn interface {
	// Start sends (in dev mode: logs) a one-time code.
	Start(phone, role string) error
	// Verify checks the code and returns a session token and its CSRF token.
	Verify(phone, role, code string) (token, csrf string, err error)
	// Subject maps an applicant's phone number to their subject id, so an
	// МФЦ operator can open the cabinet of the person in front of them.
	Subject(phone string) (string, bool)
}

// SignInError is a refusal to show on the sign-in page; its value is the
// catalog key of the message.
type SignInError string

func (e SignInError) Error() string { return string(e) }

// APIRequest is one call of the HTTP API.
type APIRequest struct {
	Method, Path string
	// Token authenticates as the page's own caller.
	Token      string
	OnBehalfOf string
	Body       []byte
}

// APIResponse is the API's answer.
type APIResponse struct {
	Status int
	Body   []byte
}

// API is the HTTP API as the pages call it.
type API interface {
	Do(ctx context.Context, r APIRequest) (APIResponse, error)
}

// Deps are what the pages need.
type Deps struct {
	API  API
	Auth Auth
	// SignIn is nil outside dev mode.
	SignIn SignIn
	// IssuerURL is where production sign-in happens (shown when SignIn is
	// nil).
	IssuerURL string
	// Store is read only by the public policy check, which has no caller
	// to call the API as.
	Store readstore.Store
	// VerifyKey checks the policy documents' codes (policypdf.VerifyCode)
	// on the public check.
	VerifyKey []byte
	Logger    *slog.Logger
	Now       func() time.Time
	// RenewalWindowDays is how long before expiry renewal is offered.
	RenewalWindowDays int
	// MaxUploadBytes is the largest scan the command side takes; the page
	// script refuses a larger file before sending it (default 10 MiB).
	MaxUploadBytes int64
}

// Register mounts the pages and their static assets.
func Register(app *fiber.App, d Deps) error {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.RenewalWindowDays <= 0 {
		d.RenewalWindowDays = 30
	}
	if d.MaxUploadBytes <= 0 {
		d.MaxUploadBytes = 10 << 20
	}
	r, err := newRenderer()
	if err != nil {
		return err
	}
	h := &handlers{d: d, r: r}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return err
	}
	app.Get("/static/*", h.static(static))

	pages := app.Group("", h.headers, h.language)
	pages.Get("/", h.home)
	pages.Get("/signin", h.signinPage)
	pages.Post("/signin/code", h.signinCode)
	pages.Post("/signin/verify", h.signinVerify)
	// A sign-in step opened by its address (an old language link, a
	// bookmark) starts the sign-in again rather than answer 405.
	for _, step := range []string{"/signin/code", "/signin/verify"} {
		pages.Get(step, func(c *fiber.Ctx) error {
			to := "/signin"
			if q := c.Request().URI().QueryString(); len(q) > 0 {
				to += "?" + string(q)
			}
			return c.Redirect(to, fiber.StatusSeeOther)
		})
	}
	pages.Post("/signout", h.signout)
	pages.Post("/nojs", h.noScript)
	pages.Get("/verify/:enp", h.verifyPolicy)
	pages.Get("/consent", h.consentText)

	pages.Get("/cabinet", h.need(roleApplicant, roleOperator), h.cabinet)
	pages.Get("/cabinet/new", h.need(roleApplicant, roleOperator), h.newApplication)
	pages.Get("/cabinet/applications/:id", h.need(roleApplicant, roleOperator), h.applicantApplication)
	pages.Get("/operator", h.need(roleOperator), h.operatorHome)
	pages.Post("/operator", h.need(roleOperator), h.operatorOpen)
	pages.Post("/operator/end", h.need(roleOperator), h.operatorEnd)
	pages.Post("/cabinet/visit-code", h.need(roleApplicant), h.visitCode)
	pages.Post("/cabinet/visits/close", h.need(roleApplicant), h.visitsClose)
	pages.Get("/reviewer", h.need(roleReviewer, roleAdmin), h.queue)
	pages.Get("/reviewer/applications/:id", h.need(roleReviewer, roleAdmin), h.reviewerApplication)
	pages.Get("/auditor", h.need(roleAuditor, roleAdmin), h.auditorHome)
	pages.Get("/auditor/applications/:id", h.need(roleAuditor, roleAdmin), h.timeline)
	pages.Get("/auditor/applications/:id/state", h.need(roleAuditor, roleAdmin), h.stateFragment)
	pages.Get("/auditor/applicants/:id/access", h.need(roleAuditor, roleAdmin), h.personAccess)
	return nil
}

const (
	roleApplicant = "applicant"
	roleReviewer  = "reviewer"
	roleAuditor   = "auditor"
	roleOperator  = "operator"
	roleAdmin     = "admin"
)

type handlers struct {
	d Deps
	r *renderer
}

// csp allows only the service's own scripts, styles and images: no inline
// script runs, so text a user typed can never become code on a page.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// headers are the security headers of every page. Pages show personal
// data, so no cache keeps them.
func (h *handlers) headers(c *fiber.Ctx) error {
	setPageHeaders(c)
	return c.Next()
}

func setPageHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", csp)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
}

// TooManyRequests answers a person at the pages who is over a rate limit
// (the limiter has set Retry-After). The page is built once per language
// here, so that a refusal does no work a flood could multiply: no session
// check, no form parsing, no template; only the language cookie is read.
func TooManyRequests() (fiber.Handler, error) {
	r, err := newRenderer()
	if err != nil {
		return nil, err
	}
	// The seconds go where this stands, at each refusal.
	const marker = "OMS-RETRY-SECONDS"
	halves := map[string][2][]byte{}
	for code, l := range r.langs {
		other := r.langs["en"]
		if code == "en" {
			other = r.langs["ru"]
		}
		// Built for everyone, the page does not know whose drafts the tab
		// holds: the script must keep them all (see app.js).
		p := &Page{L: l, Other: other, SwitchTo: "/?lang=" + other.Code, Title: "error.title", Version: r.version, DraftOwner: draftUnknown,
			Data: ErrorData{Status: fiber.StatusTooManyRequests, Message: l.T("error.tooMany", marker)}}
		var b bytes.Buffer
		if err := r.pages["error"].ExecuteTemplate(&b, "layout", p); err != nil {
			return nil, fmt.Errorf("web: render the rate limit page: %w", err)
		}
		before, after, ok := bytes.Cut(b.Bytes(), []byte(marker))
		if !ok {
			return nil, errors.New("web: the rate limit page lost its seconds")
		}
		halves[code] = [2][]byte{before, after}
	}
	return func(c *fiber.Ctx) error {
		setPageHeaders(c)
		h := halves["ru"]
		if c.Cookies(langCookie) == "en" {
			h = halves["en"]
		}
		secs := c.GetRespHeader(fiber.HeaderRetryAfter, "1")
		if _, err := strconv.Atoi(secs); err != nil {
			secs = "1"
		}
		body := make([]byte, 0, len(h[0])+len(secs)+len(h[1]))
		body = append(append(append(body, h[0]...), secs...), h[1]...)
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Status(fiber.StatusTooManyRequests).Send(body)
	}, nil
}

// Refusals renders refusals decided in front of the pages (omsd's
// authorization middleware runs before any page handler) as the pages' own
// error page: in the reader's language, with the pages' headers, so a
// refused person sees the same page as for any other refusal.
func Refusals(d Deps) (func(c *fiber.Ctx, status int) error, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	r, err := newRenderer()
	if err != nil {
		return nil, err
	}
	h := &handlers{d: d, r: r}
	return func(c *fiber.Ctx, status int) error {
		if c.Query("lang") != "" && c.Method() == fiber.MethodGet {
			// The page's language link, followed on a refusal: the
			// pages' own switch never ran in front of it, and the link
			// changed nothing (web QA). Switched here, the address is
			// refused again, now in the chosen language.
			return h.language(c)
		}
		setPageHeaders(c)
		key := "error.generic"
		switch status {
		case fiber.StatusForbidden:
			key = "error.forbidden"
		case fiber.StatusNotFound:
			key = "error.notFound"
		}
		return h.errorPage(c, status, key)
	}, nil
}

const langCookie = "oms_lang"

// language switches on ?lang= (remembering the choice in a cookie) and
// otherwise reads the cookie; Russian is the default.
func (h *handlers) language(c *fiber.Ctx) error {
	if l := c.Query("lang"); l != "" && c.Method() == fiber.MethodGet {
		if l != "en" {
			l = "ru"
		}
		c.Cookie(&fiber.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Secure()})
		q, _ := url.ParseQuery(string(c.Request().URI().QueryString()))
		q.Del("lang")
		target := c.Path()
		if enc := q.Encode(); enc != "" {
			target += "?" + enc
		}
		return c.Redirect(safeLocal(target), fiber.StatusSeeOther)
	}
	return c.Next()
}

func (h *handlers) lang(c *fiber.Ctx) *Lang {
	switch c.Cookies(langCookie) {
	case "en":
		return h.r.langs["en"]
	case "ru":
		return h.r.langs["ru"]
	}
	// No choice made on the site yet: the browser's, Russian unless it
	// prefers English (applicants are foreigners; many browsers are set
	// to English, few to Russian).
	c.Vary(fiber.HeaderAcceptLanguage)
	if c.AcceptsLanguages("ru", "en") == "en" {
		return h.r.langs["en"]
	}
	return h.r.langs["ru"]
}

// safeLocal keeps redirects on this site: a path, never "//host" or a URL.
// Browsers drop tabs and newlines from a URL and read a backslash as a
// slash, so a slash, a tab and "/host" would leave the site too: any
// control character or backslash is refused.
func safeLocal(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') ||
		strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "/"
	}
	return p
}

type ctxSession struct{}

// need lets through a signed-in caller with one of roles; others are sent
// to sign in, or told the page is not theirs.
func (h *handlers) need(roles ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		s, ok := h.d.Auth.Session(c)
		if !ok {
			return c.Redirect("/signin?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
		}
		for _, r := range roles {
			if s.Role == r {
				c.Locals(ctxSession{}, s)
				return c.Next()
			}
		}
		return h.errorPage(c, fiber.StatusForbidden, "error.forbidden")
	}
}

func session(c *fiber.Ctx) Session {
	s, _ := c.Locals(ctxSession{}).(Session)
	return s
}

func (h *handlers) static(root fs.FS) fiber.Handler {
	return func(c *fiber.Ctx) error {
		name := strings.TrimPrefix(c.Params("*"), "/")
		b, err := fs.ReadFile(root, name)
		if err != nil || name == "" || strings.Contains(name, "..") {
			return c.Status(fiber.StatusNotFound).SendString("not found")
		}
		switch {
		case strings.HasSuffix(name, ".css"):
			c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
		case strings.HasSuffix(name, ".js"):
			c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
		case strings.HasSuffix(name, ".svg"):
			c.Set(fiber.HeaderContentType, "image/svg+xml")
		default:
			c.Set(fiber.HeaderContentType, "application/octet-stream")
		}
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		// Assets change only with the binary; an hour keeps pages fast
		// without leaving an old script behind for long after an upgrade.
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.Send(b)
	}
}
