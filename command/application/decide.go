package application

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
)

func (c SubmitApplication) decide(s State, env Env) ([]schema.Event, error) {
	if err := requireRole(c, env.Caller, events.RoleApplicant, events.RoleOperator); err != nil {
		return nil, err
	}
	if err := requireSubject(env.Caller); err != nil {
		return nil, err
	}
	if s.Exists() {
		return nil, conflict("already_exists", "Заявление с таким идентификатором уже подано.", "An application with this id already exists.")
	}
	if c.ApplicationID == "" {
		return nil, fmt.Errorf("application: SubmitApplication without an application id")
	}
	subject := env.Caller.Subject()
	form, errs := ValidateForm(Normalize(c.Form), env, subject)
	if len(errs) > 0 {
		return nil, cmderr.Invalid(errs)
	}
	return []schema.Event{schema.ApplicationSubmitted{
		ApplicationID: c.ApplicationID, ApplicantID: subject, SubmittedAt: env.Now, Form: form,
		ConsentDocument: consentDocument(form, env.Now),
	}}, nil
}

func (c ClaimForReview) decide(s State, env Env) ([]schema.Event, error) {
	if err := reviewerCase(c, s, env); err != nil {
		return nil, err
	}
	if s.ReviewerID != "" {
		if s.ReviewerID == env.Caller.ID {
			return nil, conflict("already_claimed", "Вы уже рассматриваете это заявление.", "You are already reviewing this application.")
		}
		return nil, conflict("already_claimed", "Заявление уже рассматривает другой специалист.", "Another reviewer is already reviewing this application.")
	}
	// A new one, or one an administrator took from a reviewer who could
	// not go on, whatever step it had reached (see ReleaseClaim).
	if err := requireState(c, s.Status, claimable...); err != nil {
		return nil, err
	}
	return []schema.Event{schema.ApplicationClaimed{ApplicationID: s.ID, ReviewerID: env.Caller.ID, ClaimedAt: env.Now}}, nil
}

// claimable are the statuses an application may be claimed in when no
// reviewer holds it; held are those in which one may hold it.
var (
	claimable = []Status{StatusSubmitted, StatusInReview, StatusInfoRequested, StatusApproved}
	held      = []Status{StatusInReview, StatusInfoRequested, StatusApproved}
)

func (c ReleaseClaim) decide(s State, env Env) ([]schema.Event, error) {
	if !s.Exists() {
		return nil, notFound()
	}
	admin := env.Caller.Role == events.RoleAdmin
	if admin {
		// Managing the queue decides nothing about the application. Any
		// step a reviewer holds it at: one who left with it waiting on
		// the applicant or approved held it for good, as only they could
		// reject it (decisions QA).
		if err := requireState(c, s.Status, held...); err != nil {
			return nil, err
		}
		if s.ReviewerID == "" {
			return nil, conflict("not_claimed", "Это заявление сейчас никто не рассматривает.", "No reviewer holds this application now.")
		}
	} else if err := reviewerGate(c, s, env, held...); err != nil {
		return nil, err
	}
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: env.today()}
	reason := cleanParagraphs(c.Reason)
	// Taking an application from someone else needs a word why; letting
	// one's own go does not.
	ch.paragraphs("/reason", reason, admin, maxReasonText)
	if err := fields.Err(); err != nil {
		return nil, err
	}
	return []schema.Event{schema.ClaimReleased{ApplicationID: s.ID, ReviewerID: s.ReviewerID, ReleasedBy: env.Caller.ID, ReleasedAt: env.Now, Reason: reason}}, nil
}

// reviewerCase checks that the application exists and that the caller is
// a reviewer who is not a party to it: the start of every reviewer command.
func reviewerCase(c Command, s State, env Env) error {
	if !s.Exists() {
		return notFound()
	}
	if err := requireRole(c, env.Caller, events.RoleReviewer); err != nil {
		return err
	}
	return requireNotOwnCase(s, env.Caller)
}

// reviewerGate is the common gate of the assigned reviewer's decisions.
func reviewerGate(c Command, s State, env Env, allowed ...Status) error {
	if err := reviewerCase(c, s, env); err != nil {
		return err
	}
	if err := requireAssignee(s, env.Caller); err != nil {
		return err
	}
	if err := requireState(c, s.Status, allowed...); err != nil {
		return err
	}
	if s.ReviewerID == "" {
		// Released by an administrator: whoever goes on claims it first.
		return conflict("not_claimed", "Сначала возьмите заявление в работу: сейчас его никто не рассматривает.",
			"Claim the application first: no reviewer holds it now.")
	}
	return nil
}

