package eventstore_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
)

// An event store that goes away for longer than the v4 client's discovery
// (ten attempts a tenth of a second apart) and comes back is served
// again, and while it is away calls end with their context and Close
// returns: the client gave up for good after its last attempt, and the
// calls that had queued for a connection meanwhile blocked forever, the
// node's Close behind them.
func TestServesAgainAfterAnOutage(t *testing.T) {
	dir := t.TempDir()
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	// Attempts as often as the client's own default, so that its ten
	// would be spent within the outage.
	s, err := eventstore.Open(eventstore.Options{URL: esdbtest.URL(srv) + "&discoveryInterval=100"})
	if err != nil {
		t.Fatal(err)
	}
	meta := events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}}
	tick := eventstore.NewEvent{Type: "Tick", Data: map[string]int{"i": 1}}
	if _, err := s.Append(context.Background(), "outage", eventstore.Any, meta, tick); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// Calls while it is away: each ends when its context does.
	down := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(down) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		t0 := time.Now()
		_, err := s.Append(ctx, "outage", eventstore.Any, meta, tick)
		cancel()
		if err == nil {
			t.Fatal("appended with the store away")
		}
		// An answer from nobody is ErrUnavailable, which the API turns
		// into 503 with Retry-After, whether the client gave up first or
		// the caller's deadline did: a refused connection came back as
		// the client's raw error (ops QA), and a deadline as the bare
		// context error (review), both answered with 500.
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("Append with the store away: %v, want ErrUnavailable", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("Append took %v with a 300ms context", d)
		}
	}
	srv, err = esdbserver.Start(esdbserver.Options{Addr: addr, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := s.Append(ctx, "outage", eventstore.Any, meta, tick)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not served again 15s after the store came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	recs, err := s.Load(context.Background(), "outage")
	if err != nil || len(recs) != 2 {
		t.Fatalf("after the outage: %d events, %v", len(recs), err)
	}
	closeWithin(t, s, 10*time.Second)
}

// closeWithin closes s, failing the test if that takes longer than d.
func closeWithin(t *testing.T, s *eventstore.Store, d time.Duration) {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatalf("Close took longer than %v", d)
	}
}

// Close returns while a call that cannot end (its context never does)
// waits for an event store that is away, and later calls are refused.
func TestCloseDuringAnOutage(t *testing.T) {
	// The client discovers for as long as the call waits.
	s, err := eventstore.Open(eventstore.Options{URL: esdbtest.AbsentURL(t), CloseWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(chan error, 1)
	go func() {
		_, err := s.Load(context.Background(), "anything")
		stuck <- err
	}()
	time.Sleep(700 * time.Millisecond)
	select {
	case err := <-stuck:
		t.Fatalf("the call did not wait for the absent store: %v", err)
	default:
	}
	closeWithin(t, s, 5*time.Second) // not waiting for the store to come back
	if _, err := s.Head(context.Background()); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("a call after Close: %v, want ErrClosed", err)
	}
}

// While the event store is away, a call whose context has no deadline
// gives up after the call wait, and the calls left waiting for the store
// are bounded: beyond them, new calls are refused at once, instead of each
// leaving goroutines (and its events) behind for the whole outage.
func TestCallsDuringAnOutageAreBounded(t *testing.T) {
	// A store never reached is suspect: the shorter wait bounds the call.
	s, err := eventstore.Open(eventstore.Options{URL: esdbtest.AbsentURL(t), CallWait: time.Minute, SuspectWait: 200 * time.Millisecond, CloseWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	if _, err := s.Head(context.Background()); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("a call without a deadline: %v, want ErrUnavailable", err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("it took %v with a suspect wait of 200ms", d)
	}
	base := runtime.NumGoroutine()
	meta := events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}}
	refused := 0
	for range 300 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := s.Append(ctx, "outage", eventstore.Any, meta, eventstore.NewEvent{Type: "Tick", Data: map[string]int{"i": 1}})
		cancel()
		if err == nil {
			t.Fatal("appended with the store away")
		}
		if errors.Is(err, eventstore.ErrUnavailable) {
			refused++
		}
	}
	if refused < 200 {
		t.Errorf("%d of 300 calls refused at once, want most once the waiting ones are many", refused)
	}
	if n := runtime.NumGoroutine(); n > base+100 {
		t.Errorf("%d goroutines after 300 calls, %d before", n, base)
	}
}

// A store that goes away in the middle of a catch-up (an erasure's scan of
// the log for the applicant's uploads) is unavailable, as for any other
// call: the dropped subscription came back unmarked, and the API answered
// it with 500 instead of 503 and Retry-After (review).
func TestACatchUpCutOffIsUnavailable(t *testing.T) {
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := eventstore.Open(eventstore.Options{URL: esdbtest.URL(srv)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	meta := events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}}
	// More than gRPC's largest flow-control window (16 MB) holds, so that
	// the server cannot have sent everything before it goes.
	pad := strings.Repeat("x", 2000)
	for range 10 {
		evs := make([]eventstore.NewEvent, 1000)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "Tick", Data: map[string]string{"pad": pad}}
		}
		if _, err := s.Append(context.Background(), "cut-off", eventstore.Any, meta, evs...); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	closed := make(chan error, 1)
	err = s.CatchUp(context.Background(), nil, func(eventstore.Recorded) error {
		if seen++; seen == 1 {
			// Not here: the server's close waits for this very stream.
			go func() { closed <- srv.Close() }()
		}
		return nil
	})
	if cerr := <-closed; cerr != nil {
		t.Error(cerr)
	}
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("a catch-up cut off after %d events: %v, want ErrUnavailable", seen, err)
	}
}
