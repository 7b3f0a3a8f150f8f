// Package cabinet is the applicant's cabinet read model: one document per
// applicant with their applications (status, the actions they can take now,
// open questions), the current policy and past ones, and an inbox of
// notifications in Russian and English. The applicant and an МФЦ operator
// acting for them read it.
package cabinet

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/projections/visits"
)

// Collection is the cabinet's logical collection; views is the
// projection's own per-application state.
const (
	Collection = "cabinet"
	views      = "cabinet_views"
)

// Doc is the cabinet document served by the query API.
type Doc struct {
	ApplicantID  string           `json:"applicantId"`
	Applications []Application    `json:"applications"`
	Policy       *appview.Policy  `json:"policy,omitempty"`
	PastPolicies []appview.Policy `json:"pastPolicies"`
	Inbox        []Notification   `json:"inbox"`
}

// Application is one application as its applicant sees it.
type Application struct {
	ApplicationID string             `json:"applicationId"`
	Status        string             `json:"status"`
	SubmittedAt   time.Time          `json:"submittedAt"`
	UpdatedAt     time.Time          `json:"updatedAt"`
	Revision      uint64             `json:"revision"`
	Actions       []string           `json:"actions"`
	OpenQuestions []appview.Question `json:"openQuestions"`
	Decision      *appview.Decision  `json:"decision,omitempty"`
	Policy        *appview.Policy    `json:"policy,omitempty"`
	PastPolicies  []appview.Policy   `json:"pastPolicies,omitempty"`
	Region        string             `json:"region"`
	Consent       *appview.Consent   `json:"consent,omitempty"`
	Erased        *appview.Erasure   `json:"erased,omitempty"`
}

// Text is a message in both languages the service speaks.
type Text struct {
	RU string `json:"ru"`
	EN string `json:"en"`
}

// Notification is one inbox message. Its ID is stable (derived from the
// event), so a consumer such as the e-mail sender can deliver it once.
type Notification struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	ApplicationID string    `json:"applicationId"`
	At            time.Time `json:"at"`
	Title         Text      `json:"title"`
	Body          Text      `json:"body"`
}

// Actions the applicant can take in each status; the command API decides,
// this only tells the cabinet which buttons to show.
var actions = map[string][]string{
	appview.StatusSubmitted:     {"withdraw"},
	appview.StatusInReview:      {"withdraw"},
	appview.StatusInfoRequested: {"provide-info", "withdraw"},
	appview.StatusApproved:      {"withdraw"},
	appview.StatusRejected:      {},
	appview.StatusWithdrawn:     {},
	appview.StatusPolicyActive:  {"change-address", "renew"},
	appview.StatusPolicyExpired: {"renew"},
}

// Projection builds cabinets.
type Projection struct {
	// SLADays is the review deadline in working days that the "accepted"
	// notice promises (the queue's OMS_SLA_DAYS); zero means 10.
	SLADays int
}

// Name implements runner.Projection.
func (Projection) Name() string { return "cabinet" }

// Collections implements runner.Projection.
func (Projection) Collections() []runner.Collection {
	// The view is the state the cabinet is derived from: it goes after
	// the cabinet. The operators' visits are an index of their own (see
	// package visits), written in its order.
	return append([]runner.Collection{{Name: Collection, Kind: readstore.KindDocs}, {Name: views, Kind: readstore.KindDocs}}, visits.Collections()...)
}

// Apply implements runner.Projection.
func (p Projection) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if visits.Is(ev) {
		if err := visits.Apply(tx, ev); err != nil {
			return err
		}
		return visitNotice(tx, ev)
	}
	// Each document is checked on its own: after a crash between two
	// collections' writes one may have this event and the other not.
	st, ok, err := appview.NextSlim(tx, views, ev)
	if !ok || err != nil {
		return err
	}
	appID, v := st.ApplicationID, st.After
	if st.Fresh {
		if v.ApplicantID == "" {
			return fmt.Errorf("cabinet: %s %s before the application was submitted", ev.Envelope.Type, appID)
		}
		if err := tx.Put(views, appID, v, nil); err != nil {
			return err
		}
	}
	// The cabinet is written by every stream of its applicant's (their
	// applications and their visits), so its own position cannot say
	// whether it has this event: one application's parked event, replayed
	// after a visit moved the cabinet on, was dropped as applied, and the
	// application never showed (review). What it does is idempotent
	// instead: the application's entry is its view as it stands, and a
	// notice already in the inbox is not added again.
	var doc Doc
	if _, _, err := tx.GetJSON(Collection, v.ApplicantID, &doc); err != nil {
		return err
	}
	doc.ApplicantID = v.ApplicantID
	upsert(&doc, v)
	if n, ok := notify(v, ev, p.SLADays); ok {
		doc.Inbox = withNotice(doc.Inbox, n)
	}
	currentPolicy(&doc)
	if doc.Inbox == nil {
		doc.Inbox = []Notification{}
	}
	return tx.Put(Collection, v.ApplicantID, doc, nil)
}

