package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
)

// An МФЦ operator acts for an applicant only during a visit the applicant
// opened (command/visit): the applicant takes a code in the cabinet and
// shows it, the operator types it here with the applicant's id. These are
// the pages of both sides.

// OperatorData is the operator's start page.
type OperatorData struct {
	Who   string
	Error string
	// ErrorField is the input the error is about ("who" or "code"), for
	// the page to mark it and put the cursor there.
	ErrorField string
	// Notice says why the operator was sent here (a visit that ended).
	Notice string
	Dev    bool
	// Next is the page to return to once the visit is open: the one the
	// operator was on when it ran out.
	Next string
	// Open lists the operator's visits open now, the latest first: to go
	// back to an applicant without the id typed again, and to end a
	// visit no longer needed rather than leave it open for hours.
	Open []OpenVisit
	// OpenUnknown is set when the list could not be read: the page still
	// opens visits, and does not claim that none is open.
	OpenUnknown bool
}

// OpenVisit is one of the operator's open visits on their start page.
type OpenVisit struct {
	ApplicantID string
	// Opened and Until are when it opened and when it ends, Moscow time:
	// the operator tells the person at the window from the one before by
	// when they came.
	Opened, Until string
}

// operatorHome asks for the applicant and their code. An operator sent
// here from an applicant's page (?who=, the visit over or never opened)
// finds the id filled in.
func (h *handlers) operatorHome(c *fiber.Ctx) error {
	d := OperatorData{Who: strings.TrimSpace(c.Query("who")), Dev: h.d.SignIn != nil, Next: returnTo(c.Query("next"))}
	switch c.Query("visit") {
	case "required":
		d.Notice = h.lang(c).T("operator.visitRequired")
	case "ended":
		d.Notice = h.lang(c).T("operator.visitEnded")
	}
	h.openVisits(c, &d)
	return h.render(c, fiber.StatusOK, "operator", h.page(c, "operator.title", d))
}

// openVisits fills in the operator's open visits, as of the visit just
// ended when the page was sent here after one (?after=). The list is an
// aid: when it cannot be read, the page that opens visits still opens,
// saying so (review: a read model lagging past the wait, or a mangled
// ?after=, replaced the whole page with an error).
func (h *handlers) openVisits(c *fiber.Ctx, d *OperatorData) {
	var open struct {
		Visits []struct {
			ApplicantID string    `json:"applicantId"`
			OpenedAt    time.Time `json:"openedAt"`
			Until       time.Time `json:"until"`
		} `json:"visits"`
	}
	err := h.get(c, withAfter(c, "/api/v1/visits", nil), &open)
	if err != nil && c.Query("after") != "" {
		err = h.get(c, "/api/v1/visits", &open) // as it stands now
	}
	if err != nil {
		h.d.Logger.Warn("web: the operator's open visits", "err", err)
		d.OpenUnknown = true
		return
	}
	l := h.lang(c)
	for _, v := range open.Visits {
		d.Open = append(d.Open, OpenVisit{ApplicantID: v.ApplicantID, Opened: l.DateTime(v.OpenedAt), Until: l.DateTime(v.Until)})
	}
}

