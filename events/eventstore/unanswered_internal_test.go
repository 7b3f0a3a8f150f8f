package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver"
)

// An append cut off by a store that went away came back from the v4 client
// as "could not send append request. Reason: EOF", which was taken for the
// store's answer and answered 500 (CI, once in a few runs); an error the
// store answered stays as it is.
func TestUnansweredMarksACutStream(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("could not send append request. Reason: %w", io.EOF),
		fmt.Errorf("recv: %w", io.ErrUnexpectedEOF),
		context.DeadlineExceeded,
	} {
		if !errors.Is(unanswered(err), ErrUnavailable) {
			t.Errorf("%v: not marked unavailable", err)
		}
	}
	for _, err := range []error{errors.New("wrong expected version"), context.Canceled, ErrDeleted} {
		if errors.Is(unanswered(err), ErrUnavailable) {
			t.Errorf("%v: marked unavailable", err)
		}
	}
}

// A catch-up its caller ends leaves the store's health as it was: its
// drop, a cancellation, is no answer of the store's, and marked a store
// known away healthy (review).
func TestACancelledCatchUpObservesNothing(t *testing.T) {
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := Open(Options{URL: fmt.Sprintf("esdb://%s?tls=false", srv.Addr())})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	meta := events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}}
	// Enough that the catch-up is not over when its caller ends it.
	ticks := make([]NewEvent, 5000)
	for i := range ticks {
		ticks[i] = NewEvent{Type: "Tick", Data: map[string]int{"i": i}}
	}
	if _, err := s.Append(context.Background(), "ticks", Any, meta, ticks...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.healthy.Store(false) // as after a call that found the store away
	err = s.CatchUp(ctx, nil, func(Recorded) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a catch-up its caller ended: %v, want context.Canceled", err)
	}
	if s.healthy.Load() {
		t.Fatal("the cancelled catch-up marked the store healthy")
	}
}