// ownerGate is the common gate of the owner's commands.
func ownerGate(c Command, s State, env Env, roles []string, allowed ...Status) error {
	if !s.Exists() {
		return notFound()
	}
	if err := requireRole(c, env.Caller, roles...); err != nil {
		return err
	}
	if err := requireOwner(s, env.Caller); err != nil {
		return err
	}
	return requireState(c, s.Status, allowed...)
}

var ownerRoles = []string{events.RoleApplicant, events.RoleOperator}

// formPointers are the JSON pointers of the form's sections and fields, which
// a question may point at. They come from the contract's json tags, so they
// cannot drift from it.
var formPointers = func() map[string]bool {
	m := map[string]bool{}
	var walk func(reflect.Type, string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			p := prefix + "/" + name
			m[p] = true
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, p)
			}
		}
	}
	walk(reflect.TypeOf(schema.Form{}), "")
	// Set by the service, not typed by the applicant: a question about it
	// could only be answered in words (decisions QA).
	delete(m, "/consentVersion")
	return m
}()

func (c RequestInfo) decide(s State, env Env) ([]schema.Event, error) {
	// Also once approved: the policy cannot be issued after the residence
	// document (or the passport) has run out, and the reviewer must be
	// able to ask for the new one; the application then goes back to
	// review. Without it an approved application whose document expired
	// before issue was stuck for good (time QA).
	if err := reviewerGate(c, s, env, StatusInReview, StatusApproved); err != nil {
		return nil, err
	}
	if s.InfoRounds >= maxInfoRounds {
		// What is left to do depends on the step: an approved one is
		// issued or rejected, not approved again (decisions QA).
		ru, en := "примите решение (одобрить или отклонить)", "decide it (approve or reject)"
		if s.Status == StatusApproved {
			ru, en = "оформите полис или откажите", "issue the policy or reject the application"
		}
		return nil, conflict("too_many_info_requests",
			fmt.Sprintf("По заявлению уже было %d запросов сведений — больше нельзя: %s.", maxInfoRounds, ru),
			fmt.Sprintf("The application has had %d information requests, the most allowed: %s.", maxInfoRounds, en))
	}
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: env.today()}
	switch {
	case len(c.Questions) == 0:
		ch.add("/questions", "required", cmderr.T("Задайте хотя бы один вопрос.", "Ask at least one question."))
	case len(c.Questions) > maxQuestions:
		ch.add("/questions", "too_many", cmderr.T(fmt.Sprintf("Не больше %d вопросов.", maxQuestions), fmt.Sprintf("At most %d questions.", maxQuestions)))
	}
	round := s.InfoRounds + 1
	qs := make([]schema.Question, 0, len(c.Questions))
	for i, q := range c.Questions {
		if i >= maxQuestions {
			break
		}
		p := fmt.Sprintf("/questions/%d", i)
		q.Text, q.Field, q.DocumentKind = cleanParagraphs(q.Text), strings.TrimSpace(q.Field), strings.TrimSpace(q.DocumentKind)
		ch.paragraphs(p+"/text", q.Text, true, maxQuestionText)
		if q.Field != "" && !formPointers[q.Field] {
			ch.add(p+"/field", "unknown_field", cmderr.T("Такого поля в форме нет; укажите JSON-указатель, например /residenceDocument/issuedAt.", "The form has no such field; give a JSON pointer such as /residenceDocument/issuedAt."))
		}
		if q.DocumentKind != "" {
			ch.oneOf(p+"/documentKind", q.DocumentKind, schema.DocumentKinds)
		}
		qs = append(qs, schema.Question{ID: fmt.Sprintf("%d.%d", round, i+1), Text: q.Text, Field: q.Field, DocumentKind: q.DocumentKind})
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	return []schema.Event{schema.InfoRequested{ApplicationID: s.ID, ReviewerID: env.Caller.ID, RequestedAt: env.Now, Questions: qs,
		AnswerBy: formatDate(env.Config.answerBy(env.Now))}}, nil
}

