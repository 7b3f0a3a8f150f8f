package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/events"

	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/cabinet"
)

// CabinetData is the applicant's cabinet.
type CabinetData struct {
	Doc          cabinet.Doc
	Inbox        []cabinet.Notification // newest first
	Policy       *PolicyCard
	ApplicantQ   string // "?applicant=…" for an operator's links, else ""
	CanApplyNew  bool
	Applications []AppRow
	// VisitOffered: the МФЦ code is offered (not to an erased person).
	VisitOffered bool
	// VisitsClosed is the catalog key of what ending МФЦ operators'
	// access did, when the applicant has just done it.
	VisitsClosed string
}

// AppRow is one application in the cabinet list.
type AppRow struct {
	cabinet.Application
	Next string // catalog key of the next action
}

// PolicyCard is the policy as the cabinet shows it.
type PolicyCard struct {
	appview.Policy
	ApplicationID string
	// RenewOffered is true from RenewalWindowDays before expiry on, and
	// for an expired policy; AddressChangeOffered while it is active.
	// Neither once the consent is withdrawn: the commands refuse them.
	RenewOffered         bool
	AddressChangeOffered bool
	DaysLeft             int
	PDF                  string
}

func (h *handlers) applicantQuery(c *fiber.Ctx) string {
	if s := session(c); s.Role == roleOperator {
		return "?applicant=" + url.QueryEscape(c.Query("applicant"))
	}
	return ""
}

// operatorWithoutApplicant sends an operator who has not picked an
// applicant back to pick one.
func (h *handlers) operatorWithoutApplicant(c *fiber.Ctx) bool {
	return session(c).Role == roleOperator && !events.ValidActorID(c.Query("applicant"))
}

func (h *handlers) cabinet(c *fiber.Ctx) error {
	if h.operatorWithoutApplicant(c) {
		return c.Redirect("/operator", fiber.StatusSeeOther)
	}
	var doc cabinet.Doc
	if err := h.get(c, withAfter(c, "/api/v1/cabinet", url.Values{"applicant": {onBehalfOf(c, session(c))}}), &doc); err != nil {
		return h.apiFailure(c, err)
	}
	why := cannotApply(doc)
	d := CabinetData{Doc: doc, ApplicantQ: h.applicantQuery(c), CanApplyNew: why == "", VisitsClosed: visitsClosedNotice[c.Query("visits")],
		// An erased person's data are gone: an operator could do nothing
		// for them that a code would open.
		VisitOffered: why != "cabinet.cannotApply.erased"}
	for i := len(doc.Inbox) - 1; i >= 0; i-- {
		d.Inbox = append(d.Inbox, doc.Inbox[i])
	}
	for _, a := range doc.Applications {
		d.Applications = append(d.Applications, AppRow{Application: a, Next: nextStep(a.Status, a.Erased != nil, a.Consent.Withdrawn())})
	}
	// Newest first: people look for what they did last.
	slices.SortStableFunc(d.Applications, func(a, b AppRow) int { return b.SubmittedAt.Compare(a.SubmittedAt) })
	if doc.Policy != nil {
		d.Policy = h.policyCard(c, *doc.Policy, doc.Applications)
		if d.Policy.RenewOffered {
			// The card offers renewal: so does what to do next.
			for i := range d.Applications {
				if d.Applications[i].ApplicationID == d.Policy.ApplicationID && d.Applications[i].Next == "next."+appview.StatusPolicyActive {
					d.Applications[i].Next = "next.renewalDue"
				}
			}
		}
	}
	p := h.obo(c, h.page(c, "cabinet.title", d))
	p.OnBehalfName = h.applicantName(c, d.Applications)
	return h.render(c, fiber.StatusOK, "cabinet", p)
}

