package app

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/authz"
	"github.com/omsonline/oms/cmd/internal/metrics"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/query/web"
)

// apiCSP is the policy of everything that is not a page (JSON, the policy
// PDF, scans, metrics): such a response never loads anything, so if a
// browser is tricked into rendering one as a document, nothing in it runs.
// Pages replace it with their own (query/web).
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// useEdgeGuards goes in front of every route: security headers on every
// response and the per-IP rate limit. It returns its answer to a request
// over a limit, for the other limits.
func useEdgeGuards(a *App) (fiber.Handler, error) {
	page, err := web.TooManyRequests()
	if err != nil {
		return nil, err
	}
	over := limited(page)
	a.http.Use(securityHeaders)
	if a.cfg.RateLimitIP > 0 {
		a.http.Use(limiter.New(limiter.Config{
			Max: a.cfg.RateLimitIP, Expiration: a.cfg.RateLimitWindow,
			Next:         inProcess,
			KeyGenerator: func(c *fiber.Ctx) string { return "ip:" + c.IP() },
			LimitReached: over,
		}))
	}
	if a.cfg.RateLimitSignIn > 0 {
		// Each post may send an SMS (or, in dev mode, a log line); a
		// one-time code has its own attempt limit, this one bounds the
		// codes.
		a.http.Use("/signin", limiter.New(limiter.Config{
			Max: a.cfg.RateLimitSignIn, Expiration: time.Minute,
			Next:         func(c *fiber.Ctx) bool { return c.Method() != fiber.MethodPost },
			KeyGenerator: func(c *fiber.Ctx) string { return "signin:" + c.IP() },
			LimitReached: over,
		}))
	}
	return over, nil
}

// securityHeaders are set before the handler runs so that refusals and
// errors carry them too; handlers that know better (pages, static assets,
// downloads) overwrite them.
func securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", apiCSP)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	if c.Secure() {
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
	}
	if strings.HasPrefix(c.Path(), "/api/") {
		// Answers of the API are about people; no cache keeps them.
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

// inProcessKey marks the requests the pages make to the API in-process
// (inProcessAPI): the page request that caused them was already counted,
// and they all come from loopback. A user value cannot be set from outside.
type inProcessKey struct{}

func inProcess(c *fiber.Ctx) bool {
	v, _ := c.Context().UserValue(inProcessKey{}).(bool)
	return v
}

// limited answers a request over a rate limit: a person at a page (a
// sign-in form sent once too often) gets page, in their language, anyone
// else the problem document. Neither does any work a flood could multiply.
func limited(page fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if wantsPage(c) {
			return page(c)
		}
		return tooManyRequests(c)
	}
}

// wantsPage says whether a request is a person's at the pages rather than
// a client's of the API or of the operational endpoints.
func wantsPage(c *fiber.Ctx) bool {
	p := strings.ToLower(c.Path())
	if strings.HasPrefix(p, "/api/") || slices.Contains([]string{"/metrics", "/healthz", "/readyz"}, p) {
		return false
	}
	return c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead ||
		c.Accepts(fiber.MIMEApplicationJSON, fiber.MIMETextHTML) == fiber.MIMETextHTML
}

func tooManyRequests(c *fiber.Ctx) error {
	// The limiter has set Retry-After.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusTooManyRequests).JSON(fiber.Map{
		"type": "urn:oms:problem:rate_limited", "title": "Слишком много запросов / Too many requests",
		"status": fiber.StatusTooManyRequests, "code": "rate_limited",
		"detail": fiber.Map{
			"ru": "Слишком много запросов. Повторите через " + c.GetRespHeader(fiber.HeaderRetryAfter, "1") + " с.",
			"en": "Too many requests. Retry in " + c.GetRespHeader(fiber.HeaderRetryAfter, "1") + " s.",
		},
	}, "application/problem+json")
}

type callerKey struct{}

type caller struct{ role, subject string }

// callerOf is who makes a request: the API's authenticated caller, or the
// browser session of a page, or nobody. It is worked out once per request.
func callerOf(v *authn.Verifier) func(c *fiber.Ctx) (string, string) {
	return func(c *fiber.Ctx) (string, string) {
		if k, ok := c.Locals(callerKey{}).(caller); ok {
			return k.role, k.subject
		}
		k := caller{role: authz.Anonymous}
		if md, ok := events.MetadataFrom(c.UserContext()); ok && md.Actor.ID != "" {
			k = caller{role: md.Actor.Role, subject: md.Actor.ID}
		} else if s, ok := v.Session(c); ok {
			k = caller{role: s.Actor.Role, subject: s.Actor.ID}
		}
		c.Locals(callerKey{}, k)
		return k.role, k.subject
	}
}