// normCorrections normalises the corrected sections as Normalize does.
func normCorrections(c schema.Corrections) schema.Corrections {
	f := Normalize(applyCorrections(schema.Form{}, c))
	if c.Applicant != nil {
		c.Applicant = &f.Applicant
	}
	if c.IdentityDocument != nil {
		c.IdentityDocument = &f.IdentityDocument
	}
	if c.ResidenceDocument != nil {
		c.ResidenceDocument = &f.ResidenceDocument
	}
	if c.Address != nil {
		c.Address = &f.Address
	}
	if c.Contacts != nil {
		c.Contacts = &f.Contacts
	}
	return c
}

// section returns the pointer prefix of a form section: under /corrections
// when the request corrected it, at the form's root otherwise (an old value
// that stopped being valid, such as a document that expired meanwhile).
func section(name string, corrected bool) string {
	if corrected {
		return "/corrections/" + name
	}
	return "/" + name
}

// mergeDocuments replaces the scans of the kinds in news.
func mergeDocuments(old, news []schema.DocumentRef) []schema.DocumentRef {
	out := make([]schema.DocumentRef, 0, len(old)+len(news))
	for _, d := range old {
		if !slices.ContainsFunc(news, func(n schema.DocumentRef) bool { return n.Kind == d.Kind }) {
			out = append(out, d)
		}
	}
	out = append(out, news...)
	slices.SortStableFunc(out, func(a, b schema.DocumentRef) int {
		return slices.Index(schema.DocumentKinds, a.Kind) - slices.Index(schema.DocumentKinds, b.Kind)
	})
	return out
}

func (c ProvideInfo) decide(s State, env Env) ([]schema.Event, error) {
	if err := ownerGate(c, s, env, ownerRoles, StatusInfoRequested); err != nil {
		return nil, err
	}
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: env.today()}
	corr := normCorrections(c.Corrections)
	// Normalized whole: a form stored before cleanText existed may hold
	// pasted invisibles in a section this answer does not touch, which
	// must not now be refused as if the applicant had just typed them.
	form := Normalize(applyCorrections(s.Form, corr))

	birth := ch.validateApplicant(section("applicant", corr.Applicant != nil), form.Applicant)
	ch.validateIdentity(section("identityDocument", corr.IdentityDocument != nil), form.IdentityDocument, birth)
	ch.storedResidence = corr.ResidenceDocument == nil
	ch.validateResidence(section("residenceDocument", corr.ResidenceDocument != nil), form.ResidenceDocument, birth, form.Applicant.Citizenship)
	ch.storedResidence = false
	ch.storedAddress = corr.Address == nil
	ch.validateAddress(section("address", corr.Address != nil), form.Address)
	ch.storedAddress = false
	ch.validateContacts(section("contacts", corr.Contacts != nil), form.Contacts)
	sent := Normalize(schema.Form{Documents: c.Documents}).Documents
	news := ch.validateDocuments("/documents", sent, env, s.ApplicantID, nil)
	onFile := func(d schema.DocumentRef) bool {
		return slices.ContainsFunc(s.Form.Documents, func(f schema.DocumentRef) bool { return f.ID == d.ID })
	}
	for i, d := range sent {
		if !onFile(d) && slices.Contains(s.Held, d.ID) {
			ch.add(fmt.Sprintf("/documents/%d/id", i), "replaced_scan", cmderr.T(
				"Этот скан уже был в заявлении и заменён другим; загрузите новый скан.",
				"This scan was in the application before and has been replaced; upload a new scan."))
		}
	}

	answered := map[string]bool{}
	first := map[string]int{} // question → index of its first answer
	answers := make([]schema.Answer, 0, len(c.Answers))
	for i, a := range c.Answers {
		p := fmt.Sprintf("/answers/%d", i)
		a.QuestionID, a.Text = strings.TrimSpace(a.QuestionID), cleanParagraphs(a.Text)
		if !slices.ContainsFunc(s.Questions, func(q schema.Question) bool { return q.ID == a.QuestionID }) {
			ch.add(p+"/questionId", "unknown_question", cmderr.T("Такого вопроса нет в запросе.", "The request has no such question."))
			continue
		}
		if j, dup := first[a.QuestionID]; dup {
			// Two answers to one question: keeping either would silently
			// drop the other.
			ch.add(p+"/questionId", "duplicate", cmderr.T(
				fmt.Sprintf("На вопрос %s уже отвечает ответ №%d; объедините ответы в один.", a.QuestionID, j+1),
				fmt.Sprintf("Question %s is already answered by answer %d; put both into one answer.", a.QuestionID, j+1)))
			continue
		}
		first[a.QuestionID] = i
		if ch.paragraphs(p+"/text", a.Text, true, maxAnswerText) {
			answered[a.QuestionID] = true
			answers = append(answers, a)
		}
	}
	for _, q := range s.Questions {
		if answered[q.ID] || addressedBy(q, corr, neverHeld(news, s.Held)) {
			continue
		}
		// The scan on file sent again for a question asking for a new
		// one changes nothing, which is fine, but answers nothing either:
		// said at the scan, not only as the question left unanswered (QA).
		for i, d := range sent {
			if q.DocumentKind != "" && d.Kind == q.DocumentKind && onFile(d) {
				ch.add(fmt.Sprintf("/documents/%d/id", i), "already_attached", cmderr.T(
					"Этот скан уже приложен к заявлению; на вопрос отвечает только новый скан — загрузите его.",
					"This scan is already attached to the application; only a new scan answers the question: upload one."))
			}
		}
		ch.add("/answers", "unanswered", cmderr.T(
			fmt.Sprintf("Ответьте на вопрос %s: «%s» — текстом, исправлением поля или новым сканом.", q.ID, q.Text),
			fmt.Sprintf("Answer question %s (%q) with a text, a corrected field or a new scan.", q.ID, q.Text)))
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	return []schema.Event{schema.InfoProvided{
		ApplicationID: s.ID, ProvidedAt: env.Now, Answers: answers, Corrections: corr,
		NewDocuments: news, Documents: mergeDocuments(s.Form.Documents, news),
		ConsentDocument: reSigned(s.Form.Documents, news, env.Now),
	}}, nil
}

