package application

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
)

// ConsentVersion names the consent text in force. A new wording gets a new
// version; applications keep the version they were signed under.
const ConsentVersion = "2025-09-01"

// publishedConsentVersions are every wording ever published, the one in
// force last: a form naming an earlier one is outdated, one naming any
// other names no wording at all.
var publishedConsentVersions = []string{ConsentVersion}

// ConsentText is the consent to the processing of personal data, drawn up
// as a document of its own (152-ФЗ art. 9 part 1 as in force from
// 1 September 2025), in the two languages the service speaks.
var ConsentText = cmderr.T(
	"Согласие на обработку персональных данных.\n"+
		"Я, заявитель, даю согласие страховой медицинской организации и территориальному фонду ОМС "+
		"на обработку моих персональных данных: фамилии, имени, отчества, даты и места рождения, пола, "+
		"гражданства, сведений о документе, удостоверяющем личность, и документе о праве проживания, "+
		"адреса, телефона и адреса электронной почты, а также сканов этих документов. "+
		"Цель обработки — рассмотрение заявления и оформление полиса ОМС (326-ФЗ). "+
		"Действия: сбор, запись, хранение, уточнение, использование, передача в фонд ОМС, удаление. "+
		"Согласие действует до его отзыва. Отозвать согласие можно в личном кабинете или в МФЦ; "+
		"после отзыва данные удаляются, кроме сведений о выданном полисе, которые закон требует хранить.",
	"Consent to the processing of personal data.\n"+
		"I, the applicant, consent to the medical insurer and the territorial ОМС fund processing my "+
		"personal data: surname, given names, patronymic, date and place of birth, sex, citizenship, "+
		"the details of my identity document and residence document, my address, phone and e-mail, "+
		"and the scans of these documents. The purpose is to review the application and issue the ОМС "+
		"policy (Federal Law 326-FZ). Actions: collection, recording, storage, correction, use, transfer "+
		"to the ОМС fund, erasure. The consent lasts until withdrawn. It can be withdrawn in the cabinet "+
		"or at an МФЦ; after that the data are erased, except the record of an issued policy, which the "+
		"law requires to be kept.")

// ConsentTextSHA256 is the hash an application's ConsentGiven records: over
// the version and both texts, so that neither can change unnoticed.
var ConsentTextSHA256 = func() string {
	h := sha256.Sum256([]byte(ConsentVersion + "\n" + ConsentText.RU + "\n" + ConsentText.EN))
	return hex.EncodeToString(h[:])
}()

// consentDocument is the consent document that goes with a submission: the
// signed paper is the form's consent scan.
func consentDocument(f schema.Form, now time.Time) *schema.ConsentDocument {
	c := &schema.ConsentDocument{Version: ConsentVersion, TextSHA256: ConsentTextSHA256,
		Method: schema.ConsentSignedOnPaper, SignedAt: now}
	for _, d := range f.Documents {
		if d.Kind == schema.DocumentConsent {
			c.DocumentID = d.ID
		}
	}
	return c
}

// reSigned is the consent signed anew by a consent scan among news other
// than the one on file, or nil when there is none: the form's consent scan
// and the consent record must name the same paper.
func reSigned(onFile, news []schema.DocumentRef, now time.Time) *schema.ConsentDocument {
	c := consentDocument(schema.Form{Documents: news}, now)
	if c.DocumentID == "" || c.DocumentID == consentDocument(schema.Form{Documents: onFile}, now).DocumentID {
		return nil
	}
	return c
}

// checkConsentVersion refuses a form signed under a wording that is no
// longer in force, or under none this service published: the applicant
// must read the current one.
func (c *checker) checkConsentVersion(v string) {
	if v == "" || v == ConsentVersion {
		return
	}
	if !slices.Contains(publishedConsentVersions, v) {
		c.add("/consentVersion", "unknown_version", cmderr.T(
			fmt.Sprintf("Такой редакции согласия нет (действует редакция %s). Прочитайте действующий текст и подпишите его.", ConsentVersion),
			fmt.Sprintf("There is no such consent version (version %s is in force). Read the text in force and sign it.", ConsentVersion)))
		return
	}
	c.add("/consentVersion", "outdated", cmderr.T(
		fmt.Sprintf("Текст согласия изменился (действует редакция %s). Прочитайте его и подпишите заново.", ConsentVersion),
		fmt.Sprintf("The consent text has changed (version %s is in force). Read it and sign it again.", ConsentVersion)))
}

