package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/policies"
	"github.com/omsonline/oms/projections/readstore"
	queryapi "github.com/omsonline/oms/query/httpapi"
	"github.com/omsonline/oms/query/policypdf"
)

// QueueData is the reviewer's queue page.
type QueueData struct {
	Page     queryapi.QueuePage
	Filter   QueueFilter
	Statuses []Option
	Next     string // URL of the next page
	// Error is why the API refused the filter: the page keeps the form
	// with what was typed, and says it there; ErrorField is the filter's
	// input it is about ("region", "status"), marked and focused.
	Error      string
	ErrorField string
	// Find is a number or id typed to find one application; Matches the
	// applications of a number several share.
	Find    string
	Matches []string
}

// QueueFilter is the queue's filter form.
type QueueFilter struct {
	Status, Assignee, Region string
	Overdue                  bool
}

func (h *handlers) queue(c *fiber.Ctx) error {
	l := h.lang(c)
	f := QueueFilter{Status: c.Query("status"), Assignee: c.Query("assignee"), Region: strings.TrimSpace(c.Query("region")), Overdue: c.Query("overdue") == "true"}
	q := url.Values{"status": {f.Status}, "region": {f.Region}, "cursor": {c.Query("cursor")}}
	// me, none or a reviewer's id (a link to someone's work): dropped, the
	// page showed everyone's under a filter that looked applied.
	if f.Assignee != "" {
		q.Set("assignee", f.Assignee)
	}
	if f.Overdue {
		q.Set("overdue", "true")
	}
	var d QueueData
	d.Filter = f
	// A number a person quoted: straight to that application.
	if d.Find = strings.TrimSpace(c.Query("find")); d.Find != "" {
		var done bool
		var err error
		if d.Matches, d.Error, done, err = h.findApplication(c, d.Find, "/reviewer/applications/"); done || err != nil {
			return err
		}
	}
	for _, s := range queryapi.QueueStatuses {
		d.Statuses = append(d.Statuses, Option{Value: s, Label: l.T("status." + s)})
	}
	if err := h.get(c, withAfter(c, "/api/v1/reviewer/queue", q), &d.Page); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != fiber.StatusBadRequest {
			return h.apiFailure(c, err)
		}
		d.Error = l.Pick(ae.Problem.Detail.RU, ae.Problem.Detail.EN)
		// The API's words name its parameters ("region: …"); the page
		// names its own inputs (web QA).
		switch ae.Problem.Code {
		case "bad_region":
			d.Error, d.ErrorField = l.T("queue.err.region", f.Region), "region"
		case "bad_status":
			d.Error, d.ErrorField = l.T("queue.err.status"), "status"
		case "bad_cursor", "cursor_filters":
			d.Error = l.T("queue.err.cursor")
		}
		return h.render(c, fiber.StatusBadRequest, "queue", h.page(c, "queue.title", d))
	}
	if d.Page.NextCursor != "" {
		next := url.Values{"status": {f.Status}, "assignee": {f.Assignee}, "region": {f.Region}, "cursor": {d.Page.NextCursor}}
		if f.Overdue {
			next.Set("overdue", "true")
		}
		d.Next = "/reviewer?" + next.Encode()
	}
	return h.render(c, fiber.StatusOK, "queue", h.page(c, "queue.title", d))
}

// claimable are the statuses a reviewer may claim an application in when
// nobody holds it; held those a reviewer may hold it, and let it go, in
// (the domain's rule, command/application ClaimForReview and ReleaseClaim).
var (
	claimable = []string{appview.StatusSubmitted, appview.StatusInReview, appview.StatusInfoRequested, appview.StatusApproved}
	held      = []string{appview.StatusInReview, appview.StatusInfoRequested, appview.StatusApproved}
)