// neverHeld are the scans of sent that the application has never had: one
// on file sent again changes nothing, and neither it nor one replaced
// before answers a question that asked for a new scan.
func neverHeld(sent []schema.DocumentRef, held []string) []schema.DocumentRef {
	var out []schema.DocumentRef
	for _, d := range sent {
		if !slices.Contains(held, d.ID) {
			out = append(out, d)
		}
	}
	return out
}

// addressedBy reports whether a question is answered without text: by
// correcting the section of its field or by a new scan of its kind.
func addressedBy(q schema.Question, c schema.Corrections, news []schema.DocumentRef) bool {
	hasKind := func(k string) bool {
		return slices.ContainsFunc(news, func(d schema.DocumentRef) bool { return d.Kind == k })
	}
	if q.DocumentKind != "" && hasKind(q.DocumentKind) {
		return true
	}
	sec, _, _ := strings.Cut(strings.TrimPrefix(q.Field, "/"), "/")
	switch sec {
	case "applicant":
		return c.Applicant != nil
	case "identityDocument":
		return c.IdentityDocument != nil
	case "residenceDocument":
		return c.ResidenceDocument != nil
	case "address":
		return c.Address != nil
	case "contacts":
		return c.Contacts != nil
	case "documents":
		return len(news) > 0
	}
	return false
}

// residenceValid reports whether the residence document is valid on day.
func residenceValidOn(d schema.ResidenceDocument, day time.Time) bool {
	if d.ExpiresAt == "" {
		return d.Type == schema.ResidenceVNZh
	}
	exp, ok := parseDate(d.ExpiresAt)
	return ok && !exp.Before(day)
}

// identityValidOn refuses an identity document that has run out by day:
// a policy is not approved or issued on an expired passport, any more than
// on an expired residence document (time QA: approval went through a day
// after the passport ended). One without an expiry date is not judged.
func identityValidOn(d schema.IdentityDocument, day time.Time) error {
	if exp, ok := parseDate(d.ExpiresAt); ok && exp.Before(day) {
		return conflict("identity_expired",
			"Срок действия документа, удостоверяющего личность, истёк. Запросите у заявителя действующий документ.",
			"The identity document has expired. Ask the applicant for a valid one.")
	}
	return nil
}

