package cabinet

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// The cabinet offers what the command side would accept: renewal only
// once its window opened (the reminder), nothing on an erased
// application.
func TestActionsOf(t *testing.T) {
	active := func(reminded bool) *appview.View {
		return &appview.View{Status: appview.StatusPolicyActive, Policy: &appview.Policy{Status: "active", RenewalReminded: reminded},
			Consent: &appview.Consent{}}
	}
	withdrawn := active(true)
	withdrawn.Consent = &appview.Consent{WithdrawnAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	erased := active(true)
	erased.Erased = &appview.Erasure{}
	for name, tc := range map[string]struct {
		v    *appview.View
		want []string
	}{
		"active, window not open": {active(false), []string{"change-address", "withdraw-consent"}},
		"active, reminded":        {active(true), []string{"change-address", "renew", "withdraw-consent"}},
		"expired":                 {&appview.View{Status: appview.StatusPolicyExpired}, []string{"renew"}},
		// No new personal data after it, but a renewal that brings a new
		// consent (QA: the command took it while the cabinet hid it).
		"consent withdrawn": {withdrawn, []string{"renew"}},
		"erased":            {erased, []string{}},
		"in review":         {&appview.View{Status: appview.StatusInReview}, []string{"withdraw"}},
	} {
		if got := actionsOf(tc.v); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
	// The table is not changed by a call.
	if !slices.Contains(actions[appview.StatusPolicyActive], "renew") {
		t.Fatal("actionsOf changed the shared table")
	}
}

// The withdrawal notice promises nothing that happens by itself: erasure
// is the operator's act, and the notice says when it is due, in both
// languages.
func TestConsentWithdrawnNoticeIsTruthful(t *testing.T) {
	for name, c := range map[string]*appview.Consent{
		"closed":        {WithdrawnAt: time.Now()},
		"policy record": {WithdrawnAt: time.Now(), RetainUntil: "2032-11-25"},
	} {
		v := &appview.View{Status: appview.StatusWithdrawn, Consent: c}
		n, ok := notify(v, recordedOf(t, "ConsentWithdrawn"), 0)
		if !ok {
			t.Fatalf("%s: no notice", name)
		}
		for _, text := range []string{n.Body.RU, n.Body.EN} {
			if strings.Contains(text, "будут удалены") || strings.Contains(text, "will be erased") {
				t.Errorf("%s: %q promises an erasure that nothing performs", name, text)
			}
		}
		if ru, _ := dateText(c.RetainUntil); c.RetainUntil != "" && !strings.Contains(n.Body.RU, ru) {
			t.Errorf("%s: %q does not say until when", name, n.Body.RU)
		}
	}
}

func recordedOf(t *testing.T, typ string) eventstore.Recorded {
	t.Helper()
	return eventstore.Recorded{Envelope: events.Envelope{Type: typ, EventID: "e1", OccurredAt: time.Now()}}
}

// Notices print dates as the cabinet and the extract do, and the renewal
// reminder names the day the policy ends instead of a fixed "30 days".
func TestNoticeDates(t *testing.T) {
	v := &appview.View{Status: appview.StatusPolicyActive, Policy: &appview.Policy{ENP: "1", ValidTo: "2026-12-26", Status: "active"}}
	for _, typ := range []string{"PolicyIssued", "PolicyRenewed", "RenewalDue"} {
		n, ok := notify(v, recordedOf(t, typ), 0)
		if !ok {
			t.Fatalf("%s: no notice", typ)
		}
		if !strings.Contains(n.Body.RU, "26.12.2026") || !strings.Contains(n.Body.EN, "26 Dec 2026") || strings.Contains(n.Body.RU, "2026-12-26") || strings.Contains(n.Body.RU, "30 дней") {
			t.Errorf("%s: %+v", typ, n.Body)
		}
	}
}

// The "accepted" notice promises the configured review deadline.
func TestAcceptedNoticeUsesTheDeadline(t *testing.T) {
	v := &appview.View{Status: appview.StatusSubmitted}
	for days, want := range map[int][2]string{
		0:  {"до 10 рабочих дней", "within 10 working days"},
		5:  {"до 5 рабочих дней", "within 5 working days"},
		21: {"до 21 рабочего дня", "within 21 working days"},
	} {
		n, _ := notify(v, recordedOf(t, "ApplicationSubmitted"), days)
		if !strings.Contains(n.Body.RU, want[0]) || !strings.Contains(n.Body.EN, want[1]) {
			t.Errorf("%d days: %+v", days, n.Body)
		}
	}
}

// After the consent's withdrawal the inbox does not remind to renew (a
// person who withdrew is not written to unasked), and the expiry notice
// says a renewal takes a newly signed consent.
func TestNoRenewalNoticesAfterTheConsentIsWithdrawn(t *testing.T) {
	policy := &appview.Policy{ENP: "1", ValidTo: "2026-12-26", Status: "active"}
	given := &appview.View{Status: appview.StatusPolicyActive, Policy: policy, Consent: &appview.Consent{}}
	withdrawn := &appview.View{Status: appview.StatusPolicyActive, Policy: policy, Consent: &appview.Consent{WithdrawnAt: time.Now()}}
	if _, ok := notify(given, recordedOf(t, "RenewalDue"), 0); !ok {
		t.Fatal("no reminder with the consent given; this test tests nothing")
	}
	if n, ok := notify(withdrawn, recordedOf(t, "RenewalDue"), 0); ok {
		t.Errorf("a renewal reminder after the withdrawal: %+v", n)
	}
	before, _ := notify(given, recordedOf(t, "PolicyExpired"), 0)
	after, ok := notify(withdrawn, recordedOf(t, "PolicyExpired"), 0)
	// It says how renewing works now: with a newly signed consent's scan
	// (QA: it said renewing here was impossible, which it is not).
	if !ok || !strings.Contains(before.Body.RU, "личном кабинете") || !strings.Contains(after.Body.RU, "скан") ||
		!strings.Contains(after.Body.RU, "согласие заново") || !strings.Contains(after.Body.EN, "sign the consent again") ||
		strings.Contains(after.Body.RU, "нельзя") || strings.Contains(after.Body.EN, "cannot") {
		t.Errorf("the expiry notice after the withdrawal: %+v (before: %+v)", after.Body, before.Body)
	}
}

// What an МФЦ operator did for the applicant, the applicant's inbox says,
// in both languages; what they did themselves reads as before, and their
// own answer to the reviewer is no news to them.
func TestNoticesSayAnOperatorActed(t *testing.T) {
	v := &appview.View{ApplicationID: "a-1", Policy: &appview.Policy{ENP: "9000000000000016", ValidTo: "2027-11-25"}}
	rec := func(typ, role string) eventstore.Recorded {
		var r eventstore.Recorded
		r.Envelope = events.Envelope{EventID: "e-" + typ, Type: typ, Actor: events.Actor{ID: "x", Role: role}, OccurredAt: time.Now()}
		if role == events.RoleOperator {
			r.Envelope.OnBehalfOf = "alice"
		}
		return r
	}
	for _, typ := range []string{"ApplicationSubmitted", "AddressChanged", "PolicyRenewed", "ApplicationWithdrawn", "ConsentWithdrawn", "InfoProvided"} {
		n, ok := notify(v, rec(typ, events.RoleOperator), 10)
		if !ok || !strings.Contains(n.Body.RU, "оператор МФЦ от вашего имени") || !strings.Contains(n.Body.EN, "on your behalf by an MFC operator") {
			t.Errorf("%s by an operator: %v %+v", typ, ok, n.Body)
		}
		n, ok = notify(v, rec(typ, events.RoleApplicant), 10)
		if typ == "InfoProvided" {
			if ok {
				t.Errorf("the applicant is told of their own answer: %+v", n)
			}
			continue
		}
		if !ok || strings.Contains(n.Body.RU, "МФЦ") || strings.Contains(n.Body.EN, "МФЦ") {
			t.Errorf("%s by the applicant: %v %+v", typ, ok, n.Body)
		}
	}
}

// Dates in the inbox read as the rest of the cabinet writes them, the
// retention date of a withdrawn consent included (it was 2032-11-27).
func TestConsentNoticeWritesTheDate(t *testing.T) {
	v := &appview.View{ApplicationID: "a-1", Consent: &appview.Consent{RetainUntil: "2032-11-27"}}
	var r eventstore.Recorded
	r.Envelope = events.Envelope{EventID: "e", Type: "ConsentWithdrawn", Actor: events.Actor{ID: "alice", Role: events.RoleApplicant}}
	n, ok := notify(v, r, 10)
	if !ok || !strings.Contains(n.Body.RU, "27.11.2032") || !strings.Contains(n.Body.EN, "27 Nov 2032") || strings.Contains(n.Body.RU+n.Body.EN, "2032-11-27") {
		t.Errorf("%v %+v", ok, n.Body)
	}
}

// A rejection names its reason in the reader's language, from its code;
// the reviewer's own words follow as written, marked as theirs.
func TestRejectionNoticeNamesTheReasonInBothLanguages(t *testing.T) {
	v := &appview.View{Status: appview.StatusRejected, Decision: &appview.Decision{Outcome: "rejected", ReasonCode: "invalid_documents", Reason: "Скан паспорта нечитаемый"}}
	n, ok := notify(v, recordedOf(t, "ApplicationRejected"), 0)
	if !ok {
		t.Fatal("no notice")
	}
	if !strings.Contains(n.Body.EN, "the documents are invalid") || !strings.Contains(n.Body.EN, "The reviewer's note: «Скан паспорта нечитаемый»") {
		t.Errorf("English: %q", n.Body.EN)
	}
	if !strings.Contains(n.Body.RU, "документы недействительны") || !strings.Contains(n.Body.RU, "«Скан паспорта нечитаемый»") {
		t.Errorf("Russian: %q", n.Body.RU)
	}
	v.Decision.Reason = ""
	n, _ = notify(v, recordedOf(t, "ApplicationRejected"), 0)
	if strings.Contains(n.Body.EN, "note") || strings.Contains(n.Body.RU, "Комментарий") {
		t.Errorf("a note without one: %+v", n.Body)
	}
	for _, code := range schema.RejectReasons {
		if _, ok := rejectReasons[code]; !ok {
			t.Errorf("reason code %s has no words for the applicant", code)
		}
	}
}

// A renewal reminder says a new residence document goes with the renewal
// when the current one ends by then, in words that read no personal
// field: the notice is the same after an erasure as in its rebuild.
func TestRenewalReminderMentionsANewResidenceDocument(t *testing.T) {
	v := &appview.View{Status: appview.StatusPolicyActive, Policy: &appview.Policy{ENP: "1", ValidTo: "2026-12-26", Status: "active"}, Consent: &appview.Consent{}}
	v.Form.ResidenceDocument.ExpiresAt = "2026-12-26"
	live, ok := notify(v, recordedOf(t, "RenewalDue"), 0)
	if !ok || !strings.Contains(live.Body.RU, "приложите к продлению новый") || !strings.Contains(live.Body.EN, "attach a new one to the renewal") {
		t.Errorf("reminder: %+v", live.Body)
	}
	v.Form.ResidenceDocument.ExpiresAt = piicrypt.Marker
	if rebuilt, _ := notify(v, recordedOf(t, "RenewalDue"), 0); rebuilt.Body != live.Body {
		t.Errorf("the reminder depends on the erased residence document:\nlive    %+v\nrebuilt %+v", live.Body, rebuilt.Body)
	}
}

// A cabinet keeps the newest MaxInbox notifications: one document per
// person, it must not grow with every address change until MongoDB
// refuses it (16 MB) and every projection stalls (MongoDB QA).
func TestInboxKeepsTheNewest(t *testing.T) {
	var inbox []Notification
	for i := range MaxInbox + 50 {
		inbox = withNotice(inbox, Notification{ID: strconv.Itoa(i)})
	}
	if len(inbox) != MaxInbox || inbox[0].ID != "50" || inbox[MaxInbox-1].ID != strconv.Itoa(MaxInbox+49) {
		t.Fatalf("%d notifications, from %s to %s", len(inbox), inbox[0].ID, inbox[len(inbox)-1].ID)
	}
}

// A notice is added once however often its event is applied, and in its
// place by time; one older than every notice a full inbox keeps is the one
// that would be left out, so it is not added.
func TestANoticeIsAddedOnceInItsPlace(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	inbox := withNotice(nil, Notification{ID: "a", At: at(1)})
	inbox = withNotice(inbox, Notification{ID: "c", At: at(3)})
	inbox = withNotice(inbox, Notification{ID: "b", At: at(2)}) // replayed
	inbox = withNotice(inbox, Notification{ID: "c", At: at(3)}) // applied again
	var ids []string
	for _, n := range inbox {
		ids = append(ids, n.ID)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(ids, want) {
		t.Fatalf("inbox %q, want %q", ids, want)
	}
	var full []Notification
	for i := range MaxInbox {
		full = withNotice(full, Notification{ID: strconv.Itoa(i), At: at(10 + i)})
	}
	if got := withNotice(full, Notification{ID: "old", At: at(0)}); len(got) != MaxInbox || got[0].ID != "0" {
		t.Fatalf("an old notice into a full inbox: %d notices from %s, want it left out", len(got), got[0].ID)
	}
	if got := withNotice(full, Notification{ID: "new", At: at(10 + MaxInbox)}); got[0].ID != "1" || got[MaxInbox-1].ID != "new" {
		t.Fatalf("a new notice into a full inbox: from %s to %s, want from 1 to new", got[0].ID, got[MaxInbox-1].ID)
	}
}

// Questions are open only while the application waits for the answers: a
// rejected or withdrawn one offered to answer them (decisions QA).
func TestQuestionsCloseWithTheApplication(t *testing.T) {
	q := appview.Question{Question: schema.Question{ID: "1.1", Text: "Скан паспорта нечитаем"}}
	for status, want := range map[string]int{
		appview.StatusInfoRequested: 1,
		appview.StatusRejected:      0,
		appview.StatusWithdrawn:     0,
		appview.StatusInReview:      0,
	} {
		var doc Doc
		upsert(&doc, &appview.View{ApplicationID: "a-1", Status: status, Questions: []appview.Question{q}})
		if got := len(doc.Applications[0].OpenQuestions); got != want {
			t.Errorf("%s: %d open questions, want %d", status, got, want)
		}
	}
}

// An approval with the policy issued in the same write is no news of its
// own: the issue's notice follows (decisions QA: "the policy will be
// issued shortly" was told of one issued already).
func TestAnApprovalWithThePolicyIssuedIsNotAnnouncedTwice(t *testing.T) {
	v := &appview.View{ApplicationID: "a-1", Status: appview.StatusPolicyActive}
	for withPolicy, want := range map[bool]bool{false: true, true: false} {
		rec := recordedOf(t, schema.TypeApplicationApproved)
		rec.Envelope.SchemaVersion = 1
		var err error
		if rec.Data, err = json.Marshal(schema.ApplicationApproved{ApplicationID: "a-1", ReviewerID: "r1", ApprovedAt: time.Now(), WithPolicy: withPolicy}); err != nil {
			t.Fatal(err)
		}
		if _, ok := notify(v, rec, 0); ok != want {
			t.Errorf("approval with the policy %t: notice %t, want %t", withPolicy, ok, want)
		}
	}
}

// A rejection says what can be done next: apply again, unless the person
// has an application or a policy already (decisions QA).
func TestARejectionSaysWhatToDoNext(t *testing.T) {
	for code, again := range map[string]bool{schema.RejectInvalidDocuments: true, schema.RejectNoResponse: true, schema.RejectOther: true, schema.RejectDuplicate: false} {
		v := &appview.View{ApplicationID: "a-1", Status: appview.StatusRejected, Decision: &appview.Decision{Outcome: "rejected", ReasonCode: code}}
		n, ok := notify(v, recordedOf(t, "ApplicationRejected"), 0)
		if !ok {
			t.Fatalf("%s: no notice", code)
		}
		if got := strings.Contains(n.Body.RU, "подать новое заявление") && strings.Contains(n.Body.EN, "submit a new application"); got != again {
			t.Errorf("%s: says to apply again %t, want %t: %+v", code, got, again, n.Body)
		}
	}
}