// visitNotice tells the applicant that an МФЦ operator may now act for
// them, and until when (a visit they did not open themselves, with a code
// seen over their shoulder, they can close at once), and when that ends.
func visitNotice(tx *runner.Tx, ev eventstore.Recorded) error {
	applicant, ok := strings.CutPrefix(ev.Stream, "visit-")
	if !ok {
		return nil
	}
	pl, err := ev.Payload()
	if err != nil {
		return err
	}
	n := Notification{ID: ev.Envelope.EventID, Kind: ev.Envelope.Type, At: ev.Envelope.OccurredAt.UTC()}
	switch e := pl.(type) {
	case schema.VisitOpened:
		until := e.Until.In(moscow)
		ru, en := until.Format("02.01.2006 15:04"), until.Format("2 Jan 2006 15:04")
		n.Title = Text{"Оператор МФЦ открыл приём", "An MFC operator opened a visit"}
		n.Body = Text{
			"По вашему коду оператор МФЦ может действовать от вашего имени до " + ru + " МСК: подавать и отзывать заявления, отвечать на вопросы, менять адрес, продлевать полис, видеть сканы и выписку полиса. Если вы не показывали код, закройте доступ операторам МФЦ в личном кабинете.",
			"With your code an MFC operator may act for you until " + en + " Moscow time: submit and withdraw applications, answer questions, change the address, renew the policy, see the scans and the policy extract. If you did not show anyone the code, end MFC operators' access in your account.",
		}
	case schema.VisitClosed:
		if e.OperatorID != "" {
			n.Title = Text{"Оператор МФЦ завершил приём", "An MFC operator ended the visit"}
			n.Body = Text{"Этот оператор МФЦ больше не может действовать от вашего имени; для нового приёма нужен новый код.",
				"That MFC operator may no longer act for you; a new visit takes a new code."}
		} else {
			n.Title = Text{"Доступ операторов МФЦ закрыт", "MFC operators' access ended"}
			n.Body = Text{"Ни один оператор МФЦ больше не может действовать от вашего имени; неиспользованные коды аннулированы.",
				"No MFC operator may act for you any more; unused codes were voided."}
		}
	default:
		return fmt.Errorf("cabinet: %s holds %T", ev.Envelope.Type, pl)
	}
	// Idempotent, as Apply: the cabinet's position says nothing of this
	// stream's events.
	var doc Doc
	if _, _, err := tx.GetJSON(Collection, applicant, &doc); err != nil {
		return err
	}
	doc.ApplicantID = applicant
	doc.Inbox = withNotice(doc.Inbox, n)
	if doc.Applications == nil {
		doc.Applications = []Application{}
	}
	if doc.PastPolicies == nil {
		doc.PastPolicies = []appview.Policy{}
	}
	return tx.Put(Collection, applicant, doc, nil)
}

// moscow is the time the notices speak: the service's applicants live by it.
var moscow = time.FixedZone("MSK", 3*3600)

// MaxInbox is how many notifications a cabinet keeps, the newest. The
// cabinet is one document per person, rewritten at each of their events;
// without a bound a person's own address changes (about 500 bytes of
// notification each) would in time take it past MongoDB's 16 MB document
// limit, where every projection's flush stalls. The audit history keeps
// every event.
const MaxInbox = 200

// withNotice is inbox with n added in its place by time and, past
// MaxInbox, the oldest left out; a new slice, as inbox may be shared with
// the runner's cache. A notice the inbox holds already (its event applied
// again), or one older than all a full inbox keeps (it would be the one
// left out), leaves the inbox as it is.
func withNotice(inbox []Notification, n Notification) []Notification {
	if slices.ContainsFunc(inbox, func(m Notification) bool { return m.ID == n.ID }) ||
		len(inbox) >= MaxInbox && n.At.Before(inbox[0].At) {
		return inbox
	}
	// After every notice not later than n: live, that is the end; a
	// replayed event's notice goes among those of its time.
	i := len(inbox)
	for i > 0 && n.At.Before(inbox[i-1].At) {
		i--
	}
	out := slices.Insert(slices.Clip(inbox), i, n)
	if len(out) > MaxInbox {
		out = slices.Clone(out[len(out)-MaxInbox:])
	}
	return out
}