// applicantName is who an operator's applicant is by their newest
// application's form: the name and date of birth to compare with the
// passport in hand. The read is the operator's, in the access log as
// any. Empty for an applicant's own pages, without applications, or when
// the data are erased or cannot be read: the banner then shows the id.
func (h *handlers) applicantName(c *fiber.Ctx, apps []AppRow) string {
	if onBehalfOf(c, session(c)) == "" || len(apps) == 0 || apps[0].Erased != nil {
		return ""
	}
	var v appview.View
	if err := h.get(c, withAfter(c, "/api/v1/applications/"+url.PathEscape(apps[0].ApplicationID), nil), &v); err != nil {
		h.d.Logger.DebugContext(c.UserContext(), "operator banner: the applicant's name is not readable", "err", err)
		return ""
	}
	a := v.Form.Applicant
	name := strings.Join(strings.Fields(a.LastName+" "+a.FirstName+" "+a.MiddleName), " ")
	if name == "" || a.LastName == piicrypt.Marker {
		return ""
	}
	return name + ", " + h.lang(c).Date(a.BirthDate)
}

// nextStep is the catalog key of what an application's owner can do next,
// the same on the cabinet and the application's page: by its status,
// unless its data are erased or, with a policy, the consent is withdrawn
// (then renewing and changing the address are refused).
func nextStep(status string, erased, consentWithdrawn bool) string {
	switch {
	case erased:
		return "next.erased"
	case consentWithdrawn && (status == appview.StatusPolicyActive || status == appview.StatusPolicyExpired):
		return "next.consentWithdrawn"
	}
	return "next." + status
}

func (h *handlers) obo(c *fiber.Ctx, p *Page) *Page {
	p.OnBehalfOf = onBehalfOf(c, session(c))
	return p
}

func (h *handlers) policyCard(c *fiber.Ctx, p appview.Policy, apps []cabinet.Application) *PolicyCard {
	card := &PolicyCard{Policy: p, PDF: "/api/v1/policies/" + url.PathEscape(p.ENP) + "/pdf"}
	if who := onBehalfOf(c, session(c)); who != "" {
		// An operator fetches the policy for the applicant they look at;
		// without it the API refuses (on_behalf_required).
		card.PDF += "?applicant=" + url.QueryEscape(who)
	}
	withdrawn := false
	for _, a := range apps {
		if a.Policy != nil && a.Policy.ENP == p.ENP && a.Policy.ValidTo == p.ValidTo {
			card.ApplicationID = a.ApplicationID
			withdrawn = a.Consent.Withdrawn()
		}
	}
	// After the consent's withdrawal the address is changed in person, but
	// a renewal is still offered: it takes a newly signed consent's scan
	// (the application's page asks for it), which gives the consent again.
	card.DaysLeft, card.RenewOffered = renewal(p, h.d.Now(), h.d.RenewalWindowDays)
	card.AddressChangeOffered = p.Status == "active" && !withdrawn
	return card
}

// renewal says how many days a policy has left and whether renewal is
// offered: within the window before expiry, or once expired.
func renewal(p appview.Policy, now time.Time, window int) (daysLeft int, offered bool) {
	validTo, err := time.ParseInLocation(time.DateOnly, p.ValidTo, msk)
	if err != nil {
		return 0, false
	}
	y, m, d := now.In(msk).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, msk)
	daysLeft = int(validTo.Sub(today).Hours() / 24)
	return daysLeft, p.Status == "expired" || daysLeft <= window
}

// FormData is the multi-step application form.
type FormData struct {
	Steps      []FormStep
	Uploads    []Upload
	Countries  []Option
	ApplicantQ string
	// DraftKey names the page script's draft of the form (see draftKey),
	// so that a draft is never offered to anyone else on the same tab.
	DraftKey string
	// Prefilled: the fields hold the applicant's last application's.
	Prefilled bool
}

// newestApplication is the id of the cabinet's newest application, or "".
func newestApplication(doc cabinet.Doc) string {
	id := ""
	var at time.Time
	for _, a := range doc.Applications {
		if id == "" || a.SubmittedAt.After(at) {
			id, at = a.ApplicationID, a.SubmittedAt
		}
	}
	return id
}

// FormStep is one step of the form.
type FormStep struct {
	ID       string
	Title    string
	Sections []Section
}

