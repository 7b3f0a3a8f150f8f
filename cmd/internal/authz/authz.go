// Package authz is omsd's authorization matrix: one table (table.go) that
// says, for every HTTP route, which of the six kinds of caller may use it
// and under which ownership rule, and the middleware that enforces it in
// front of every handler. A route missing from the table is refused, so a
// new endpoint stays closed until someone decides who may call it, and a
// test walks every registered route against every role.
//
// The middleware decides what can be decided from the request alone (the
// role, whether an МФЦ operator names the applicant they act for and has
// a visit open with them (command/visit), the body
// size); the handlers still check what needs data: that the application,
// scan or policy belongs to the applicant, and the domain refuses a reviewer
// their own case.
package authz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/command/httpapi/reqbody"
	"github.com/omsonline/oms/events"
)

// Access is what one role may do on one route.
type Access uint8

// Access levels. Every level but Deny lets the request through the
// middleware; the ownership levels say who checks the rest.
const (
	// Deny refuses: 401 to an anonymous caller, 403 to a signed-in one.
	Deny Access = iota
	// Allow lets every caller of the role through, whatever the data.
	Allow
	// Own lets an applicant act only on their own applications, scans,
	// policies and cabinet. The middleware refuses naming another
	// applicant (?applicant=); the handler answers 404 (or 403) for
	// someone else's data.
	Own
	// OnBehalf lets an МФЦ operator act only for the applicant they name in
	// X-On-Behalf-Of or ?applicant= (the same one if both are given). The
	// middleware refuses a request that names nobody; the handler checks
	// the data belongs to the named applicant, and the events record the
	// operator as acting on behalf of them.
	OnBehalf
	// NotOwnCase lets a reviewer act on any application except one in
	// which they are the applicant or which they submitted; the domain
	// refuses that with 403 own_application.
	NotOwnCase
)

func (a Access) String() string {
	switch a {
	case Deny:
		return "deny"
	case Allow:
		return "allow"
	case Own:
		return "own"
	case OnBehalf:
		return "on-behalf"
	case NotOwnCase:
		return "not-own-case"
	}
	return fmt.Sprintf("Access(%d)", a)
}

// Allowed reports whether the middleware lets the role through.
func (a Access) Allowed() bool { return a != Deny }

// Anonymous is the role of a caller without a valid credential.
const Anonymous = "anonymous"

// Roles are the callers the table has a column for, in column order.
var Roles = []string{Anonymous, events.RoleApplicant, events.RoleOperator, events.RoleReviewer, events.RoleAuditor, events.RoleAdmin}

// Route is one row of the matrix.
type Route struct {
	Method string
	// Path is in Fiber's syntax, as registered: ":name" is one segment, "*"
	// the rest of the path.
	Path string
	// MaxBody bounds the request body in bytes; 0 takes none.
	MaxBody int
	// One column per role, in the order of Roles.
	Anonymous, Applicant, Operator, Reviewer, Auditor, Admin Access
}

// Access is what role may do on the route; an unknown role is denied.
func (r Route) Access(role string) Access {
	switch role {
	case Anonymous:
		return r.Anonymous
	case events.RoleApplicant:
		return r.Applicant
	case events.RoleOperator:
		return r.Operator
	case events.RoleReviewer:
		return r.Reviewer
	case events.RoleAuditor:
		return r.Auditor
	case events.RoleAdmin:
		return r.Admin
	}
	return Deny
}

// Key is "METHOD path", how routes are compared with what Fiber registered.
func (r Route) Key() string { return r.Method + " " + r.Path }

// serviceTable is Table(), built once for ApplicationAction.
var serviceTable = sync.OnceValue(Table)

// ApplicationAction reports whether the matrix lets role give an
// application the command action ("withdraw", "renew", …; the last
// segment of its route), so that the cabinet offers a caller only what
// they may do.
func ApplicationAction(role, action string) bool {
	r, ok := Lookup(serviceTable(), fiber.MethodPost, "/api/v1/applications/x/"+action)
	return ok && r.Access(role).Allowed()
}

// Lookup finds the row of a request by its method and c.Path(). HEAD is
// answered by GET routes, as Fiber does. Matching mirrors Fiber's default
// routing on the raw path: case-insensitive, trailing slashes ignored; a
// fuzz test holds the two together.
func Lookup(table []Route, method, path string) (Route, bool) {
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	path = strings.ToLower(path)
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	if !strings.HasPrefix(path, "/") {
		return Route{}, false // Fiber routes no such path either
	}
	for _, r := range table {
		if r.Method == method && match(strings.ToLower(r.Path), path) {
			return r, true
		}
	}
	return Route{}, false
}