// operatorOpen opens a visit with the applicant's code, then the page the
// operator was sent here from (next), or the applicant's cabinet.
func (h *handlers) operatorOpen(c *fiber.Ctx) error {
	d := OperatorData{Who: strings.TrimSpace(c.FormValue("who")), Dev: h.d.SignIn != nil, Next: returnTo(c.FormValue("next"))}
	fail := func(status int, field, msg string) error {
		d.Error, d.ErrorField = msg, field
		h.openVisits(c, &d)
		return h.render(c, status, "operator", h.page(c, "operator.title", d))
	}
	if !h.d.Auth.CheckForm(c) {
		return fail(fiber.StatusForbidden, "", h.lang(c).T("error.csrf"))
	}
	id, ok := h.applicantNamed(d.Who)
	if !ok {
		key := "operator.err.who"
		if d.Dev {
			key = "operator.err.whoDev"
		}
		return fail(fiber.StatusUnprocessableEntity, "who", h.lang(c).T(key))
	}
	body, err := json.Marshal(map[string]string{"applicantId": id, "code": c.FormValue("code")})
	if err != nil {
		return fmt.Errorf("web: encode a visit: %w", err)
	}
	if err := h.post(c, "/api/v1/visits", "", body, nil); err != nil {
		if msg, ok := h.problemText(c, err); ok {
			return fail(err.(*apiError).Status, visitField(err.(*apiError).Problem), msg)
		}
		return h.apiFailure(c, err)
	}
	to := "/cabinet?applicant=" + url.QueryEscape(id)
	if u, err := url.Parse(d.Next); err == nil && d.Next != "" && u.Query().Get("applicant") == id {
		to = d.Next // the page the visit ran out on, of this applicant
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// visitField is the input a refused opening is about: the applicant's id
// when the API names it, else the code (a wrong, used or voided one).
func visitField(p Problem) string {
	for _, e := range p.Errors {
		if e.Field == "/applicantId" {
			return "who"
		}
	}
	if len(p.Errors) > 0 || strings.HasPrefix(p.Code, "visit_code") {
		return "code"
	}
	return ""
}

// returnTo is a page of the operator's to come back to: a local path
// under /cabinet, else nothing.
func returnTo(next string) string {
	p := safeLocal(next)
	u, err := url.Parse(p)
	// Cleaned first: "/cabinet/../auditor" is no page of the cabinet.
	if err != nil || path.Clean(u.Path) != u.Path || !(u.Path == "/cabinet" || strings.HasPrefix(u.Path, "/cabinet/")) {
		return ""
	}
	return p
}

// applicantNamed is the applicant's id the operator typed: in dev mode
// also the phone the applicant signs in with. A phone that is nobody's
// (mistyped, or in production, where there is no phone book) is refused
// in words: taken for an id, the visit would be asked of no one. Anything
// else that is an id is taken; without its code it opens nothing.
func (h *handlers) applicantNamed(who string) (string, bool) {
	if h.d.SignIn != nil {
		if s, ok := h.d.SignIn.Subject(who); ok {
			return s, true
		}
		if u, err := uuid.Parse(who); err == nil {
			return u.String(), true
		}
		// Here people type phones: digits that are nobody's phone are a
		// mistyped one.
		if phoneLike(who) {
			return "", false
		}
	}
	// Without the dev sign-in there is no phone book: a phone number as
	// people write it (with a "+", spaces, dashes, brackets) is nobody's
	// id. Digits alone may well be an id (issuers' subjects often are),
	// and without its code an id that is nobody's opens nothing.
	return who, events.ValidActorID(who) && !(phoneLike(who) && strings.Trim(who, "0123456789") != "")
}

// operatorEnd ends the operator's visit with the applicant of the page.
func (h *handlers) operatorEnd(c *fiber.Ctx) error {
	if !h.d.Auth.CheckForm(c) {
		return h.errorPage(c, fiber.StatusForbidden, "error.csrf")
	}
	applicant := c.Query("applicant")
	if !events.ValidActorID(applicant) {
		return c.Redirect("/operator", fiber.StatusSeeOther)
	}
	// A visit that has run out is ended already.
	var closed struct {
		Position uint64 `json:"position"`
	}
	if err := h.post(c, "/api/v1/visits/close", applicant, []byte("{}"), &closed); err != nil && !isCode(err, "visit_required") {
		return h.apiFailure(c, err)
	}
	to := "/operator?visit=ended"
	if closed.Position > 0 {
		to += "&after=" + strconv.FormatUint(closed.Position, 10) // the list without it
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// VisitCodeData is the code an applicant shows an operator.
type VisitCodeData struct {
	Code    string
	Expires string
}

// visitCode gives the applicant a code for an МФЦ operator.
func (h *handlers) visitCode(c *fiber.Ctx) error {
	if !h.d.Auth.CheckForm(c) {
		return h.errorPage(c, fiber.StatusForbidden, "error.csrf")
	}
	var code struct {
		Code      string    `json:"code"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := h.post(c, "/api/v1/visits/code", "", []byte("{}"), &code); err != nil {
		return h.apiFailure(c, err)
	}
	// Read aloud and typed in two halves: "123 456".
	shown := code.Code
	if len(shown) == 6 {
		shown = shown[:3] + " " + shown[3:]
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, "visitcode", h.page(c, "visit.title", VisitCodeData{Code: shown, Expires: h.lang(c).DateTime(code.ExpiresAt)}))
}

// visitsClose ends every operator's visit and the applicant's unused code.
func (h *handlers) visitsClose(c *fiber.Ctx) error {
	if !h.d.Auth.CheckForm(c) {
		return h.errorPage(c, fiber.StatusForbidden, "error.csrf")
	}
	var res struct {
		Closed bool `json:"closed"`
	}
	if err := h.post(c, "/api/v1/visits/close", "", []byte("{}"), &res); err != nil {
		return h.apiFailure(c, err)
	}
	if !res.Closed {
		return c.Redirect("/cabinet?visits=none", fiber.StatusSeeOther)
	}
	return c.Redirect("/cabinet?visits=closed", fiber.StatusSeeOther)
}

// visitsClosedNotice is what the cabinet says after the applicant ended
// МФЦ operators' access, by ?visits=.
var visitsClosedNotice = map[string]string{"closed": "visit.closed", "none": "visit.closedNone"}

// post sends a command to the API as the page's caller, for obo when an
// operator acts for an applicant, and reads the answer into v (if not
// nil).
func (h *handlers) post(c *fiber.Ctx, path, obo string, body []byte, v any) error {
	s := session(c)
	res, err := h.d.API.Do(c.UserContext(), APIRequest{Method: fiber.MethodPost, Path: path, Token: s.Token, OnBehalfOf: obo, Body: body})
	if err != nil {
		return fmt.Errorf("web: POST %s: %w", path, err)
	}
	if res.Status < 200 || res.Status > 299 {
		e := &apiError{Status: res.Status}
		_ = json.Unmarshal(res.Body, &e.Problem)
		return e
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(res.Body, v); err != nil {
		return fmt.Errorf("web: decode %s: %w", path, err)
	}
	return nil
}

// problemText is what a refused command says, in the reader's language:
// its first field error's text, or its detail. Server failures are not
// the reader's to fix, and go to the error page.
func (h *handlers) problemText(c *fiber.Ctx, err error) (string, bool) {
	e, ok := err.(*apiError)
	if !ok || e.Status >= 500 {
		return "", false
	}
	l := h.lang(c)
	for _, f := range e.Problem.Errors {
		if msg := l.Pick(f.Message.RU, f.Message.EN); msg != "" {
			return msg, true
		}
	}
	msg := l.Pick(e.Problem.Detail.RU, e.Problem.Detail.EN)
	return msg, msg != ""
}
