package httpapi_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
)

// staffIDs are what the insurer's staff are known by in the documents
// below; none may reach an applicant or an МФЦ operator.
var staffIDs = []string{"rev-asked", "rev-decided", "rev-holds", "adm-erased"}

// The owner-facing reads leave out who among the staff asked, decided,
// holds the application or erased it: the detail view always did for most
// of them, the cabinet did not. The cabinet here is stored as the
// projection wrote it before it left them out, so the query side must
// hide them by itself.
func TestOwnersDoNotSeeStaffIDs(t *testing.T) {
	e := newTestEnv(t)
	at := time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)
	q := appview.Question{Question: schema.Question{ID: "1.1", Text: "Уточните адрес"}, AskedAt: at, AskedBy: "rev-asked"}
	decision := &appview.Decision{Outcome: "rejected", By: "rev-decided", At: at, ReasonCode: "other", Reason: "нет"}
	erased := &appview.Erasure{At: at, Basis: "consent_withdrawn", By: "adm-erased"}
	stored, err := json.Marshal(cabinet.Doc{ApplicantID: "alice", Applications: []cabinet.Application{
		{ApplicationID: "01900000-0000-7000-8000-000000000001", Status: appview.StatusInfoRequested, OpenQuestions: []appview.Question{q}, Actions: []string{"provide-info"}},
		{ApplicationID: "01900000-0000-7000-8000-000000000002", Status: appview.StatusRejected, Decision: decision, Erased: erased, Actions: []string{}, OpenQuestions: []appview.Question{}},
	}, PastPolicies: []appview.Policy{}, Inbox: []cabinet.Notification{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range staffIDs[:2] {
		if !bytes.Contains(stored, []byte(id)) {
			t.Fatalf("the stored cabinet lacks %s; this test tests nothing", id)
		}
	}
	e.put(t, cabinet.Collection, readstore.Doc{ID: "alice", Body: stored})
	view, _ := json.Marshal(appview.View{ApplicationID: "01900000-0000-7000-8000-000000000002", ApplicantID: "alice", Status: appview.StatusRejected,
		Assignee: "rev-holds", Questions: []appview.Question{q}, Decision: decision, Erased: erased})
	e.put(t, history.Applications, readstore.Doc{ID: "01900000-0000-7000-8000-000000000002", Body: view})

	read := func(path, role, id, onBehalfOf string) []byte {
		t.Helper()
		a := e.getFor(t, path, role, id, onBehalfOf)
		if a.status != 200 {
			t.Fatalf("%s as %s: %d %s", path, role, a.status, a.body)
		}
		return a.body
	}
	for _, who := range []struct{ role, id, obo string }{
		{events.RoleApplicant, "alice", ""},
		{events.RoleOperator, "op-1", "alice"},
	} {
		for _, path := range []string{"/api/v1/cabinet", "/api/v1/applications/01900000-0000-7000-8000-000000000002"} {
			body := read(path, who.role, who.id, who.obo)
			for _, id := range staffIDs {
				if bytes.Contains(body, []byte(id)) {
					t.Errorf("%s as %s shows %s: %s", path, who.role, id, body)
				}
			}
			// What the owner is owed stays: the question, the decision
			// and its reason, the erasure's basis.
			for _, want := range []string{"rejected", "нет", "consent_withdrawn"} {
				if !bytes.Contains(body, []byte(want)) {
					t.Errorf("%s as %s lost %q: %s", path, who.role, want, body)
				}
			}
			if path == "/api/v1/cabinet" && !bytes.Contains(body, []byte("Уточните адрес")) {
				t.Errorf("the cabinet lost the open question: %s", body)
			}
		}
	}
	// Staff see who did what.
	body := read("/api/v1/applications/01900000-0000-7000-8000-000000000002", events.RoleAuditor, "aud-1", "")
	for _, id := range staffIDs {
		if !bytes.Contains(body, []byte(id)) {
			t.Errorf("the auditor's view lacks %s: %s", id, body)
		}
	}
}

// The cabinet offers "renew" once the window opens by date, though the
// scheduler's reminder (which adds it to the stored cabinet) has not come
// yet; not before the window, and not after the consent's withdrawal.
func TestCabinetOffersRenewalByDate(t *testing.T) {
	e := newTestEnv(t) // the clock says 2026-03-01
	policy := func(validTo string) *appview.Policy {
		return &appview.Policy{ENP: "9000000000000016", ValidFrom: "2025-04-01", ValidTo: validTo, Status: "active"}
	}
	withdrawn := &appview.Consent{WithdrawnAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	stored, err := json.Marshal(cabinet.Doc{ApplicantID: "alice", Applications: []cabinet.Application{
		{ApplicationID: "in-window", Status: appview.StatusPolicyActive, Policy: policy("2026-03-20"), Actions: []string{"change-address"}},
		{ApplicationID: "window-opens-today", Status: appview.StatusPolicyActive, Policy: policy("2026-03-31"), Actions: []string{"change-address"}},
		{ApplicationID: "before-window", Status: appview.StatusPolicyActive, Policy: policy("2026-04-01"), Actions: []string{"change-address"}},
		{ApplicationID: "consent-withdrawn", Status: appview.StatusPolicyActive, Policy: policy("2026-03-20"), Consent: withdrawn, Actions: []string{}},
	}, PastPolicies: []appview.Policy{}, Inbox: []cabinet.Notification{}})
	if err != nil {
		t.Fatal(err)
	}
	e.put(t, cabinet.Collection, readstore.Doc{ID: "alice", Body: stored})
	a := e.get(t, "/api/v1/cabinet", events.RoleApplicant, "alice")
	if a.status != 200 {
		t.Fatalf("cabinet: %d %s", a.status, a.body)
	}
	var doc cabinet.Doc
	if err := json.Unmarshal(a.body, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"in-window": true, "window-opens-today": true, "before-window": false, "consent-withdrawn": false}
	for _, app := range doc.Applications {
		if got := slices.Contains(app.Actions, "renew"); got != want[app.ApplicationID] {
			t.Errorf("%s: renew offered %v, want %v (actions %v)", app.ApplicationID, got, want[app.ApplicationID], app.Actions)
		}
	}
}
