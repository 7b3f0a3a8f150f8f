package authn

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/events"
)

// Browser sessions. The session is the same signed JWT a bearer client
// sends, kept in an httpOnly cookie so page scripts cannot read it. Because
// a browser attaches cookies to cross-site requests too, every
// state-changing request authenticated by the cookie must also carry the
// session's CSRF token in a header (or, for plain HTML forms, a form field).
// The token is a claim inside the signed session, not merely a second
// cookie, so an attacker who can plant cookies (a sibling subdomain) still
// cannot make a pair that verifies. A copy sits in a readable cookie for the
// page scripts; SameSite=Lax on both is the second line of defence.
const (
	SessionCookie = "oms_session"
	CSRFCookie    = "oms_csrf"
	CSRFHeader    = "X-CSRF-Token"
	CSRFField     = "_csrf"
	// SessionTTL is how long a browser session lasts without signing in
	// again: a working day for staff, long enough to fill in the form.
	SessionTTL = 8 * time.Hour
)

// Session is a verified browser session.
type Session struct {
	Actor events.Actor
	// Token is the session JWT; pages forward it as a bearer token when
	// they call the API in-process.
	Token string
	CSRF  string
}

// newToken returns 32 random bytes, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// IssueSession signs a browser-session token with a fresh CSRF token.
func IssueSession(key ed25519.PrivateKey, subject, role string, ttl time.Duration) (token, csrf string, err error) {
	csrf = newToken()
	token, err = issue(key, subject, role, csrf, ttl)
	return token, csrf, err
}

// SafeMethod reports whether an HTTP method only reads.
func SafeMethod(m string) bool {
	switch m {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return true
	}
	return false
}

func csrfMatches(want, got string) bool {
	return want != "" && len(got) == len(want) && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

func csrfRefused(c *fiber.Ctx) error {
	return forbidden(c, "csrf",
		"Запрос отклонён: нет защитного токена страницы. Обновите страницу и повторите.",
		"Request refused: the page's security token is missing. Reload the page and try again.")
}

func cookie(c *fiber.Ctx, name, value string, httpOnly bool, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires, HTTPOnly: httpOnly,
		// Secure when the request itself came over TLS (directly or, with a
		// trusted proxy configured, by X-Forwarded-Proto): a plain-HTTP dev
		// server must still be usable.
		Secure: c.Secure(), SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// SetSession puts a signed-in session into the browser.
func SetSession(c *fiber.Ctx, token, csrf string, ttl time.Duration) {
	exp := time.Now().Add(ttl)
	cookie(c, SessionCookie, token, true, exp)
	cookie(c, CSRFCookie, csrf, false, exp)
}

// ClearSession signs the browser out.
func ClearSession(c *fiber.Ctx) {
	past := time.Unix(0, 0)
	cookie(c, SessionCookie, "", true, past)
	cookie(c, CSRFCookie, "", false, past)
}

// Session returns the verified session of a page request, if any.
func (v *Verifier) Session(c *fiber.Ctx) (Session, bool) {
	raw := c.Cookies(SessionCookie)
	if raw == "" {
		return Session{}, false
	}
	e, err := v.own(raw)
	if err != nil {
		return Session{}, false
	}
	return Session{Actor: e.actor, Token: raw, CSRF: e.csrf}, true
}

// FormToken is the CSRF token for a page's plain HTML forms: the session's
// when signed in; otherwise a pre-session token kept in the readable cookie
// (a double submit), so that the sign-in form itself cannot be posted from
// another site to sign a victim into the attacker's account.
func (v *Verifier) FormToken(c *fiber.Ctx) string {
	if s, ok := v.Session(c); ok && s.CSRF != "" {
		return s.CSRF
	}
	if t := c.Cookies(CSRFCookie); len(t) == 43 {
		return t
	}
	t := newToken()
	cookie(c, CSRFCookie, t, false, time.Now().Add(time.Hour))
	return t
}

// CheckForm reports whether a posted HTML form carries the token FormToken
// gave it.
func (v *Verifier) CheckForm(c *fiber.Ctx) bool {
	got := c.FormValue(CSRFField)
	if s, ok := v.Session(c); ok {
		return csrfMatches(s.CSRF, got)
	}
	return csrfMatches(c.Cookies(CSRFCookie), got)
}

// SessionFromBearer starts a browser session from an OIDC token, for a
// deployment with an issuer: the page (or a front end that did the OIDC
// sign-in) POSTs with "Authorization: Bearer <ID or access token>", and
// omsd answers 204 with its own session cookies, signed by its own key and
// lasting SessionTTL whatever the token's lifetime. The session carries the
// role the token mapped to; a token that fails is refused like one at the
// API (401, or 403 without a single role).
//
// The token must come in the Authorization header: a cross-site form
// cannot set that header, so no other site can sign a browser into an
// account of its choosing, and the request needs no CSRF token. Only the
// issuer's tokens start a session, never a session token itself, so a
// session cannot be stretched past SessionTTL without the issuer.
//
// A request without a bearer token, and any request in dev mode, goes on to
// the next handler (the sign-in page's own).
func (v *Verifier) SessionFromBearer() fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, ok := BearerToken(c.Get(fiber.HeaderAuthorization))
		if !ok || v.oidc == nil {
			return c.Next()
		}
		actor, err := v.oidc.verify(strings.TrimSpace(token))
		if err != nil {
			return refuseToken(c, err)
		}
		session, csrf, err := IssueSession(v.key, actor.ID, actor.Role, SessionTTL)
		if err != nil {
			return fmt.Errorf("authn: start session: %w", err)
		}
		SetSession(c, session, csrf, SessionTTL)
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendStatus(fiber.StatusNoContent)
	}
}