// cannotApply says why the cabinet's owner cannot submit a new application
// (a catalog key), or "" when they can: the command refuses a second open
// application or policy — an expired policy included, which is renewed on
// its own application — and any application of an erased account.
func cannotApply(doc cabinet.Doc) string {
	why := ""
	for _, a := range doc.Applications {
		switch {
		case a.Erased != nil:
			return "cabinet.cannotApply.erased"
		case appview.Open(a.Status) || a.Status == appview.StatusPolicyActive || a.Status == appview.StatusPolicyExpired:
			why = "cabinet.cannotApply.open"
		}
	}
	return why
}

func (h *handlers) newApplication(c *fiber.Ctx) error {
	if h.operatorWithoutApplicant(c) {
		return c.Redirect("/operator", fiber.StatusSeeOther)
	}
	// Said before the form, not after five steps of it.
	var doc cabinet.Doc
	if err := h.get(c, withAfter(c, "/api/v1/cabinet", url.Values{"applicant": {onBehalfOf(c, session(c))}}), &doc); err != nil {
		return h.apiFailure(c, err)
	}
	if why := cannotApply(doc); why != "" {
		l := h.lang(c)
		if h.applicantQuery(c) != "" && l.Has(why+".operator") {
			why += ".operator" // told to the operator, of the applicant
		}
		d := ErrorData{Status: fiber.StatusConflict, Message: l.T(why), Title: l.T("cabinet.cannotApply.title"),
			Back: "/cabinet" + h.applicantQuery(c), BackLabel: l.T("nav.cabinet")}
		return h.render(c, fiber.StatusConflict, "error", h.obo(c, h.page(c, "cabinet.cannotApply.title", d)))
	}
	l := h.lang(c)
	// One who applies again (rejected, or withdrawn) finds the form as the
	// last application had it, to correct rather than retype; the scans
	// are uploaded anew, as a rejection is often about them.
	var last struct {
		Form schema.Form `json:"form"`
	}
	prefilled := false
	if id := newestApplication(doc); id != "" {
		err := h.get(c, withAfter(c, "/api/v1/applications/"+url.PathEscape(id), nil), &last)
		switch {
		case isStatus(err, fiber.StatusNotFound):
			// The view has not caught up with the cabinet: an empty form
			// is no worse than before.
		case err != nil:
			return h.apiFailure(c, err)
		default:
			prefilled = true
		}
	}
	f := last.Form
	d := FormData{
		Prefilled: prefilled,
		Steps: []FormStep{
			{ID: "personal", Title: l.T("step.personal"), Sections: []Section{applicantSection(l, "", f.Applicant)}},
			{ID: "documents", Title: l.T("step.documents"), Sections: []Section{identitySection(l, "", f.IdentityDocument), residenceSection(l, "", f.ResidenceDocument)}},
			{ID: "address", Title: l.T("step.address"), Sections: []Section{addressSection(l, "", f.Address), contactsSection(l, "", f.Contacts)}},
			{ID: "scans", Title: l.T("step.scans")},
			{ID: "consent", Title: l.T("step.consent")},
		},
		Uploads:    uploads(l, schema.DocumentKinds, false),
		Countries:  l.countries,
		ApplicantQ: h.applicantQuery(c),
		DraftKey:   h.draftKey(c, ""),
	}
	return h.render(c, fiber.StatusOK, "form", h.obo(c, h.page(c, "form.title", d)))
}

// draftOwner names, in the page script's storage, the person whose drafts
// a page may keep: a keyed digest of who is signed in, the same for each of
// their sign-ins (so that a person whose session ended in the middle of a
// form finds it again after signing in) and never their id itself. "" for
// a page nobody is signed in to, which drops no draft; draftNone for an
// МФЦ operator, whose pages keep none: the computer is the office's, and
// the form is filled in with the applicant there.
func (h *handlers) draftOwner(s Session) string {
	switch {
	case s.ActorID == "":
		return ""
	case s.Role == roleOperator:
		return draftNone
	}
	return keyedDigest(h.d.VerifyKey, "draft-owner", s.ActorID)
}