// actionsOf lists the commands the applicant can give the application now.
func actionsOf(v *appview.View) []string {
	if v.Erased != nil {
		return []string{} // an erased application takes no commands
	}
	out := slices.Clone(actions[v.Status])
	if v.Status == appview.StatusPolicyActive && (v.Policy == nil || !v.Policy.RenewalReminded) {
		// Renewal opens with the reminder (RenewalDue is recorded when
		// the window opens); before it the command refuses, so no button.
		out = slices.DeleteFunc(out, func(s string) bool { return s == "renew" })
	}
	switch {
	case v.Consent.Withdrawn():
		// No new personal data after it, except a renewal that brings a
		// newly signed consent and so gives it again.
		out = slices.DeleteFunc(out, func(s string) bool { return s == "change-address" })
	case v.Consent != nil:
		out = append(out, "withdraw-consent")
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func upsert(doc *Doc, v *appview.View) {
	a := Application{
		ApplicationID: v.ApplicationID, Status: v.Status, SubmittedAt: v.SubmittedAt, UpdatedAt: v.UpdatedAt,
		Revision: v.Revision, Actions: actionsOf(v), Decision: v.Decision, Policy: v.Policy,
		Region: v.Form.Address.Region, OpenQuestions: []appview.Question{}, PastPolicies: v.PastPolicies,
		Consent: v.Consent, Erased: v.Erased,
	}
	// Open only while the application waits for the answers: a rejection
	// or a withdrawal leaves its questions unanswered for good, and the
	// cabinet went on offering to answer them (decisions QA).
	for _, q := range v.Questions {
		if !q.Answered && v.Status == appview.StatusInfoRequested {
			a.OpenQuestions = append(a.OpenQuestions, q)
		}
	}
	a = forOwner(a)
	// A new slice: doc may share its array with the runner's cached value.
	apps := slices.Clone(doc.Applications)
	i := sort.Search(len(apps), func(i int) bool { return apps[i].ApplicationID >= v.ApplicationID })
	if i == len(apps) || apps[i].ApplicationID != v.ApplicationID {
		apps = slices.Insert(apps, i, a)
	} else {
		apps[i] = a
	}
	doc.Applications = apps
}

// forOwner leaves the staff's ids out of an application: the cabinet is
// read by its applicant and by МФЦ operators (see appview.ForOwner).
func forOwner(a Application) Application {
	a.Decision = appview.OwnerDecision(a.Decision)
	a.OpenQuestions = appview.OwnerQuestions(a.OpenQuestions)
	a.Erased = appview.OwnerErasure(a.Erased)
	return a
}

// ForOwner is doc without the staff's ids, for a cabinet stored before
// the projection left them out.
func ForOwner(doc Doc) Doc {
	apps := make([]Application, len(doc.Applications))
	for i, a := range doc.Applications {
		apps[i] = forOwner(a)
	}
	doc.Applications = apps
	return doc
}

// currentPolicy picks the policy to show — the newest active one, else the
// newest of any status — and lists every other term as past.
func currentPolicy(doc *Doc) {
	doc.Policy = nil
	doc.PastPolicies = []appview.Policy{}
	for i := range doc.Applications {
		p := doc.Applications[i].Policy
		if p == nil {
			continue
		}
		if doc.Policy == nil || (p.Status == "active" && doc.Policy.Status != "active") || (p.Status == doc.Policy.Status && p.ValidTo > doc.Policy.ValidTo) {
			doc.Policy = p
		}
	}
	for i := range doc.Applications {
		a := &doc.Applications[i]
		doc.PastPolicies = append(doc.PastPolicies, a.PastPolicies...)
		if a.Policy != nil && a.Policy != doc.Policy {
			doc.PastPolicies = append(doc.PastPolicies, *a.Policy)
		}
	}
}

func notify(v *appview.View, ev eventstore.Recorded, slaDays int) (Notification, bool) {
	if slaDays <= 0 {
		slaDays = 10
	}
	n := Notification{ID: ev.Envelope.EventID, Kind: ev.Envelope.Type, ApplicationID: v.ApplicationID, At: ev.Envelope.OccurredAt.UTC()}
	switch ev.Envelope.Type {
	case "ApplicationSubmitted":
		n.Title = Text{"Заявление принято в работу", "Application accepted for processing"}
		ruDays, enDays := "рабочих дней", "working days"
		if slaDays%10 == 1 && slaDays%100 != 11 {
			ruDays = "рабочего дня"
		}
		if slaDays == 1 {
			enDays = "working day"
		}
		n.Body = Text{fmt.Sprintf("Мы получили ваше заявление на полис ОМС. Срок рассмотрения — до %d %s.", slaDays, ruDays),
			fmt.Sprintf("We have received your application for an OMS policy. It will be reviewed within %d %s.", slaDays, enDays)}
	case "InfoRequested":
		n.Title = Text{"Нужны дополнительные сведения", "More information is needed"}
		n.Body = Text{"Специалист задал вопросы по заявлению. Ответьте в личном кабинете.",
			"The reviewer has asked questions about your application. Please answer them in your cabinet."}
		if k := len(v.Questions); k > 0 && v.Questions[k-1].AnswerBy != "" {
			ru, en := dateText(v.Questions[k-1].AnswerBy)
			n.Body = Text{"Специалист задал вопросы по заявлению. Ответьте в личном кабинете до " + ru + " включительно: без ответа в заявлении могут отказать.",
				"The reviewer has asked questions about your application. Please answer them in your cabinet by " + en + " inclusive: without an answer the application may be refused."}
		}
	case "ApplicationApproved":
		if p, err := ev.Payload(); err == nil {
			if a, ok := p.(schema.ApplicationApproved); ok && a.WithPolicy {
				// The notice, in the same write, says it all
				// (decisions QA: two notices, the first promising what
				// the second said was done).
				return Notification{}, false
			}
		}
		n.Title = Text{"Заявление одобрено", "Application approved"}
		n.Body = Text{"Ваше заявление одобрено. Полис будет оформлен в ближайшее время.",
			"Your application has been approved. The policy will be issued shortly."}
	case "ApplicationRejected":
		n.Title = Text{"В оформлении полиса отказано", "Application rejected"}
		n.Body = rejectionText(v.Decision)
	case "PolicyIssued":
		n.Title = Text{"Полис ОМС оформлен", "Your OMS policy is issued"}
		ru, en := dateText(v.Policy.ValidTo)
		n.Body = Text{fmt.Sprintf("ЕНП %s, действует до %s. Выписку можно скачать в кабинете.", v.Policy.ENP, ru),
			fmt.Sprintf("Policy number (ENP) %s, valid until %s. You can download the extract in your cabinet.", v.Policy.ENP, en)}
	case "AddressChanged":
		n.Title = Text{"Адрес изменён, полис переоформлен", "Address changed, policy reissued"}
		n.Body = Text{fmt.Sprintf("Новая версия документа полиса: %d. Номер полиса (ЕНП) не изменился.", v.Policy.Document.Version),
			fmt.Sprintf("New policy document version: %d. Your policy number (ENP) stays the same.", v.Policy.Document.Version)}
	case "PolicyRenewed":
		n.Title = Text{"Полис продлён", "Policy renewed"}
		ru, en := dateText(v.Policy.ValidTo)
		n.Body = Text{"Полис действует до " + ru + ".", "The policy is valid until " + en + "."}
	case "PolicyExpired":
		n.Title = Text{"Срок действия полиса истёк", "Your policy has expired"}
		n.Body = Text{"Продлите полис в личном кабинете.", "Renew the policy in your cabinet."}
		if v.Consent.Withdrawn() {
			// Renewing with a newly signed consent gives it again (since
			// session 19); the notice said it could not be done here (QA).
			n.Body = Text{"Согласие на обработку данных отозвано. Чтобы продлить полис в личном кабинете, подпишите согласие заново и приложите его скан к продлению; продлить полис можно и лично в страховой медицинской организации.",
				"The consent to data processing was withdrawn. To renew the policy in your cabinet, sign the consent again and attach its scan to the renewal; you can also renew it in person at the medical insurer."}
		}
	case "RenewalDue":
		if v.Consent.Withdrawn() {
			// A reminder to renew where renewing is refused, written to
			// someone who withdrew their consent: nothing to tell.
			return Notification{}, false
		}
		n.Title = Text{"Пора продлить полис", "Time to renew your policy"}
		// The date, not "in 30 days": the reminder goes when the window
		// opens or, for a shorter term, at once.
		until := ""
		if v.Policy != nil {
			until = v.Policy.ValidTo
		}
		ru, en := dateText(until)
		n.Body = Text{"Срок действия полиса заканчивается " + ru + ". Продлите его в личном кабинете.",
			"Your policy expires on " + en + ". Renew it in your cabinet."}
		// Said to everyone, not worked out from the residence document's
		// expiry: that is personal data, which an erasure replaces, and a
		// notice built from it differed from its rebuild and kept the date.
		n.Body.RU += " Если документ, дающий право на полис, истекает к этой дате, приложите к продлению новый (РВП, ВНЖ или удостоверение беженца; гражданам ЕАЭС — трудовой договор)."
		n.Body.EN += " If the document that gives you the right to the policy expires by then, attach a new one to the renewal (a temporary residence permit, a residence permit or a refugee certificate; for citizens of EAEU states, an employment contract)."
	case "ApplicationWithdrawn":
		n.Title = Text{"Заявление отозвано", "Application withdrawn"}
		n.Body = Text{"Вы отозвали заявление.", "You have withdrawn the application."}
	case "ConsentWithdrawn":
		n.Title = Text{"Согласие на обработку данных отозвано", "Consent to data processing withdrawn"}
		switch {
		case v.Consent != nil && v.Consent.RetainUntil != "":
			ru, en := dateText(v.Consent.RetainUntil)
			n.Body = Text{"Сведения о выданном полисе закон требует хранить до " + ru + ". После этой даты они подлежат удалению; когда данные удалят, здесь появится уведомление.",
				"The law requires keeping the record of the issued policy until " + en + ". After that date it is due for erasure; when your data are erased, a notice will appear here."}
		default:
			// Erasure is the operator's act (the erase command), which the
			// law requires within 30 days of the withdrawal; this notice
			// must not claim it happens by itself.
			n.Body = Text{"Рассмотрение заявления прекращено. Закон (152-ФЗ, ст. 21) обязывает удалить ваши персональные данные в течение 30 дней; когда их удалят, здесь появится уведомление.",
				"The application is no longer processed. The law (152-FZ, art. 21) requires your personal data to be erased within 30 days; when they are erased, a notice will appear here."}
		}
	case "ApplicantDataErased":
		n.Title = Text{"Персональные данные удалены", "Personal data erased"}
		n.Body = Text{"Ваши персональные данные по этому заявлению удалены и больше не могут быть прочитаны.",
			"Your personal data in this application have been erased and can no longer be read."}
	case "InfoProvided":
		if ev.Envelope.Actor.Role != events.RoleOperator {
			return Notification{}, false // the applicant's own answer
		}
		n.Title = Text{"Ответ на вопросы отправлен", "Your answer was sent"}
		n.Body = Text{"Ответ на вопросы специалиста отправлен.", "The answer to the reviewer's questions was sent."}
	default:
		return Notification{}, false
	}
	if ev.Envelope.Actor.Role == events.RoleOperator {
		// What an operator did for the applicant, the applicant learns of
		// it: the one check there is that it was asked for.
		n.Body.RU += " Это сделал оператор МФЦ от вашего имени. Если вы не обращались в МФЦ, сообщите в страховую медицинскую организацию."
		n.Body.EN += " This was done on your behalf by an MFC operator. If you did not visit an MFC, tell the medical insurer."
	}
	return n, true
}

// dateText is a YYYY-MM-DD date as the cabinet and the extract print it:
// 26.12.2026 in Russian, 26 Dec 2026 in English.
func dateText(d string) (ru, en string) {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d, d
	}
	return t.Format("02.01.2006"), t.Format("2 Jan 2006")
}

// rejectReasons name the rejection reason codes for the applicant. The
// reviewer's own words follow as they were written, in whatever language:
// the English reader at least learns the reason from its code.
var rejectReasons = map[string]Text{
	schema.RejectNotEligible:      {"нет права на полис ОМС", "not eligible for an OMS policy"},
	schema.RejectInvalidDocuments: {"документы недействительны", "the documents are invalid"},
	schema.RejectNoResponse:       {"нет ответа на запрос сведений", "no answer to the request for information"},
	schema.RejectDuplicate:        {"повторное заявление", "a duplicate application"},
	schema.RejectOther:            {"другая причина", "another reason"},
}

func rejectionText(d *appview.Decision) Text {
	if d == nil {
		return Text{}
	}
	t := Text{"Причина: ", "Reason: "}
	if r, ok := rejectReasons[d.ReasonCode]; ok {
		t.RU += r.RU
		t.EN += r.EN
	} else {
		t.RU += d.ReasonCode
		t.EN += d.ReasonCode
	}
	if d.Reason != "" {
		t.RU += ". Комментарий специалиста: «" + d.Reason + "»"
		t.EN += ". The reviewer's note: «" + d.Reason + "»"
	}
	// What to do next (decisions QA: the notice stopped at the reason).
	// Not for a duplicate: another application or policy is the person's
	// already.
	if d.ReasonCode != schema.RejectDuplicate {
		t.RU += ". Вы можете подать новое заявление в личном кабинете."
		t.EN += ". You can submit a new application in your cabinet."
	}
	return t
}
