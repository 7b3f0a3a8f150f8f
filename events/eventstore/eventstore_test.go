package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
)

func open(t *testing.T) *eventstore.Store {
	t.Helper()
	s := esdbtest.Store(t, eventstore.Options{})
	return s
}

func TestAppendLoadAndConflict(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	meta := events.Metadata{CorrelationID: "c-1", CausationID: "c-0", CommandID: "cmd-1", Actor: events.Actor{ID: "u1", Role: events.RoleOperator}, OnBehalfOf: "a1"}
	stream := "application-" + uuid.NewString()
	res, err := s.Append(ctx, stream, eventstore.NoStream, meta,
		eventstore.NewEvent{Type: "ApplicationSubmitted", SchemaVersion: 2, Data: map[string]string{"applicantId": "a1"}},
		eventstore.NewEvent{Type: "ApplicationClaimed", Data: map[string]string{"by": "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != 1 || res.Position == 0 {
		t.Fatalf("append result %+v", res)
	}
	got, err := s.Load(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("loaded %d events", len(got))
	}
	e := got[0].Envelope
	if e.Type != "ApplicationSubmitted" || e.SchemaVersion != 2 || e.CorrelationID != "c-1" || e.CausationID != "c-0" ||
		e.CommandID != "cmd-1" || e.Actor != meta.Actor || e.OnBehalfOf != "a1" || e.EventID == "" || time.Since(e.OccurredAt) > time.Minute {
		t.Fatalf("envelope %+v", e)
	}
	if got[1].Envelope.SchemaVersion != 1 || got[1].Revision != 1 || got[1].Position != res.Position {
		t.Fatalf("second event %+v", got[1])
	}
	_, err = s.Append(ctx, stream, eventstore.AtRevision(0), meta, eventstore.NewEvent{Type: "X", Data: map[string]int{}})
	var ce *eventstore.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, eventstore.ErrConflict) || !ce.Exists || ce.Current != 1 {
		t.Fatalf("stale append: %v (%+v)", err, ce)
	}
	_, err = s.Append(ctx, "application-"+uuid.NewString(), eventstore.AtRevision(3), meta, eventstore.NewEvent{Type: "X", Data: 1})
	if !errors.As(err, &ce) || ce.Exists {
		t.Fatalf("append to missing stream at a revision: %v", err)
	}
	none, err := s.Load(ctx, "application-missing")
	if err != nil || none != nil {
		t.Fatalf("missing stream loads empty: %v %v", none, err)
	}
}

func TestSubscriberDeliversInOrderAndRedeliversNacks(t *testing.T) {
	s := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last eventstore.AppendResult
	for i := 0; i < 3; i++ {
		r, err := s.Append(ctx, "application-"+uuid.NewString(), eventstore.NoStream, events.Metadata{Actor: events.Actor{ID: "a", Role: "applicant"}},
			eventstore.NewEvent{Type: "ApplicationSubmitted", Data: map[string]int{"i": i}})
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	sub := eventstore.NewSubscriber(s, eventstore.SubscriberOptions{NackDelay: time.Millisecond})
	defer sub.Close()
	ch, err := sub.Subscribe(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	var positions []uint64
	nacked := false
	for len(positions) < 3 {
		select {
		case msg := <-ch:
			r, err := eventstore.FromMessage(msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(positions) == 1 && !nacked {
				nacked = true
				msg.Nack()
				continue
			}
			if r.Envelope.Type != "ApplicationSubmitted" || r.Envelope.Actor.ID != "a" {
				t.Fatalf("decoded %+v", r)
			}
			positions = append(positions, r.Position)
			msg.Ack()
		case <-ctx.Done():
			t.Fatalf("only %d messages", len(positions))
		}
	}
	if !(positions[0] < positions[1] && positions[1] < positions[2] && positions[2] == last.Position) {
		t.Fatalf("order %v, last %d", positions, last.Position)
	}

	// A second subscriber resumes after a stored position (exclusive).
	sub2 := eventstore.NewSubscriber(s, eventstore.SubscriberOptions{StartFrom: func(context.Context, string) (uint64, bool, error) {
		return positions[1], true, nil
	}})
	defer sub2.Close()
	ch2, err := sub2.Subscribe(ctx, "resume")
	if err != nil {
		t.Fatal(err)
	}
	msg := <-ch2
	r, _ := eventstore.FromMessage(msg)
	msg.Ack()
	if r.Position != positions[2] {
		t.Fatalf("resumed at %d, want %d", r.Position, positions[2])
	}
}

// CatchUpTypes hands over exactly the events of the types asked for, in
// $all order, from the whole log: not those of a type that merely starts
// the same, nor any other.
func TestCatchUpTypes(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var want []string
	for i := 0; i < 150; i++ {
		typ := []string{"Uploaded", "UploadedTwice", "Other"}[i%3]
		if i%50 == 7 {
			typ = "Second"
		}
		stream := "s-" + uuid.NewString()
		if _, err := s.Append(ctx, stream, eventstore.NoStream, events.Metadata{}, eventstore.NewEvent{Type: typ, Data: map[string]int{"i": i}}); err != nil {
			t.Fatal(err)
		}
		if typ == "Uploaded" || typ == "Second" {
			want = append(want, stream)
		}
	}
	var got []string
	var positions []uint64
	var last uint64
	err := s.CatchUpTypes(ctx, nil, []string{"Uploaded", "Second"}, func(r eventstore.Recorded) error {
		if r.Position <= last {
			return fmt.Errorf("position %d after %d", r.Position, last)
		}
		last = r.Position
		got = append(got, r.Stream)
		positions = append(positions, r.Position)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d events %v, want %d %v", len(got), got, len(want), want)
	}
	// From a position on: only what comes after it.
	mid := len(positions) / 2
	got = got[:0]
	if err := s.CatchUpTypes(ctx, &positions[mid], []string{"Uploaded", "Second"}, func(r eventstore.Recorded) error {
		got = append(got, r.Stream)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want[mid+1:]) {
		t.Fatalf("after %d: got %v, want %v", positions[mid], got, want[mid+1:])
	}
	// The server does the picking: a subscription with the same filter
	// gets no other type before it is caught up.
	sub, err := s.Client().SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{},
		Filter: &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"Second"}}})
	if err != nil {
		t.Fatal(err)
	}
	seconds := 0
	for caughtUp := false; !caughtUp; {
		ev := sub.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			t.Fatal(ev.SubscriptionDropped.Error)
		case ev.CaughtUp != nil:
			caughtUp = true
		case ev.EventAppeared != nil:
			if typ := ev.EventAppeared.OriginalEvent().EventType; typ != "Second" {
				t.Fatalf("the server sent a %s event through a filter for Second", typ)
			}
			seconds++
		}
	}
	sub.Close()
	if seconds != 3 {
		t.Fatalf("the server sent %d Second events, want 3", seconds)
	}
	stop := errors.New("stop")
	if err := s.CatchUpTypes(ctx, nil, []string{"Second"}, func(eventstore.Recorded) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn's error came back as %v", err)
	}
	if err := s.CatchUpTypes(ctx, nil, nil, func(eventstore.Recorded) error { return nil }); err == nil {
		t.Fatal("no types: no error")
	}
}
