package eventstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
)

// TestFanOutServesEachTopicFromItsOwnStart checks the one-subscription
// fan-out: each topic gets exactly the events after its own checkpoint, in
// order; a nack redelivers to that topic only; every topic decodes to the
// same Recorded; events appended while it runs reach all topics.
func TestFanOutServesEachTopicFromItsOwnStart(t *testing.T) {
	s := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var pos []uint64
	appendOne := func(i int) {
		r, err := s.Append(ctx, "application-"+uuid.NewString(), eventstore.NoStream, events.Metadata{Actor: events.Actor{ID: "a", Role: "applicant"}},
			eventstore.NewEvent{Type: "ApplicationClaimed", Data: map[string]any{"applicationId": "x", "reviewerId": i}})
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, r.Position)
	}
	for i := range 4 {
		appendOne(i)
	}
	starts := map[string]uint64{"late": pos[1]} // "early" has no checkpoint
	f := eventstore.NewFanOut(s, []string{"early", "late"}, eventstore.SubscriberOptions{NackDelay: time.Millisecond,
		StartFrom: func(_ context.Context, topic string) (uint64, bool, error) {
			p, ok := starts[topic]
			return p, ok, nil
		}})
	defer f.Close()
	if _, err := f.Subscribe(ctx, "other"); err == nil {
		t.Fatal("subscribed a topic the fan-out does not serve")
	}
	early, err := f.Subscribe(ctx, "early")
	if err != nil {
		t.Fatal(err)
	}
	late, err := f.Subscribe(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	appendOne(4)

	got := map[string][]uint64{}
	seen := map[uint64]eventstore.Recorded{}
	nacked := false
	for len(got["early"]) < 5 || len(got["late"]) < 3 {
		var msg *message.Message
		var topic string
		select {
		case m := <-early:
			msg, topic = m, "early"
		case m := <-late:
			msg, topic = m, "late"
		case <-ctx.Done():
			t.Fatalf("got %v", got)
		}
		r, err := eventstore.FromMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		if topic == "late" && !nacked {
			nacked = true
			msg.Nack()
			continue
		}
		if prev, ok := seen[r.Position]; ok && prev.Envelope.EventID != r.Envelope.EventID {
			t.Fatalf("two events at %d", r.Position)
		}
		seen[r.Position] = r
		if r.Envelope.Actor.ID != "a" || r.Envelope.Type != "ApplicationClaimed" {
			t.Fatalf("decoded %+v", r)
		}
		got[topic] = append(got[topic], r.Position)
		msg.Ack()
	}
	want := map[string][]uint64{"early": pos, "late": pos[2:]}
	for topic, w := range want {
		if len(got[topic]) != len(w) {
			t.Fatalf("%s got %v, want %v", topic, got[topic], w)
		}
		for i := range w {
			if got[topic][i] != w[i] {
				t.Fatalf("%s got %v, want %v", topic, got[topic], w)
			}
		}
	}
}
