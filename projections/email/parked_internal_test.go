package email

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
)

// After a restart the mailer reads the parked stream from its start and
// meets every message ever parked: it keeps only the cabinet's and the
// history's whose marker it has not passed, not all of them for good.
func TestTheMailerKeepsOnlyParkedMessagesStillToCome(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m, _ := newTestMailer(t, &now)
	m.parked = map[string]eventstore.Parked{}
	ctx := context.Background()
	pub := eventstore.NewPublisher(m.o.Events)
	for _, h := range []string{"cabinet", "cabinet", "queue"} {
		msg := message.NewMessage("m-"+h, []byte(`{}`))
		msg.Metadata.Set("handler_poisoned", h)
		if err := pub.Publish(eventstore.ParkedStream, msg); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := m.o.Events.Load(ctx, eventstore.ParkedStream)
	if err != nil || len(recs) != 3 {
		t.Fatalf("parked: %d, %v", len(recs), err)
	}
	first, second, queue := recs[0].Envelope.EventID, recs[1].Envelope.EventID, recs[2].Envelope.EventID
	md := events.Metadata{Actor: events.Actor{ID: "test", Role: events.RoleAdmin}}
	for _, id := range []string{first, second} {
		if err := m.o.Events.MarkReplayed(ctx, eventstore.ParkedStream, id, md); err != nil {
			t.Fatal(err)
		}
	}
	if recs, err = m.o.Events.Load(ctx, eventstore.ParkedStream); err != nil || len(recs) != 5 {
		t.Fatalf("parked stream: %d, %v", len(recs), err)
	}
	p, ok, err := m.findParked(ctx, recs[4], second)
	if err != nil || !ok || p.EventID != second {
		t.Fatalf("the second marker's message: %+v %v %v", p, ok, err)
	}
	if _, kept := m.parked[first]; kept || len(m.parked) != 1 {
		t.Fatalf("kept %d messages, the first (its marker passed) too: %v", len(m.parked), kept)
	}
	if _, ok, err := m.findParked(ctx, recs[4], queue); ok || err != nil {
		t.Fatalf("another projection's message: %v %v", ok, err)
	}
}