// perSubject limits the requests of one signed-in caller (role and
// subject) to limit per window, counted under name; requests that skip
// picks, and anonymous ones, are not counted.
func perSubject(who func(*fiber.Ctx) (string, string), name string, limit int, window time.Duration, over fiber.Handler, skip func(*fiber.Ctx) bool) fiber.Handler {
	return limiter.New(limiter.Config{
		Max: limit, Expiration: window,
		Next: func(c *fiber.Ctx) bool {
			if skip(c) {
				return true
			}
			_, subject := who(c)
			return subject == ""
		},
		KeyGenerator: func(c *fiber.Ctx) string {
			role, subject := who(c)
			return name + ":" + role + ":" + subject
		},
		LimitReached: over,
	})
}

// uploader is who an upload is counted against: the applicant, or an МФЦ
// operator for each applicant they upload for. Counted per operator alone,
// the hour's budget of one person's scans ran out after some 33 people
// served (visits QA). An operator can name only an applicant who opened a
// visit with them (the authorization matrix refuses any other before the
// upload is read), so the budgets stay bounded by the visits.
func uploader(who func(*fiber.Ctx) (string, string)) func(*fiber.Ctx) (string, string) {
	return func(c *fiber.Ctx) (string, string) {
		role, subject := who(c)
		if role != events.RoleOperator || subject == "" {
			return role, subject
		}
		applicant := c.Get(authz.HeaderOnBehalfOf)
		if applicant == "" {
			applicant = c.Query("applicant")
		}
		return role, subject + "\x00" + applicant
	}
}

// useAuthz goes after authentication and before every route: the
// per-subject rate limit, then the authorization matrix.
func useAuthz(a *App, v *authn.Verifier, over fiber.Handler) error {
	who := callerOf(v)
	if a.cfg.RateLimitSubject > 0 {
		a.http.Use(perSubject(who, "subject", a.cfg.RateLimitSubject, a.cfg.RateLimitWindow, over, inProcess))
	}
	if a.cfg.RateLimitUploads > 0 {
		notUpload := func(c *fiber.Ctx) bool {
			return c.Method() != fiber.MethodPost || !strings.EqualFold(strings.TrimSuffix(c.Path(), "/"), "/api/v1/documents")
		}
		a.http.Use(perSubject(uploader(who), "uploads", a.cfg.RateLimitUploads, time.Hour, over, notUpload))
	}
	page, err := pageRefusals(a, v)
	if err != nil {
		return err
	}
	a.http.Use(authz.Middleware(authz.Options{
		Role: who, Visits: a.visits,
		Refuse: func(c *fiber.Ctx, r authz.Refusal) error {
			c.Locals(metrics.RouteKey{}, r.Route.Path)
			if strings.HasPrefix(strings.ToLower(c.Path()), "/api/") {
				return authz.Problem(c, r)
			}
			return page(c, r)
		},
		NotFound: func(c *fiber.Ctx) error {
			// A person who followed a stale link or mistyped an address
			// gets the pages' 404 page in their language; an API client,
			// or anything not preferring HTML, the problem document.
			m := c.Method()
			if (m == fiber.MethodGet || m == fiber.MethodHead) && !strings.HasPrefix(strings.ToLower(c.Path()), "/api/") &&
				c.Accepts(fiber.MIMEApplicationJSON, fiber.MIMETextHTML) == fiber.MIMETextHTML {
				return page(c, authz.Refusal{Status: fiber.StatusNotFound})
			}
			return fiber.ErrNotFound
		},
	}))
	return nil
}

// pageRefusals answers refusals of pages as the pages themselves would: a
// person who is not signed in is sent to sign in and back, an МФЦ operator
// who has not picked an applicant is sent to pick one, and one without a
// visit with the applicant to open it with the applicant's code; anyone
// else sees
// the error page. One who named an applicant wrongly is sent to the picker
// with what they named, which says what is wrong with it.
func pageRefusals(a *App, v *authn.Verifier) (func(*fiber.Ctx, authz.Refusal) error, error) {
	render, err := web.Refusals(web.Deps{Auth: sessions{v: v, log: a.log}, Store: a.store, Logger: a.log})
	if err != nil {
		return nil, err
	}
	return func(c *fiber.Ctx, r authz.Refusal) error {
		switch {
		case r.Status == fiber.StatusUnauthorized && c.Method() == fiber.MethodGet:
			return c.Redirect("/signin?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
		case r.Code == "on_behalf_invalid" && c.Method() == fiber.MethodGet:
			// The picker says what an applicant's id looks like, and
			// takes a mistyped one that only needs trimming.
			return c.Redirect("/operator?who="+url.QueryEscape(c.Query("applicant")), fiber.StatusSeeOther)
		case r.Code == "visit_required" && (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead):
			// The picker opens the visit: the id is filled in, the code
			// is asked for, and then the operator is back on this page.
			return c.Redirect("/operator?"+url.Values{"visit": {"required"}, "who": {c.Query("applicant")}, "next": {c.OriginalURL()}}.Encode(), fiber.StatusSeeOther)
		case strings.HasPrefix(r.Code, "on_behalf_") && r.Code != "on_behalf_of_self" && c.Method() == fiber.MethodGet:
			return c.Redirect("/operator", fiber.StatusSeeOther)
		}
		return render(c, r.Status)
	}, nil
}