func errResidenceExpired() error {
	return conflict("residence_expired",
		"Срок действия документа о праве проживания истёк: полис на него выдать нельзя. Запросите у заявителя действующий документ.",
		"The residence document has expired, so no policy can rest on it. Ask the applicant for a valid document.")
}

// term computes a policy term starting on start: the configured length,
// capped at the residence document's expiry. ok is false when the document
// ends before the term would start.
func term(start time.Time, d schema.ResidenceDocument, cfg Config) (validTo time.Time, ok bool) {
	validTo = monthsEnd(start, cfg.PolicyTermMonths)
	if d.ExpiresAt != "" {
		if exp, ok := parseDate(d.ExpiresAt); ok && exp.Before(validTo) {
			validTo = exp
		}
	}
	return validTo, !validTo.Before(start)
}

// monthsEnd is the last day of a term of months that starts on start: the
// day before the date that matches start in the term's last month, or
// that month's last day when it has no such date (Civil Code art. 192
// p. 3). Go's AddDate rolls a missing day into the next month, and a
// six-month term from 31 August ended on 2 March. Counting instead from
// the day before start (as until session 25) lost days whenever that day
// was a month's last: a year from 1 March 2027 ended on 28 February 2028,
// not the 29th, and six months from 1 May on 30 October (decisions QA).
func monthsEnd(start time.Time, months int) time.Time {
	first := time.Date(start.Year(), start.Month()+time.Month(months), 1, 0, 0, 0, 0, start.Location())
	last := first.AddDate(0, 1, -1)
	if start.Day() > last.Day() {
		return last
	}
	return first.AddDate(0, 0, start.Day()-2)
}

func policyDocument(enp string, version int, day time.Time) schema.PolicyDocument {
	return schema.PolicyDocument{Number: fmt.Sprintf("%s-%02d", enp, version), Version: version, IssuedAt: formatDate(day)}
}

// issue builds PolicyIssued for an approved application.
func issue(s State, env Env, enp string, automatic bool) (schema.Event, error) {
	if !ValidENP(enp) {
		return nil, fmt.Errorf("application: issuing a policy with an invalid ЕНП %q", enp)
	}
	today := env.today()
	validTo, ok := term(today, s.Form.ResidenceDocument, env.Config)
	if !ok {
		return nil, errResidenceExpired()
	}
	if err := identityValidOn(s.Form.IdentityDocument, today); err != nil {
		return nil, err
	}
	return schema.PolicyIssued{
		ApplicationID: s.ID, ApplicantID: s.ApplicantID, ENP: enp,
		ValidFrom: formatDate(today), ValidTo: formatDate(validTo),
		Document: policyDocument(enp, 1, today), Region: s.Form.Address.Region,
		IssuedAt: env.Now, Automatic: automatic,
	}, nil
}