// ReviewData is the reviewer's application view.
type ReviewData struct {
	View appview.View
	// Deadline is the review deadline while the application is queued.
	Deadline *queryapi.Deadline
	Summary  Summary
	Mine     bool
	// Own: the reviewer is the applicant or submitted it, so the command
	// side refuses them every decision on it (own_application).
	Own      bool
	Can      map[string]bool
	Fields   []Option
	Kinds    []Option
	Reasons  []Option
	Slots    []int // empty question rows offered
	Asked    map[string][]appview.Question
	Labelled []LabelledQuestion
}

// LabelledQuestion is a question with its field named for people.
type LabelledQuestion struct {
	appview.Question
	FieldLabel string
	KindLabel  string
}

func (h *handlers) reviewerApplication(c *fiber.Ctx) error {
	var sv queryapi.StaffView
	if err := h.get(c, withAfter(c, "/api/v1/applications/"+url.PathEscape(c.Params("id")), nil), &sv); err != nil {
		return h.apiFailure(c, err)
	}
	v := sv.View
	l := h.lang(c)
	s := session(c)
	d := ReviewData{View: v, Deadline: sv.Deadline, Summary: summarize(l, v, true), Mine: v.Assignee == s.ActorID, Slots: []int{0, 1, 2}}
	if s.Role == roleAdmin {
		// An administrator may see the page but not the scans: named, not
		// linked to a download that can only refuse (QA: a raw 403).
		for i := range d.Summary.Scans {
			if d.Summary.Scans[i].URL != "" {
				d.Summary.Scans[i].URL, d.Summary.Scans[i].Image, d.Summary.Scans[i].Why = "", false, "scan.staffOnly"
			}
		}
	}
	d.Own = s.ActorID != "" && (v.ApplicantID == s.ActorID || v.SubmittedBy.ID == s.ActorID)
	reviews := s.Role == roleReviewer && !d.Own
	d.Can = map[string]bool{
		// A new application, or one an administrator released at a
		// later step (see application.ReleaseClaim).
		"claim":        reviews && v.Assignee == "" && slices.Contains(claimable, v.Status),
		"request-info": reviews && d.Mine && (v.Status == appview.StatusInReview || v.Status == appview.StatusApproved),
		"approve":      reviews && d.Mine && v.Status == appview.StatusInReview,
		"reject":       reviews && d.Mine && (v.Status == appview.StatusInReview || v.Status == appview.StatusInfoRequested || v.Status == appview.StatusApproved),
		"issue-policy": reviews && v.Status == appview.StatusApproved,
		// The assigned reviewer lets it go; an administrator takes it
		// from one who cannot go on.
		"release": v.Assignee != "" && slices.Contains(held, v.Status) && (d.Mine || s.Role == roleAdmin),
	}
	d.Fields = []Option{{Value: "", Label: l.T("review.noField")}}
	for _, p := range questionFields {
		d.Fields = append(d.Fields, Option{Value: p, Label: fieldLabel(l, p)})
	}
	d.Kinds = []Option{{Value: "", Label: l.T("review.noScan")}}
	for _, k := range schema.DocumentKinds {
		d.Kinds = append(d.Kinds, Option{Value: k, Label: l.T("scan." + k)})
	}
	d.Reasons = []Option{{Value: "", Label: l.T("form.choose")}}
	for _, r := range schema.RejectReasons {
		if r == schema.RejectNoResponse && !answerTermOver(v, h.d.Now()) {
			continue // a reason only once a request's term to answer ran out
		}
		d.Reasons = append(d.Reasons, Option{Value: r, Label: l.T("reject." + r)})
	}
	for _, q := range v.Questions {
		lq := LabelledQuestion{Question: q}
		if q.Field != "" {
			lq.FieldLabel = fieldLabel(l, q.Field)
		}
		if q.DocumentKind != "" {
			lq.KindLabel = l.T("scan." + q.DocumentKind)
		}
		d.Labelled = append(d.Labelled, lq)
	}
	return h.render(c, fiber.StatusOK, "review", h.page(c, "review.title", d))
}

