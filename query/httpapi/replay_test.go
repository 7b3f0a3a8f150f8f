package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/query/httpapi"
)

// Replay reuses two views for the whole stream; every step's diff and the
// final state must still be what folding into fresh copies gives, with no
// later step changing an earlier one's values (questions are added,
// answered and added again, so the views' slices grow and are cloned).
func TestReplayMatchesAFoldIntoFreshCopies(t *testing.T) {
	appID := uuid.NewString()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	journey := benchload.Journey(appID, "alice", 7, at)
	var payloads []schema.Event
	payloads = append(payloads, journey[:4]...)
	for round := range 3 {
		payloads = append(payloads,
			schema.InfoRequested{ApplicationID: appID, ReviewerID: "rev-1", RequestedAt: at, Questions: []schema.Question{{ID: "q" + string(rune('a'+round)), Text: "Ещё вопрос"}}},
			schema.InfoProvided{ApplicationID: appID, ProvidedAt: at, Answers: []schema.Answer{{QuestionID: "q" + string(rune('a'+round)), Text: "Ответ"}}},
		)
	}
	payloads = append(payloads, journey[4:]...)
	payloads = append(payloads, schema.AddressChanged{ApplicationID: appID, Address: schema.Address{Region: "78", City: "СПб", Street: "Невский", House: "1", PostalCode: "191025"}, ChangedAt: at, Document: schema.PolicyDocument{Version: 2}})
	evs := httpapi.RecordedStream(t, appID, at, payloads)

	got, err := httpapi.Replay(appID, evs, uint64(len(evs)), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var want []json.RawMessage
	var v appview.View
	for i, ev := range evs {
		before := v
		if err := appview.Apply(&v, ev); err != nil {
			t.Fatal(err)
		}
		d, err := appview.Diff(before, v)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			d = appview.Created(v) // nothing existed before the first event
		}
		if d == nil {
			d = []appview.Change{}
		}
		raw, _ := json.Marshal(d)
		want = append(want, raw)
	}
	if len(got.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(got.Steps), len(want))
	}
	for i, s := range got.Steps {
		raw, _ := json.Marshal(s.Diff)
		if string(raw) != string(want[i]) {
			t.Fatalf("step %d (%s):\n got  %s\n want %s", i, s.Type, raw, want[i])
		}
	}
	gotState, _ := json.Marshal(got.State)
	wantState, _ := json.Marshal(v)
	if string(gotState) != string(wantState) {
		t.Fatalf("state:\n got  %s\n want %s", gotState, wantState)
	}
	if len(v.Questions) != 4 || !v.Questions[3].Answered {
		t.Fatalf("the journey folded to %d questions: %+v", len(v.Questions), v.Questions)
	}
}
