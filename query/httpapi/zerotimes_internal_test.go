package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// Time travel is made ready to send on its Go values (wireState), not by
// decoding and encoding its JSON again (dropZeroTimes): both must give the
// same document, and the first must leave nothing for the second to do,
// else every state would take the slow way.
func TestWireStateIsDropZeroTimes(t *testing.T) {
	appID := "01900000-0000-7000-8000-000000000001"
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	payloads := benchload.Journey(appID, "alice", 7, at)
	payloads = append(payloads[:3:3], append([]schema.Event{
		schema.InfoProvided{ApplicationID: appID, ProvidedAt: at, Answers: []schema.Answer{{QuestionID: "1.1", Text: "Ответ"}}},
		schema.InfoRequested{ApplicationID: appID, ReviewerID: "rev-1", RequestedAt: at, Questions: []schema.Question{{ID: "2.1", Text: "Ещё"}, {ID: "2.2", Text: "И ещё"}}},
	}, payloads[3:]...)...)
	evs := RecordedStream(t, appID, at, payloads)
	for upTo := range uint64(len(evs)) {
		st, err := Replay(appID, evs, upTo, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := clean(raw, dropZeroTimes)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := json.Marshal(wireState(st))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(fast, []byte(zeroTime)) || bytes.Contains(fast, []byte(":null")) {
			t.Errorf("revision %d: wireState leaves work for dropZeroTimes: %s", upTo, fast)
		}
		var a, b any
		if err := json.Unmarshal(slow, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(fast, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("revision %d:\n dropZeroTimes %s\n wireState     %s", upTo, slow, fast)
		}
	}
}

// RecordedStream is payloads as the store hands out the stream of appID:
// revisions from 0, positions from 100, a minute apart from at. It is
// exported for the package's external tests too.
func RecordedStream(t testing.TB, appID string, at time.Time, payloads []schema.Event) []eventstore.Recorded {
	t.Helper()
	evs := make([]eventstore.Recorded, len(payloads))
	for i, p := range payloads {
		typ, ver, data, err := schema.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = eventstore.Recorded{Stream: "application-" + appID, Revision: uint64(i), Position: uint64(100 + i),
			Envelope: events.Envelope{Type: typ, SchemaVersion: ver, OccurredAt: at.Add(time.Duration(i) * time.Minute)}, Data: data}
	}
	return evs
}

func TestHasStaffID(t *testing.T) {
	for body, want := range map[string]bool{
		`{"decision":{"by":"rev-1","outcome":"approved"}}`:                  true,
		`{"openQuestions":[{"askedBy":"rev-2"}]}`:                           true,
		`{"decision":{"by":"","outcome":"approved"},"erased":{"by":""}}`:    false,
		`{"openQuestions":[{"askedBy":""}],"inbox":[{"body":{"ru":"by"}}]}`: false,
		`{"decision":{"by":"","outcome":"x"},"erased":{"by":"adm-1"}}`:      true,
		`{"text":"\"by\":\"","applications":[]}`:                            false,
		`{}`:                                                                false,
	} {
		if got := hasStaffID([]byte(body)); got != want {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
}
