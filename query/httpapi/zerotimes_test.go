package httpapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
)

// Times that were never set are left out of what the query API sends
// instead of being year 1, diff changes from or to such a time (or null)
// are adds and removes, and the cabinet's arrays are [] rather than null:
// for documents stored as the runner writes them today (goccy/go-json,
// which ignores omitzero) and as older versions wrote them. The stored
// documents are not touched, and what is served still decodes into the
// read models' types with the same values.
func TestZeroTimesAndNullArraysAreNotSent(t *testing.T) {
	e := newTestEnv(t)
	signed := time.Date(2026, 2, 27, 9, 0, 0, 0, time.UTC)
	asked := time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)
	q := appview.Question{Question: schema.Question{ID: "1.1", Text: "Уточните адрес"}, AskedAt: asked, AskedBy: "rev-1"}
	consent := &appview.Consent{Version: "2025-09", TextSHA256: "ab", Method: "signed_scan", SignedAt: signed}

	// The cabinet as the runner stores it now, and as an older omsd did:
	// null arrays, the zero withdrawal time written out.
	current, err := gojson.Marshal(cabinet.Doc{ApplicantID: "alice", Applications: []cabinet.Application{{
		ApplicationID: "01900000-0000-7000-8000-000000000001", Status: appview.StatusInfoRequested, SubmittedAt: signed, UpdatedAt: asked,
		Revision: 9007199254740993, Actions: []string{"provide-info"}, OpenQuestions: []appview.Question{q}, Consent: consent, Region: "77",
	}}, PastPolicies: []appview.Policy{}, Inbox: []cabinet.Notification{}})
	if err != nil {
		t.Fatal(err)
	}
	old := []byte(`{"applicantId":"bob","applications":[{"applicationId":"01900000-0000-7000-8000-000000000002","status":"submitted","submittedAt":"2026-02-27T09:00:00Z","updatedAt":"2026-02-27T09:00:00Z","revision":0,"actions":null,"openQuestions":null,"region":"77","consent":{"version":"2025-09","textSha256":"ab","method":"signed_scan","signedAt":"2026-02-27T09:00:00Z","withdrawnAt":"0001-01-01T00:00:00Z"}}],"pastPolicies":null,"inbox":null}`)
	for _, stored := range [][]byte{current, old} {
		if !bytes.Contains(stored, []byte("0001-01-01")) {
			t.Fatalf("the stored form no longer has a zero time; this test tests nothing: %s", stored)
		}
	}
	e.put(t, cabinet.Collection, readstore.Doc{ID: "alice", Body: current}, readstore.Doc{ID: "bob", Body: old})

	for _, who := range []string{"alice", "bob", "nobody"} {
		a := e.get(t, "/api/v1/cabinet", events.RoleApplicant, who)
		if a.status != 200 {
			t.Fatalf("%s's cabinet: %d %s", who, a.status, a.body)
		}
		noZeroTimes(t, who+"'s cabinet", a.body)
		if bytes.Contains(a.body, []byte(":null")) {
			t.Errorf("%s's cabinet sends a null: %s", who, a.body)
		}
		var m map[string]any
		if err := json.Unmarshal(a.body, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"applications", "pastPolicies", "inbox"} {
			if _, ok := m[k].([]any); !ok {
				t.Errorf("%s's cabinet: %s is %v, not an array", who, k, m[k])
			}
		}
		apps, _ := m["applications"].([]any)
		for _, app := range apps {
			app, _ := app.(map[string]any)
			for _, k := range []string{"actions", "openQuestions"} {
				if _, ok := app[k].([]any); !ok {
					t.Errorf("%s's cabinet: application %s is %v, not an array", who, k, app[k])
				}
			}
		}
		var doc cabinet.Doc
		if err := json.Unmarshal(a.body, &doc); err != nil {
			t.Fatalf("%s's cabinet does not decode as a cabinet.Doc: %v", who, err)
		}
		if who == "alice" {
			got := doc.Applications[0]
			if got.Revision != 9007199254740993 || !got.Consent.SignedAt.Equal(signed) || !got.Consent.WithdrawnAt.IsZero() ||
				!got.OpenQuestions[0].AskedAt.Equal(asked) || !got.SubmittedAt.Equal(signed) {
				t.Errorf("alice's cabinet changed in the serving: %s", a.body)
			}
		}
	}

	// The application as the detail endpoint serves it.
	view := appview.View{ApplicationID: "01900000-0000-7000-8000-000000000001", ApplicantID: "alice", Status: appview.StatusInfoRequested, SubmittedAt: signed,
		Questions: []appview.Question{q}, Consent: consent, UpdatedAt: asked}
	body, _ := gojson.Marshal(view)
	e.put(t, history.Applications, readstore.Doc{ID: "01900000-0000-7000-8000-000000000001", Body: body})
	for _, role := range []string{events.RoleApplicant, events.RoleReviewer} {
		a := e.get(t, "/api/v1/applications/01900000-0000-7000-8000-000000000001", role, "alice")
		if a.status != 200 {
			t.Fatalf("application as %s: %d %s", role, a.status, a.body)
		}
		noZeroTimes(t, "application as "+role, a.body)
		if !strings.Contains(string(a.body), `"askedAt":"2026-03-02T11:00:00Z"`) || !strings.Contains(string(a.body), `"signedAt":"2026-02-27T09:00:00Z"`) {
			t.Errorf("application as %s lost a time that was set: %s", role, a.body)
		}
	}

	// The audit timeline: its first diff starts from the empty view.
	var before appview.View
	diff, _ := appview.Diff(before, view)
	entry, _ := gojson.Marshal(history.Entry{ApplicationID: "01900000-0000-7000-8000-000000000001", Type: "ApplicationSubmitted", OccurredAt: signed, Diff: diff})
	if !bytes.Contains(entry, []byte(`"from":"0001-01-01T00:00:00Z"`)) {
		t.Fatalf("the stored diff has no zero from; this test tests nothing: %s", entry)
	}
	unchanged, _ := gojson.Marshal(history.Entry{ApplicationID: "01900000-0000-7000-8000-000000000001", Revision: 1, Type: "RenewalDue", OccurredAt: asked})
	if !bytes.Contains(unchanged, []byte(`"diff":null`)) {
		t.Fatalf("an entry without changes is stored with a diff; this test tests nothing: %s", unchanged)
	}
	e.put(t, history.Entries, readstore.Doc{ID: history.EntryID("01900000-0000-7000-8000-000000000001", 0), Body: entry}, readstore.Doc{ID: history.EntryID("01900000-0000-7000-8000-000000000001", 1), Body: unchanged})
	a := e.get(t, "/api/v1/applications/01900000-0000-7000-8000-000000000001/history", events.RoleAuditor, "aud-1")
	if a.status != 200 {
		t.Fatalf("history: %d %s", a.status, a.body)
	}
	noZeroTimes(t, "history", a.body)
	if bytes.Contains(a.body, []byte(`"diff":null`)) {
		t.Errorf("history sends a null diff: %s", a.body)
	}
	var h struct{ Entries []history.Entry }
	if err := json.Unmarshal(a.body, &h); err != nil {
		t.Fatal(err)
	}
	changes := map[string]appview.Change{}
	for _, c := range h.Entries[0].Diff {
		changes[c.Path] = c
	}
	for path, want := range map[string]string{"/submittedAt": "add", "/updatedAt": "add", "/status": "replace", "/questions": "add"} {
		c := changes[path]
		if c.Op != want || (want == "add" && c.From != nil) || c.To == nil {
			t.Errorf("history: change of %s is %+v, want %s", path, c, want)
		}
	}

	// Time travel, folded from the events.
	appID := uuid.NewString()
	e.appendEvents(t, appID, benchload.Journey(appID, "alice", 3, e.clock.Now())...)
	for _, query := range []string{"?revision=0", "?revision=2", ""} {
		a := e.get(t, "/api/v1/applications/"+appID+"/state"+query, events.RoleAuditor, "aud-1")
		if a.status != 200 {
			t.Fatalf("state%s: %d %s", query, a.status, a.body)
		}
		noZeroTimes(t, "state"+query, a.body)
		var st struct {
			Steps []struct{ Diff []appview.Change }
		}
		if err := json.Unmarshal(a.body, &st); err != nil {
			t.Fatal(err)
		}
		for _, c := range st.Steps[0].Diff {
			if c.Path == "/submittedAt" && (c.Op != "add" || c.From != nil) {
				t.Errorf("state%s: first change of /submittedAt is %+v", query, c)
			}
		}
	}
}

func noZeroTimes(t *testing.T, what string, body []byte) {
	t.Helper()
	if i := bytes.Index(body, []byte("0001-01-01")); i >= 0 {
		t.Errorf("%s sends a zero time: …%s…", what, body[max(0, i-60):min(len(body), i+40)])
	}
}