// WithdrawConsent withdraws the applicant's consent to the processing of
// their personal data in this application.
type WithdrawConsent struct {
	// Optional: withdrawing needs no reason. The json tag stays as it
	// was, because the idempotency fingerprint is the command's JSON and a
	// retry across an upgrade must hash the same.
	Reason string `json:"reason" openapi:"optional"`
}

// Name implements Command.
func (WithdrawConsent) Name() string { return "WithdrawConsent" }

func (c WithdrawConsent) decide(s State, env Env) ([]schema.Event, error) {
	if err := ownerGate(c, s, env, ownerRoles, Statuses...); err != nil {
		return nil, err
	}
	if s.ConsentWithdrawn {
		return nil, conflict("consent_already_withdrawn", "Согласие уже отозвано.", "The consent is already withdrawn.")
	}
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: env.today()}
	reason := cleanParagraphs(c.Reason)
	ch.paragraphs("/reason", reason, false, maxReasonText)
	if err := fields.Err(); err != nil {
		return nil, err
	}
	e := schema.ConsentWithdrawn{ApplicationID: s.ID, WithdrawnAt: env.Now, Reason: reason}
	switch {
	case s.Status.Open() && s.ENP == "":
		// Without consent there is no basis to go on reviewing.
		e.ClosedApplication = true
	case s.ENP != "":
		// The policy record is kept under 326-ФЗ whatever the consent.
		e.RetainUntil = formatDate(retainUntil(s, env.Config))
	}
	return []schema.Event{e}, nil
}

// retainUntil is the last day the law requires keeping an issued policy's
// record: the end of its last term plus the retention period.
func retainUntil(s State, cfg Config) time.Time {
	end, ok := parseDate(s.ValidTo)
	if !ok {
		return time.Time{}
	}
	return end.AddDate(cfg.WithDefaults().RetentionYears, 0, 0)
}

// EraseData erases the applicant's personal data in this application: the
// service destroys the applicant's data key and records the erasure here.
type EraseData struct {
	// Basis is one of schema.EraseBases.
	Basis string `json:"basis"`
	// ScansDeleted is the number of scan blobs the service removed.
	ScansDeleted int `json:"-"`
}

// Name implements Command.
func (EraseData) Name() string { return "EraseApplicantData" }

func (c EraseData) decide(s State, env Env) ([]schema.Event, error) {
	if !s.Exists() {
		return nil, notFound()
	}
	if err := requireRole(c, env.Caller, events.RoleAdmin); err != nil {
		return nil, err
	}
	if err := CheckEraseBasis(c.Basis, env); err != nil {
		return nil, err
	}
	if err := ErasureAllowed(s, env); err != nil {
		return nil, err
	}
	return []schema.Event{schema.ApplicantDataErased{ApplicationID: s.ID, ApplicantID: s.ApplicantID,
		Basis: c.Basis, ErasedAt: env.Now, ScansDeleted: c.ScansDeleted}}, nil
}

// CheckEraseBasis refuses an erasure basis that is not one of
// schema.EraseBases. It is about the request, not about any application, so
// the service checks it once before looking at the applicant's
// applications, and its message names none of them.
func CheckEraseBasis(basis string, env Env) error {
	var fields cmderr.Fields
	ch := &checker{f: &fields, today: env.today()}
	ch.oneOf("/basis", basis, schema.EraseBases)
	return fields.Err()
}

// ErasureAllowed says whether the law lets this application's personal data
// be erased now: never while it is being processed, and for an issued
// policy not before the retention period after its last term ends.
func ErasureAllowed(s State, env Env) error {
	switch {
	case s.Erased:
		return conflict("already_erased", "Персональные данные по этому заявлению уже удалены.", "The personal data of this application are already erased.")
	case s.Status.Open() && s.ENP == "":
		return conflict("erase_while_open",
			"Заявление ещё рассматривается: сначала его нужно отозвать или закрыть.",
			"The application is still being processed: it must be withdrawn or closed first.")
	case s.ENP != "":
		until := retainUntil(s, env.Config)
		if !env.today().After(until) {
			return conflict("retention_required",
				fmt.Sprintf("Сведения о выданном полисе закон требует хранить до %s включительно (срок действия полиса и %d лет после него).", formatDate(until), env.Config.WithDefaults().RetentionYears),
				fmt.Sprintf("The law requires keeping the record of the issued policy through %s (its term plus %d years).", formatDate(until), env.Config.WithDefaults().RetentionYears))
		}
	}
	return nil
}