func (c Approve) decide(s State, env Env) ([]schema.Event, error) {
	if err := reviewerGate(c, s, env, StatusInReview); err != nil {
		return nil, err
	}
	if !residenceValidOn(s.Form.ResidenceDocument, env.today()) {
		return nil, errResidenceExpired()
	}
	if err := identityValidOn(s.Form.IdentityDocument, env.today()); err != nil {
		return nil, err
	}
	out := []schema.Event{schema.ApplicationApproved{ApplicationID: s.ID, ReviewerID: env.Caller.ID, ApprovedAt: env.Now, WithPolicy: env.Config.AutoIssue}}
	if env.Config.AutoIssue {
		s.Status = StatusApproved
		p, err := issue(s, env, c.ENP, true)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (c Reject) decide(s State, env Env) ([]schema.Event, error) {
	// Approved but not issued may still be refused (see RequestInfo).
	if err := reviewerGate(c, s, env, StatusInReview, StatusInfoRequested, StatusApproved); err != nil {
		return nil, err
	}
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: env.today()}
	code, reason := strings.TrimSpace(c.ReasonCode), cleanParagraphs(c.Reason)
	ch.oneOf("/reasonCode", code, schema.RejectReasons)
	switch {
	case code != schema.RejectNoResponse:
	case s.Status != StatusInfoRequested:
		// The refusal tells the applicant they did not reply: true only
		// while a request waits for their answer.
		fields.Add("/reasonCode", "no_open_request", cmderr.T(
			"Заявление не ждёт ответа заявителя: вопросов не задавали или на них уже ответили. Причина «Нет ответа на запрос» здесь не подходит.",
			"The application waits for no answer from the applicant: no request was made, or it was answered. \"No response to the request\" is not the reason here."))
	case !env.today().After(s.answerBy(env.Config)):
		// Nor before the term they were told to answer in has run out.
		ru, en := spokenDate(s.answerBy(env.Config))
		fields.Add("/reasonCode", "answer_term_running", cmderr.T(
			"Срок ответа заявителя ещё идёт — до "+ru+" включительно. Причина «Нет ответа на запрос» возможна после него.",
			"The applicant has until "+en+" inclusive to answer. \"No response to the request\" is the reason only after that."))
	}
	ch.paragraphs("/reason", reason, true, maxReasonText)
	if err := fields.Err(); err != nil {
		return nil, err
	}
	return []schema.Event{schema.ApplicationRejected{ApplicationID: s.ID, ReviewerID: env.Caller.ID, RejectedAt: env.Now, ReasonCode: code, Reason: reason}}, nil
}

func (c IssuePolicy) decide(s State, env Env) ([]schema.Event, error) {
	if err := reviewerCase(c, s, env); err != nil {
		return nil, err
	}
	if err := requireState(c, s.Status, StatusApproved); err != nil {
		return nil, err
	}
	p, err := issue(s, env, c.ENP, false)
	if err != nil {
		return nil, err
	}
	return []schema.Event{p}, nil
}

func errPolicyOver(validTo string) error {
	ru, en := spokenDay(validTo)
	return conflict("policy_expired",
		fmt.Sprintf("Срок действия полиса закончился %s. Сначала продлите полис.", ru),
		fmt.Sprintf("The policy's validity ended on %s. Renew the policy first.", en))
}

// errConsentWithdrawn refuses new personal data in an application whose
// consent was withdrawn: from then on the service keeps the issued
// policy's record, as the law requires, and processes nothing new.
func errConsentWithdrawn() error {
	return conflict("consent_withdrawn",
		"Согласие на обработку персональных данных по этому заявлению отозвано, и новые данные в нём не обрабатываются. "+
			"Сведения о полисе хранятся, пока этого требует закон; изменить их можно лично в страховой медицинской организации.",
		"The consent to the processing of personal data in this application was withdrawn, and no new data are processed in it. "+
			"The policy's record is kept for as long as the law requires; to change it, visit the medical insurer in person.")
}

func (c ChangeAddress) decide(s State, env Env) ([]schema.Event, error) {
	if err := ownerGate(c, s, env, ownerRoles, StatusPolicyActive); err != nil {
		return nil, err
	}
	if s.ConsentWithdrawn {
		return nil, errConsentWithdrawn()
	}
	today := env.today()
	if validTo, ok := parseDate(s.ValidTo); !ok || validTo.Before(today) {
		return nil, errPolicyOver(s.ValidTo)
	}
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: today}
	addr := normAddress(c.Address)
	ch.validateAddress("/address", addr)
	// The stored address normalised too: one stored before spaces were
	// collapsed is still the address typed again as it was.
	if len(fields.List()) == 0 && sameAddress(addr, normAddress(s.Form.Address)) {
		ch.add("/address", "unchanged", cmderr.T("Это тот же адрес, что указан в полисе.", "This is the address the policy already has."))
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	return []schema.Event{schema.AddressChanged{
		ApplicationID: s.ID, Address: addr, ChangedAt: env.Now, ENP: s.ENP,
		ValidFrom: s.ValidFrom, ValidTo: s.ValidTo,
		Document: policyDocument(s.ENP, s.Document.Version+1, today),
	}}, nil
}

func (c Renew) decide(s State, env Env) ([]schema.Event, error) {
	if err := ownerGate(c, s, env, ownerRoles, StatusPolicyActive, StatusPolicyExpired); err != nil {
		return nil, err
	}
	today := env.today()
	validTo, _ := parseDate(s.ValidTo)
	if s.Status == StatusPolicyActive {
		opens := validTo.AddDate(0, 0, -env.Config.RenewalWindowDays)
		if today.Before(opens) {
			toRU, toEN := spokenDate(validTo)
			opRU, opEN := spokenDate(opens)
			return nil, conflict("renewal_too_early",
				fmt.Sprintf("Полис действует до %s; продлить его можно с %s.", toRU, opRU),
				fmt.Sprintf("The policy is valid until %s; it can be renewed from %s.", toEN, opEN))
		}
	}
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: today}
	birth, _ := parseDate(s.Form.Applicant.BirthDate)
	residence, identity := s.Form.ResidenceDocument, s.Form.IdentityDocument
	var required []string
	if c.ResidenceDocument != nil {
		residence = normResidence(*c.ResidenceDocument)
		ch.validateResidence("/residenceDocument", residence, birth, s.Form.Applicant.Citizenship)
		required = append(required, schema.DocumentResidence)
	}
	if c.IdentityDocument != nil {
		// A passport replaced since the policy was issued: the renewal is
		// where the holder gives the new one, with its scan.
		identity = normIdentity(*c.IdentityDocument)
		ch.validateIdentity("/identityDocument", identity, birth)
		required = append(required, schema.DocumentPassport)
	}
	sent := Normalize(schema.Form{Documents: c.Documents}).Documents
	news := ch.validateDocuments("/documents", sent, env, s.ApplicantID, required)
	if s.ConsentWithdrawn && reSigned(s.Form.Documents, news, env.Now) == nil {
		// Consent withdrawn, nothing new is processed until it is given
		// again: a renewal that brings a newly signed consent gives it.
		return nil, conflict("consent_withdrawn",
			"Согласие на обработку персональных данных по этому полису отозвано. Чтобы продлить полис, подпишите согласие заново и приложите его скан к продлению.",
			"The consent to the processing of personal data for this policy was withdrawn. To renew the policy, sign the consent again and attach its scan to the renewal.")
	}
	for i, d := range sent {
		// A new document's scan must be new: the one on file is of the
		// document being replaced.
		switch {
		case !slices.Contains(required, d.Kind) || !slices.Contains(s.Held, d.ID):
		case slices.ContainsFunc(s.Form.Documents, func(f schema.DocumentRef) bool { return f.ID == d.ID }):
			ch.add(fmt.Sprintf("/documents/%d/id", i), "already_attached", cmderr.T(
				"Этот скан уже приложен к заявлению; загрузите скан нового документа.",
				"This scan is already attached to the application; upload the scan of the new document."))
		default:
			ch.add(fmt.Sprintf("/documents/%d/id", i), "replaced_scan", cmderr.T(
				"Этот скан уже был в заявлении и заменён другим; загрузите скан нового документа.",
				"This scan was in the application before and has been replaced; upload the scan of the new document."))
		}
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	if err := identityValidOn(identity, today); err != nil {
		// Not renewed on an expired passport, as it was not issued on one.
		return nil, conflict("identity_expired",
			"Срок действия документа, удостоверяющего личность, который указан в полисе, истёк. Укажите в продлении действующий документ и приложите его скан.",
			"The identity document on the policy has expired. Give the valid one in the renewal and attach its scan.")
	}
	start := today
	if s.Status == StatusPolicyActive && !validTo.Before(today) {
		start = validTo.AddDate(0, 0, 1)
	}
	end, ok := term(start, residence, env.Config)
	if !ok || !residenceValidOn(residence, today.AddDate(0, 0, 1)) {
		// The refusal names the first expiry date that would do: the
		// term's first day, and never today (QA: it said "beyond" the
		// first day, while a document ending on it was taken).
		least := start
		if tomorrow := today.AddDate(0, 0, 1); least.Before(tomorrow) {
			least = tomorrow
		}
		leastRU, leastEN := spokenDate(least)
		startRU, startEN := spokenDate(start)
		if c.ResidenceDocument != nil {
			ch.add("/residenceDocument/expiresAt", "expires_too_soon", cmderr.T(
				fmt.Sprintf("Документ должен действовать по меньшей мере по %s включительно; новый срок полиса начнётся %s.", leastRU, startRU),
				fmt.Sprintf("The document must be valid at least through %s; the new policy term starts on %s.", leastEN, startEN)))
		} else {
			expRU, expEN := spokenDay(residence.ExpiresAt)
			ch.add("/residenceDocument", "required", cmderr.T(
				fmt.Sprintf("Документ о праве проживания в заявлении действует до %s. Для продления приложите действующий документ и его скан.", expRU),
				fmt.Sprintf("The residence document on file is valid until %s. To renew, give a valid document and its scan.", expEN)))
		}
		return nil, fields.Err()
	}
	return []schema.Event{schema.PolicyRenewed{
		ApplicationID: s.ID, ENP: s.ENP, ValidFrom: formatDate(start), ValidTo: formatDate(end),
		Document: policyDocument(s.ENP, s.Document.Version+1, today), ResidenceDocument: residence,
		IdentityDocument: changedIdentity(c.IdentityDocument, identity), NewDocuments: news, Documents: mergeDocuments(s.Form.Documents, news), RenewedAt: env.Now,
		ConsentDocument: reSigned(s.Form.Documents, news, env.Now),
	}}, nil
}

// changedIdentity is the identity document a renewal records: the new
// one when the holder gave one, nil when the one on file goes on.
func changedIdentity(given *schema.IdentityDocument, normalised schema.IdentityDocument) *schema.IdentityDocument {
	if given == nil {
		return nil
	}
	return &normalised
}

func (c Withdraw) decide(s State, env Env) ([]schema.Event, error) {
	// At an МФЦ the applicant decides in person and the operator records
	// it, as with the consent (WithdrawConsent).
	if err := ownerGate(c, s, env, ownerRoles, StatusSubmitted, StatusInReview, StatusInfoRequested, StatusApproved); err != nil {
		return nil, err
	}
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: env.today()}
	reason := cleanParagraphs(c.Reason)
	ch.paragraphs("/reason", reason, false, maxReasonText)
	if err := fields.Err(); err != nil {
		return nil, err
	}
	return []schema.Event{schema.ApplicationWithdrawn{ApplicationID: s.ID, WithdrawnAt: env.Now, Reason: reason}}, nil
}