// allowed lists the methods the matrix has for a path.
func allowed(table []Route, path string) []string {
	var out []string
	for _, m := range []string{fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete} {
		if _, ok := Lookup(table, m, path); ok {
			out = append(out, m)
			if m == fiber.MethodGet {
				out = append(out, fiber.MethodHead) // Lookup answers HEAD as GET
			}
		}
	}
	return out
}

// match reports whether path matches a Fiber pattern made of literal
// segments, ":param" segments (one non-empty segment) and a final "*".
func match(pattern, path string) bool {
	if pattern == "/" {
		return path == "/"
	}
	for {
		if pattern == "" {
			return path == ""
		}
		if pattern == "/*" {
			return true
		}
		var pseg, sseg string
		pseg, pattern = cut(pattern)
		sseg, path = cut(path)
		switch {
		case strings.HasPrefix(pseg, ":"):
			if sseg == "" {
				return false
			}
		case pseg != sseg:
			return false
		}
	}
}

// cut splits "/a/b/c" into "a" and "/b/c".
func cut(p string) (seg, rest string) {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// Refusal is why the middleware refused a request.
type Refusal struct {
	// Status is 401, 403, 405 (a method the path does not take), 413 or
	// 503 (a visit that could not be checked).
	Status int
	// Code is machine-readable: unauthenticated, forbidden,
	// on_behalf_required, on_behalf_ambiguous, on_behalf_invalid,
	// on_behalf_of_self, visit_required, visit_check_failed (503),
	// not_owner, method_not_allowed or body_too_large.
	Code   string
	RU, EN string
	Route  Route
	Role   string
}

// Options configure the middleware.
type Options struct {
	// Table is the matrix; nil means the service's own, Table().
	Table []Route
	// Role names the caller of a request: a role of events, or Anonymous.
	Role func(c *fiber.Ctx) (role, subject string)
	// Refuse answers a refusal; nil writes a bilingual problem document.
	Refuse func(c *fiber.Ctx, r Refusal) error
	// NotFound answers a request for a path the matrix does not have; nil
	// returns fiber.ErrNotFound, which the app's error handler answers.
	NotFound func(c *fiber.Ctx) error
	// Visits says whether an operator has an open visit with the
	// applicant they name (command/visit). Nil refuses every request an
	// operator makes for an applicant: naming an id is not enough.
	Visits Visits
}

// Visits knows the МФЦ operators' open visits.
type Visits interface {
	Open(ctx context.Context, operator, applicant string) (bool, error)
}

// visitWait bounds the look-up of a visit inside a request.
const visitWait = 3 * time.Second

// ValidSubject accepts what subject ids are made of: visible ASCII,
// bounded. Anything else named as an applicant is refused before it
// reaches a handler, a log line or a query.
func ValidSubject(s string) bool { return events.ValidActorID(s) }

// HeaderOnBehalfOf names the applicant an МФЦ operator acts for.
const HeaderOnBehalfOf = "X-On-Behalf-Of"

// Middleware enforces the matrix. Put it after authentication (it reads
// the caller) and before every route it guards.
func Middleware(o Options) fiber.Handler {
	table := o.Table
	if table == nil {
		table = Table()
	}
	refuse := o.Refuse
	if refuse == nil {
		refuse = Problem
	}
	if o.Role == nil {
		o.Role = RoleFromMetadata
	}
	return func(c *fiber.Ctx) error {
		rt, ok := Lookup(table, c.Method(), c.Path())
		if !ok {
			// The path with another method: say which ones (the OpenAPI
			// document publishes them anyway), rather than "no such
			// route" for an address that exists.
			if allow := allowed(table, c.Path()); len(allow) > 0 {
				c.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
				return refuse(c, Refusal{Status: fiber.StatusMethodNotAllowed, Code: "method_not_allowed",
					RU: "Этот адрес не принимает метод " + c.Method() + "; допустимы: " + strings.Join(allow, ", ") + ".",
					EN: "This address does not take " + c.Method() + "; it takes " + strings.Join(allow, ", ") + "."})
			}
			// Not in the matrix at all: refused exactly like a route that
			// does not exist.
			if o.NotFound != nil {
				return o.NotFound(c)
			}
			return fiber.ErrNotFound
		}
		role, subject := o.Role(c)
		ref := Refusal{Route: rt, Role: role}
		var recheck func(*fiber.Ctx) (bool, error) // an operator's visit, once more
		switch rt.Access(role) {
		case Deny:
			if role == Anonymous {
				ref.Status, ref.Code = fiber.StatusUnauthorized, "unauthenticated"
				ref.RU, ref.EN = "Требуется вход в систему.", "Sign-in required."
			} else {
				ref.Status, ref.Code = fiber.StatusForbidden, "forbidden"
				ref.RU, ref.EN = "Эта операция недоступна для вашей роли.", "This operation is not available to your role."
			}
			return refuse(c, ref)
		case Own:
			if q := c.Query("applicant"); q != "" && q != subject {
				ref.Status, ref.Code = fiber.StatusForbidden, "not_owner"
				ref.RU, ref.EN = "Можно работать только со своими данными.", "You can act only on your own data."
				return refuse(c, ref)
			}
		case OnBehalf:
			named, err := onBehalfOf(c)
			if err != nil {
				ref.Status = fiber.StatusForbidden
				switch {
				case errors.Is(err, errTwoApplicants):
					ref.Code = "on_behalf_ambiguous"
					ref.RU = "Указаны разные заявители (в X-On-Behalf-Of и ?applicant= или дважды): укажите одного."
					ref.EN = "Different applicants are named (in X-On-Behalf-Of and ?applicant=, or twice): name one."
				case errors.Is(err, errBadApplicant):
					ref.Code = "on_behalf_invalid"
					ref.RU = "Идентификатор заявителя — от 1 до 128 видимых символов ASCII (латинские буквы, цифры, знаки), без пробелов и кириллицы."
					ref.EN = "An applicant's id is 1 to 128 visible ASCII characters (Latin letters, digits, signs), with no spaces or Cyrillic."
				default:
					ref.Code = "on_behalf_required"
					ref.RU = "Оператор МФЦ действует только от имени заявителя: укажите заявителя в X-On-Behalf-Of или ?applicant=."
					ref.EN = "An MFC operator acts only on behalf of an applicant: name the applicant in X-On-Behalf-Of or ?applicant=."
				}
				return refuse(c, ref)
			}
			if named == subject {
				// An operator's own id as the applicant would file the
				// operator's actions as an applicant's, under a name that
				// is staff's.
				ref.Status, ref.Code = fiber.StatusForbidden, "on_behalf_of_self"
				ref.RU = "Оператор МФЦ действует от имени заявителя, а не от своего: укажите заявителя в X-On-Behalf-Of или ?applicant=."
				ref.EN = "An MFC operator acts on behalf of an applicant, not of themselves: name the applicant in X-On-Behalf-Of or ?applicant=."
				return refuse(c, ref)
			}
			if ref, refused := visitRefusal(c, o.Visits, ref, subject, named); refused {
				return refuse(c, ref)
			}
			// The visit was open when the headers came; a body that comes
			// slowly (a scan on a poor line) can outlast it. So it is
			// looked up again once the body is read: below for a body
			// read here, by the handler for one it streams (QA: a
			// submission and an upload landed after the visit closed).
			recheck = func(c *fiber.Ctx) (bool, error) {
				if ref, refused := visitRefusal(c, o.Visits, ref, subject, named); refused {
					return true, refuse(c, ref)
				}
				return false, nil
			}
			// Handlers read the applicant from the metadata; make it the
			// one checked here whichever way it was named, and always this
			// copy: an equal string may still be one over a buffer the
			// next request reuses.
			if md, ok := events.MetadataFrom(c.UserContext()); ok {
				md.OnBehalfOf = named
				c.SetUserContext(events.WithMetadata(c.UserContext(), md))
			}
		}
		fits, err := bodyFits(c, rt)
		if err != nil {
			return err
		}
		if recheck != nil && fits && hasBody(c) {
			if rt.Streams() {
				commandapi.SetAfterBody(c, recheck)
			} else if refused, err := recheck(c); refused || err != nil {
				return err
			}
		}
		if !fits {
			ref.Status, ref.Code = fiber.StatusRequestEntityTooLarge, "body_too_large"
			if rt.MaxBody == 0 {
				ref.RU, ref.EN = "Этот запрос передаётся без тела.", "This request takes no body."
			} else {
				ref.RU = fmt.Sprintf("Тело запроса больше %d КБ.", max(1, rt.MaxBody>>10))
				ref.EN = fmt.Sprintf("The request body is larger than %d KB.", max(1, rt.MaxBody>>10))
			}
			return refuse(c, ref)
		}
		return c.Next()
	}
}

// visitRefusal refuses an operator's request for an applicant who has not
// opened a visit with them: without one, any operator could act for anyone
// whose id they typed.
func visitRefusal(c *fiber.Ctx, v Visits, ref Refusal, operator, applicant string) (Refusal, bool) {
	ok := false
	var err error
	if v != nil {
		ctx, cancel := context.WithTimeout(c.UserContext(), visitWait)
		ok, err = v.Open(ctx, operator, applicant)
		cancel()
	}
	switch {
	case err != nil:
		ref.Status, ref.Code = fiber.StatusServiceUnavailable, "visit_check_failed"
		ref.RU = "Не удалось проверить приём в МФЦ: повторите через минуту."
		ref.EN = "The MFC visit could not be checked: try again in a minute."
		return ref, true
	case !ok:
		ref.Status, ref.Code = fiber.StatusForbidden, "visit_required"
		ref.RU = "Приём в МФЦ с этим заявителем не открыт или закончился (приём длится 4 часа): оператор действует от имени заявителя только во время приёма. Попросите заявителя получить в личном кабинете код для МФЦ и откройте приём с ним на странице «Приём заявителя» (/operator)."
		ref.EN = "No MFC visit with this applicant is open, or it has ended (a visit lasts 4 hours): an operator acts for an applicant only during a visit. Ask the applicant to get an MFC code in their account, and open the visit with it on the “Serve an applicant” page (/operator)."
		return ref, true
	}
	return ref, false
}

// MaxBuffered is the longest body the middleware reads into memory for
// its route; a route that takes more (an upload) gets its body unread, as
// a stream its handler reads under its own bound once it has room for it,
// and only its declared length is checked here.
const MaxBuffered = 1 << 20

// Streams reports whether the route's handler reads the body itself (see
// MaxBuffered).
func (r Route) Streams() bool { return r.MaxBody > MaxBuffered }

// hasBody reports whether the request carries a body to wait for.
func hasBody(c *fiber.Ctx) bool {
	return c.Request().Header.ContentLength() != 0
}

// bodyFits checks the body against the route's bound. Only now, with the
// caller known and allowed, is a body read into memory (reqbody).
func bodyFits(c *fiber.Ctx, rt Route) (bool, error) {
	if rt.Streams() {
		return c.Request().Header.ContentLength() <= rt.MaxBody, nil
	}
	return reqbody.Load(c, rt.MaxBody)
}

// Why an operator's request names no applicant it may act for.
var (
	errNoApplicant   = errors.New("authz: no applicant named")
	errTwoApplicants = errors.New("authz: two different applicants named")
	errBadApplicant  = errors.New("authz: the applicant named is not an id")
)

// onBehalfOf is the applicant an operator names: the header, the query
// parameter, or both when they agree.
func onBehalfOf(c *fiber.Ctx) (string, error) {
	// Fiber reads the first of repeated headers and parameters; with two
	// different applicants named, which one is meant is anyone's guess.
	if !oneValue(c.Request().Header.PeekAll(HeaderOnBehalfOf)) || !oneValue(c.Request().URI().QueryArgs().PeekMulti("applicant")) {
		return "", errTwoApplicants
	}
	h, q := c.Get(HeaderOnBehalfOf), c.Query("applicant")
	switch {
	case h != "" && q != "" && h != q:
		return "", errTwoApplicants
	case h == "":
		h = q
	}
	if h == "" {
		return "", errNoApplicant
	}
	if !ValidSubject(h) {
		return "", errBadApplicant
	}
	return strings.Clone(h), nil
}

// oneValue reports whether repeated values (if any) all say the same.
func oneValue(vs [][]byte) bool {
	for _, v := range vs[min(1, len(vs)):] {
		if !bytes.Equal(v, vs[0]) {
			return false
		}
	}
	return true
}

// RoleFromMetadata reads the caller the authentication middleware put in
// the request context.
func RoleFromMetadata(c *fiber.Ctx) (string, string) {
	md, ok := events.MetadataFrom(c.UserContext())
	if !ok || md.Actor.Role == "" || md.Actor.ID == "" {
		return Anonymous, ""
	}
	return md.Actor.Role, md.Actor.ID
}

// Problem answers a refusal with an RFC 9457 problem document in both
// languages, the shape of every other API error.
func Problem(c *fiber.Ctx, r Refusal) error {
	if r.Status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="oms"`)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	title := map[int]string{
		fiber.StatusUnauthorized:          "Требуется вход / Authentication required",
		fiber.StatusForbidden:             "Доступ запрещён / Forbidden",
		fiber.StatusMethodNotAllowed:      "Метод не поддерживается / Method not allowed",
		fiber.StatusRequestEntityTooLarge: "Слишком большой запрос / Payload too large",
		fiber.StatusServiceUnavailable:    "Сервис временно недоступен / Service unavailable",
	}[r.Status]
	return c.Status(r.Status).JSON(fiber.Map{
		"type": "urn:oms:problem:" + r.Code, "title": title, "status": r.Status, "code": r.Code,
		"detail": fiber.Map{"ru": r.RU, "en": r.EN},
	}, "application/problem+json")
}