// draftNone is the draft owner of pages that keep no draft, and
// draftUnknown of a page built without a request (the rate limit's),
// whose script must drop none.
const (
	draftNone    = "none"
	draftUnknown = "unknown"
)

// draftKey names the draft of one form (scope: "" for the application
// form, or an application and its action) for the person signed in; ""
// where no draft is kept.
func (h *handlers) draftKey(c *fiber.Ctx, scope string) string {
	owner := h.draftOwner(session(c))
	if owner == "" || owner == draftNone || onBehalfOf(c, session(c)) != "" {
		return ""
	}
	if scope == "" {
		return owner
	}
	return owner + "-" + keyedDigest(h.d.VerifyKey, "draft-scope", scope)
}

// keyedDigest is a short HMAC of value under key, in a domain of its own.
func keyedDigest(key []byte, domain, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain + "\x00" + value))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// ApplicationData is an application as its applicant sees it.
type ApplicationData struct {
	// Answered are the reviewers' questions answered so far, with the
	// answers, so that what was asked and said stays on the page.
	Answered   []appview.Question
	View       appview.View
	Summary    Summary
	Open       []QuestionForm
	ApplicantQ string
	// Next is the catalog key of what the owner can do next (nextStep).
	Next        string
	CanWithdraw bool
	// CanWithdrawConsent shows the consent withdrawal form: to the
	// applicant and the operator acting for them, while consent stands.
	CanWithdrawConsent bool
	CanAnswer          bool
	// AnswerBy is the last day to answer the open questions, as the
	// applicant was told (empty for questions asked before the term).
	AnswerBy      string
	ChangeAddress *Section
	Renew         *RenewForm
	Policy        *PolicyCard
	// Drafts name the page script's drafts of the answer, address and
	// renewal forms, by action (see draftKey), so that switching the
	// language or reloading keeps what was typed in them.
	Drafts map[string]string
}

// QuestionForm is an open question with what its answer may carry.
type QuestionForm struct {
	Index      int
	Question   appview.Question
	FieldLabel string
	Correction *Section
	Upload     *Upload
	// TextOnly: the question is about no field and no scan, so only a
	// written answer answers it, and the answer is not optional.
	TextOnly bool
}

// RenewForm is the renewal offer.
type RenewForm struct {
	Residence Section
	Upload    Upload
	// Identity and IdentityUpload take a passport replaced since the
	// policy was issued; both optional.
	Identity       Section
	IdentityUpload Upload
	// Consent asks for the consent signed anew, after it was withdrawn:
	// the renewal is refused without it.
	Consent *Upload
}