// AuditorData is the auditor's start page.
type AuditorData struct {
	ID    string
	Error string
	// Matches are the applications that share the number looked up, when
	// more than one does.
	Matches []string
	Queue   queryapi.QueuePage
	Next    string // URL of the list's next page
}

// findApplication answers what a member of staff typed to find an
// application: its id, or the number its pages show (what a person
// quotes). One found redirects to base+id (done); several are listed;
// none, or a malformed one, is said in errMsg.
func (h *handlers) findApplication(c *fiber.Ctx, typed, base string) (matches []string, errMsg string, done bool, err error) {
	if u, perr := uuid.Parse(typed); perr == nil {
		// As the ids are stored: lower case, with dashes.
		return nil, "", true, c.Redirect(base+u.String(), fiber.StatusSeeOther)
	}
	n := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(typed, "№")))
	var m queryapi.NumberMatches
	err = h.get(c, "/api/v1/applications/by-number/"+url.PathEscape(n), &m)
	var ae *apiError
	switch {
	case err == nil && len(m.Applications) == 1:
		return nil, "", true, c.Redirect(base+m.Applications[0], fiber.StatusSeeOther)
	case err == nil:
		return m.Applications, "", false, nil
	case errors.As(err, &ae) && ae.Status == fiber.StatusNotFound:
		return nil, h.lang(c).T("auditor.err.none", n), false, nil
	case errors.As(err, &ae) && ae.Status == fiber.StatusBadRequest:
		return nil, h.lang(c).T("auditor.err.id"), false, nil
	}
	return nil, "", true, h.apiFailure(c, err)
}

func (h *handlers) auditorHome(c *fiber.Ctx) error {
	d := AuditorData{ID: strings.TrimSpace(c.Query("id"))}
	if d.ID != "" {
		var done bool
		var err error
		if d.Matches, d.Error, done, err = h.findApplication(c, d.ID, "/auditor/applications/"); done || err != nil {
			return err
		}
	}
	q := url.Values{"limit": {"50"}}
	if cur := c.Query("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	if err := h.get(c, "/api/v1/reviewer/queue?"+q.Encode(), &d.Queue); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != fiber.StatusBadRequest {
			return h.apiFailure(c, err)
		}
		// A cursor mangled in the address bar: say so above an empty list.
		d.Error = h.lang(c).Pick(ae.Problem.Detail.RU, ae.Problem.Detail.EN)
		return h.render(c, fiber.StatusBadRequest, "auditor", h.page(c, "auditor.title", d))
	}
	if d.Queue.NextCursor != "" {
		d.Next = "/auditor?" + url.Values{"cursor": {d.Queue.NextCursor}}.Encode()
	}
	return h.render(c, fiber.StatusOK, "auditor", h.page(c, "auditor.title", d))
}

// TimelineData is the auditor's timeline of one application.
type TimelineData struct {
	ID      string
	Entries []history.Entry
	State   StateData
	Last    uint64
	// Access is a page of the staff access log, oldest first; AccessNext
	// is the URL of the next page.
	Access     []AccessRow
	AccessNext string
	// Applicant is the application's applicant, whose own access log
	// (every application and scan of theirs) the page links to.
	Applicant string
}

// AccessRow is one read of the application's personal data by staff.
type AccessRow struct {
	history.AccessEntry
	// WhatLabel names what was read for people.
	WhatLabel string
}

// accessPageSize is how many reads the timeline shows at a time.
const accessPageSize = 200

// accessLabel names a schema.Access* code; a code this build does not
// know shows as it is rather than as a catalog key.
func accessLabel(l *Lang, what string) string {
	if kind, ok := strings.CutPrefix(what, schema.AccessDocument); ok {
		scan := kind
		if l.Has("scan." + kind) {
			scan = l.T("scan." + kind)
		}
		return l.T("timeline.accessDocument", scan)
	}
	if key := "timeline.what." + what; l.Has(key) {
		return l.T(key)
	}
	return what
}

