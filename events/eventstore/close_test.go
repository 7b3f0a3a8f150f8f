package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
)

// Closing the store while appends and reads are under way lets them finish
// and refuses the ones after it with ErrClosed, without crashing the
// process: the v4 client panics (a send on its closed channel) when a call
// it was still making fails as unavailable after its Close.
func TestCloseDuringCalls(t *testing.T) {
	url := esdbtest.URL(esdbtest.Start(t))
	ctx := context.Background()
	meta := events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}}
	for round := range 8 {
		s, err := eventstore.Open(eventstore.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for w := range 16 {
			wg.Go(func() {
				stream := fmt.Sprintf("close-%d-%d", round, w)
				for i := 0; ; i++ {
					var err error
					if w%4 == 0 {
						_, err = s.LoadFrom(ctx, stream, 0, 100)
					} else {
						_, err = s.Append(ctx, stream, eventstore.Any, meta, eventstore.NewEvent{Type: "Tick", Data: map[string]int{"i": i}})
					}
					if errors.Is(err, eventstore.ErrClosed) {
						return
					}
					if err != nil {
						errs <- fmt.Errorf("%s, call %d: %w", stream, i, err)
						return
					}
				}
			})
		}
		time.Sleep(30 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: a call failed otherwise than as closed: %v", round, err)
		}
		if _, err := s.Append(ctx, "after-close", eventstore.Any, meta, eventstore.NewEvent{Type: "Tick", Data: map[string]int{}}); !errors.Is(err, eventstore.ErrClosed) {
			t.Fatalf("append after Close: %v, want ErrClosed", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
}