func (h *handlers) applicantApplication(c *fiber.Ctx) error {
	if h.operatorWithoutApplicant(c) {
		return c.Redirect("/operator", fiber.StatusSeeOther)
	}
	var v appview.View
	if err := h.get(c, withAfter(c, "/api/v1/applications/"+url.PathEscape(c.Params("id")), nil), &v); err != nil {
		return h.apiFailure(c, err)
	}
	l := h.lang(c)
	d := ApplicationData{View: v, Summary: summarize(l, v, false), ApplicantQ: h.applicantQuery(c), Next: nextStep(v.Status, v.Erased != nil, v.Consent.Withdrawn())}
	if who := onBehalfOf(c, session(c)); who != "" {
		// A link sends no X-On-Behalf-Of: an operator's scan links name
		// the applicant, as the policy's does.
		for i := range d.Summary.Scans {
			if d.Summary.Scans[i].URL != "" {
				d.Summary.Scans[i].URL += "?applicant=" + url.QueryEscape(who)
			}
		}
	}
	for _, q := range v.Questions {
		if q.Answered {
			d.Answered = append(d.Answered, q)
		}
	}
	d.CanWithdraw = (session(c).Role == roleApplicant || session(c).Role == roleOperator) &&
		slices.Contains([]string{appview.StatusSubmitted, appview.StatusInReview, appview.StatusInfoRequested}, v.Status)
	d.CanWithdrawConsent = (session(c).Role == roleApplicant || session(c).Role == roleOperator) &&
		v.Erased == nil && v.Consent != nil && v.Consent.WithdrawnAt.IsZero()
	d.Drafts = map[string]string{}
	for _, action := range []string{"provide-info", "change-address", "renew"} {
		// A draft is for the application as it is now: one typed against
		// an earlier revision (other questions, another address) is not
		// offered on this one.
		if k := h.draftKey(c, fmt.Sprintf("%s/%s@%d", v.ApplicationID, action, v.Revision)); k != "" {
			d.Drafts[action] = k
		}
	}
	if v.Status == appview.StatusInfoRequested {
		d.CanAnswer = true
		sections := map[string]bool{}
		n := 0
		for _, q := range v.Questions {
			if q.Answered {
				continue
			}
			if q.AnswerBy > d.AnswerBy {
				d.AnswerBy = q.AnswerBy
			}
			qf := QuestionForm{Index: n, Question: q}
			if q.Field != "" {
				qf.FieldLabel = fieldLabel(l, q.Field)
			}
			if sec := sectionFor(q.Field); sec != "" && !sections[sec] {
				sections[sec] = true
				s := correctionSection(l, sec, v.Form)
				qf.Correction = &s
			}
			kind := q.DocumentKind
			if kind == "" && len(q.Field) > len("/documents") && q.Field[:len("/documents")] == "/documents" {
				kind = schema.DocumentPassport
			}
			if kind != "" {
				u := Upload{Index: n, Kind: kind, Label: l.T("scan." + kind), Hint: l.T("scan.hint"), Optional: true}
				qf.Upload = &u
			}
			qf.TextOnly = textOnly(q.Field, kind)
			d.Open = append(d.Open, qf)
			n++
		}
	}
	if v.Policy != nil {
		d.Policy = h.policyCard(c, *v.Policy, nil)
		d.Policy.ApplicationID = v.ApplicationID
		// After the consent's withdrawal the commands refuse both forms.
		if v.Status == appview.StatusPolicyActive && d.Policy.DaysLeft >= 0 && !v.Consent.Withdrawn() {
			s := addressSection(l, "", v.Form.Address)
			d.ChangeAddress = &s
		}
		if d.Policy.RenewOffered && (v.Status == appview.StatusPolicyActive || v.Status == appview.StatusPolicyExpired) {
			rs := residenceSection(l, "", schema.ResidenceDocument{}).optional()
			ids := identitySection(l, "", schema.IdentityDocument{}).optional()
			d.Renew = &RenewForm{Residence: rs, Upload: Upload{Index: 0, Kind: schema.DocumentResidence, Label: l.T("scan." + schema.DocumentResidence), Hint: l.T("scan.hint"), Optional: true},
				Identity: ids, IdentityUpload: Upload{Index: 1, Kind: schema.DocumentPassport, Label: l.T("scan." + schema.DocumentPassport), Hint: l.T("scan.hint"), Optional: true}}
			if v.Consent.Withdrawn() {
				// Renewing is how the consent is given again.
				d.Renew.Consent = &Upload{Index: 2, Kind: schema.DocumentConsent, Label: l.T("scan." + schema.DocumentConsent), Hint: l.T("renew.consentHint")}
			}
		}
	}
	return h.render(c, fiber.StatusOK, "application", h.obo(c, h.page(c, "application.title", d)))
}

// correctionSection is a form section prefilled with what is on file, sent
// as a correction only if the person changes it.
func correctionSection(l *Lang, sec string, f schema.Form) Section {
	var s Section
	switch sec {
	case "applicant":
		s = applicantSection(l, "/corrections", f.Applicant)
	case "identityDocument":
		s = identitySection(l, "/corrections", f.IdentityDocument)
	case "residenceDocument":
		s = residenceSection(l, "/corrections", f.ResidenceDocument)
	case "address":
		s = addressSection(l, "/corrections", f.Address)
	case "contacts":
		s = contactsSection(l, "/corrections", f.Contacts)
	}
	return s.optional()
}