// StateData is the application at one revision (the time-travel panel).
type StateData struct {
	L       *Lang
	ID      string
	State   queryapi.State
	Summary Summary
}

// loadState replays the application to ?revision= or ?at= of the page.
// They go to the API as given, so that a wrong one is refused in its words
// instead of quietly showing the latest state.
func (h *handlers) loadState(c *fiber.Ctx, id string) (StateData, error) {
	d := StateData{L: h.lang(c), ID: id}
	q := url.Values{}
	for _, p := range []string{"revision", "at"} {
		if v := c.Query(p); v != "" {
			q.Set(p, v)
		}
	}
	path := "/api/v1/applications/" + url.PathEscape(id) + "/state"
	if enc := q.Encode(); enc != "" {
		path += "?" + enc
	}
	if err := h.get(c, path, &d.State); err != nil {
		return d, err
	}
	d.Summary = summarize(d.L, d.State.State, true)
	return d, nil
}

func (h *handlers) timeline(c *fiber.Ctx) error {
	id := c.Params("id")
	// The whole timeline, page by page (an application's history pages
	// at a thousand entries).
	var hist struct {
		Entries    []history.Entry `json:"entries"`
		NextCursor string          `json:"nextCursor"`
	}
	var entries []history.Entry
	for cursor := ""; ; {
		hist.Entries, hist.NextCursor = nil, ""
		if err := h.get(c, withAfter(c, "/api/v1/applications/"+url.PathEscape(id)+"/history", url.Values{"cursor": {cursor}}), &hist); err != nil {
			return h.apiFailure(c, err)
		}
		entries = append(entries, hist.Entries...)
		if hist.NextCursor == "" || hist.NextCursor == cursor {
			break
		}
		cursor = hist.NextCursor
	}
	st, err := h.loadState(c, id)
	if err != nil {
		return h.apiFailure(c, err)
	}
	d := TimelineData{ID: id, Entries: entries, State: st, Last: st.State.LastRevision, Applicant: st.State.State.ApplicantID}
	var acc queryapi.AccessPage
	if err := h.get(c, accessPath("/api/v1/applications/"+url.PathEscape(id)+"/access", c.Query("access")), &acc); err != nil {
		return h.apiFailure(c, err)
	}
	d.Access = accessRows(h.lang(c), acc.Entries)
	if acc.NextCursor != "" {
		d.AccessNext = "/auditor/applications/" + url.PathEscape(id) + "?" + url.Values{"access": {acc.NextCursor}}.Encode() + "#acc-h"
	}
	return h.render(c, fiber.StatusOK, "timeline", h.page(c, "timeline.title", d))
}

// accessPath asks for a page of an access log, from the page's cursor if
// it is one (a mangled one shows the first page).
func accessPath(path, cursor string) string {
	q := url.Values{"limit": {strconv.Itoa(accessPageSize)}}
	if _, err := strconv.ParseUint(cursor, 10, 64); err == nil {
		q.Set("cursor", cursor)
	}
	return path + "?" + q.Encode()
}

func accessRows(l *Lang, entries []history.AccessEntry) []AccessRow {
	rows := make([]AccessRow, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, AccessRow{AccessEntry: e, WhatLabel: accessLabel(l, e.What)})
	}
	return rows
}

// PersonAccessData is one person's access log.
type PersonAccessData struct {
	ApplicantID string
	Access      []AccessRow
	AccessNext  string
}