func (c ExpirePolicy) decide(s State, env Env) ([]schema.Event, error) {
	if !s.Exists() {
		return nil, notFound()
	}
	if err := requireRole(c, env.Caller, events.RoleSystem); err != nil {
		return nil, err
	}
	if err := requireState(c, s.Status, StatusPolicyActive); err != nil {
		return nil, err
	}
	if validTo, ok := parseDate(s.ValidTo); ok && !validTo.Before(env.today()) {
		return nil, conflict("not_yet_expired",
			fmt.Sprintf("Полис действует до %s включительно.", s.ValidTo),
			fmt.Sprintf("The policy is valid through %s.", s.ValidTo))
	}
	return []schema.Event{schema.PolicyExpired{ApplicationID: s.ID, ENP: s.ENP, ValidTo: s.ValidTo, ExpiredAt: env.Now}}, nil
}

func (c RemindRenewal) decide(s State, env Env) ([]schema.Event, error) {
	if !s.Exists() {
		return nil, notFound()
	}
	if err := requireRole(c, env.Caller, events.RoleSystem); err != nil {
		return nil, err
	}
	if err := requireState(c, s.Status, StatusPolicyActive); err != nil {
		return nil, err
	}
	if s.RemindedFor == s.ValidTo {
		return nil, conflict("already_reminded",
			"Напоминание о продлении этого срока уже отправлено.",
			"The renewal reminder for this term was already sent.")
	}
	validTo, ok := parseDate(s.ValidTo)
	if !ok {
		return nil, conflict("no_term", "У полиса нет срока действия.", "The policy has no term.")
	}
	if validTo.Before(env.today()) {
		// The reminder says the policy is valid until validTo; past it,
		// the expiry is what is owed.
		return nil, conflict("term_ended",
			fmt.Sprintf("Срок действия полиса закончился %s: напоминание о продлении уже не нужно.", s.ValidTo),
			fmt.Sprintf("The policy's term ended on %s: a renewal reminder is no longer due.", s.ValidTo))
	}
	if opens := validTo.AddDate(0, 0, -env.Config.RenewalWindowDays); env.today().Before(opens) {
		return nil, conflict("renewal_not_due",
			fmt.Sprintf("Напоминать о продлении рано: окно продления открывается %s.", formatDate(opens)),
			fmt.Sprintf("Too early for a renewal reminder: the renewal window opens on %s.", formatDate(opens)))
	}
	return []schema.Event{schema.RenewalDue{ApplicationID: s.ID, ENP: s.ENP, ValidTo: s.ValidTo, RemindedAt: env.Now}}, nil
}