// personAccess shows every staff read of one person's data: what no
// application's log shows (a scan never submitted) included.
func (h *handlers) personAccess(c *fiber.Ctx) error {
	id, err := url.PathUnescape(c.Params("id"))
	if err != nil {
		return h.errorPage(c, fiber.StatusNotFound, "error.notFound")
	}
	self := "/auditor/applicants/" + url.PathEscape(id) + "/access"
	var acc queryapi.ApplicantAccessPage
	if err := h.get(c, accessPath("/api/v1/applicants/"+url.PathEscape(id)+"/access", c.Query("access")), &acc); err != nil {
		return h.apiFailure(c, err)
	}
	d := PersonAccessData{ApplicantID: id, Access: accessRows(h.lang(c), acc.Entries)}
	if acc.NextCursor != "" {
		d.AccessNext = self + "?" + url.Values{"access": {acc.NextCursor}}.Encode()
	}
	return h.render(c, fiber.StatusOK, "personaccess", h.page(c, "personAccess.title", d))
}

// stateFragment is the time-travel panel alone, which the timeline's
// revision slider swaps in without reloading the page.
func (h *handlers) stateFragment(c *fiber.Ctx) error {
	st, err := h.loadState(c, c.Params("id"))
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return c.Status(ae.Status).SendString(h.lang(c).Pick(ae.Problem.Detail.RU, ae.Problem.Detail.EN))
		}
		return err
	}
	return h.renderFragment(c, "state", st)
}

// VerifyData is the public check of a policy.
type VerifyData struct {
	Found bool
	// Checked: the link carried the document's check code, so the page
	// says whether the policy is in force and until when. Without it (a
	// number typed by hand, an extract from before the codes) it says only
	// that the document exists.
	Checked  bool
	ENP      string
	Current  bool // the document number is the current version
	Active   bool
	ValidTo  string
	Version  int
	DocValid bool
}

// verifyPolicy is where the extract's QR code leads: anyone holding the
// extract can check that the policy exists and is in force. It shows no
// personal data; whether the policy is in force, and until when, only to
// the link with the document's check code, which the extract alone
// carries (see policypdf.VerifyURL).
func (h *handlers) verifyPolicy(c *fiber.Ctx) error {
	enp, docNo := c.Params("enp"), c.Query("doc")
	d := VerifyData{ENP: enp}
	want := policypdf.VerifyCode(h.d.VerifyKey, enp, docNo)
	d.Checked = len(h.d.VerifyKey) > 0 && subtle.ConstantTimeCompare([]byte(c.Query("c")), []byte(want)) == 1
	raw, err := h.d.Store.Get(c.UserContext(), policies.Collection, enp)
	if err != nil && !errors.Is(err, readstore.ErrNotFound) && !errors.Is(err, readstore.ErrNoCollection) {
		h.d.Logger.ErrorContext(c.UserContext(), "policy check failed", "err", err)
		return h.errorPage(c, fiber.StatusInternalServerError, "error.generic")
	}
	if err == nil {
		var p policies.Doc
		if json.Unmarshal(raw.Body, &p) == nil && docNo != "" && strings.HasPrefix(docNo, p.ENP+"-") {
			if v, err := strconv.Atoi(strings.TrimPrefix(docNo, p.ENP+"-")); err == nil && v >= 1 && v <= p.Document.Version {
				d.Found, d.Current, d.Active, d.ValidTo, d.Version = true, v == p.Document.Version, p.Status == "active", p.ValidTo, p.Document.Version
			}
		}
	}
	status := fiber.StatusOK
	if !d.Found {
		status = fiber.StatusNotFound
	}
	return h.render(c, status, "verify", h.page(c, "verify.title", d))
}

// answerTermOver reports whether the application waits for an answer past
// the last day the applicant was told they had: only then is "no
// response" a reason the domain takes. Questions asked before the term
// existed carry no day; the domain counts theirs, and refuses a refusal
// that comes too early with the day.
func answerTermOver(v appview.View, now time.Time) bool {
	if v.Status != appview.StatusInfoRequested {
		return false
	}
	today := now.In(msk).Format(time.DateOnly)
	for _, q := range v.Questions {
		if !q.Answered && q.AnswerBy != "" && today <= q.AnswerBy {
			return false
		}
	}
	return true
}
