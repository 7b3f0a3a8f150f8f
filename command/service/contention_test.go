package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
)

// slowDiskService is newService on an embedded store whose every write
// takes syncDelay longer, as on a slow disk.
func slowDiskService(t *testing.T, syncDelay time.Duration) *Service {
	t.Helper()
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: t.TempDir(), SyncDelay: syncDelay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	st, err := eventstore.Open(eventstore.Options{URL: esdbtest.URL(srv)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Ten rounds instead of five: their pauses add up to about half a
	// second, so that a loaded machine (CI runs packages side by side)
	// still sees the winner's slow appends land before the losers give up.
	// Without the pauses, ten rounds go by inside one slow write as five do.
	s, err := New(Options{Store: st, Documents: uploads{}, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler), MaxAttempts: 10})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConcurrentClaimsGetTheDomainAnswer races many claims of one
// application. The store refuses a loser's append as soon as the winner's
// is queued, but shows the winner's event to readers only once it is
// durable; a loser that retried at once spent all its attempts inside one
// slow write and answered "contention". With the pause between attempts
// every loser re-reads after the winner's claim and gets the domain's
// refusal.
func TestConcurrentClaimsGetTheDomainAnswer(t *testing.T) {
	s := slowDiskService(t, 10*time.Millisecond)
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Handle(ctx, Request{Meta: reviewer}, res.ApplicationID, application.ClaimForReview{})
		})
	}
	wg.Wait()
	oneWinner(t, "claim", errs, "already_claimed")
}

// oneWinner checks the outcome of a race: exactly one success, and the
// domain's refusal code for every other attempt.
func oneWinner(t *testing.T, what string, errs []error, code string) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			continue
		}
		if e, ok := cmderr.As(err); !ok || e.Code != code {
			t.Errorf("%s %d: %v, want %s", what, i, err, code)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d succeeded, want 1", wins, len(errs))
	}
}

// TestRetryPauseGrowsWithinBounds: each pause is within [d/2, d] of its
// round's ceiling, which doubles from retryPauseBase up to retryPauseMax.
func TestRetryPauseGrowsWithinBounds(t *testing.T) {
	for attempt := 1; attempt <= 40; attempt++ {
		ceil := retryPauseMax
		if attempt <= 5 {
			ceil = min(retryPauseBase<<(attempt-1), retryPauseMax)
		}
		for range 50 {
			if d := retryPause(attempt); d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d: pause %v outside [%v, %v]", attempt, d, ceil/2, ceil)
			}
		}
	}
}

// TestConcurrentSubmissionsOfOneDocumentGetTheDomainAnswer races people of
// different accounts submitting one passport number: one wins, and every
// other is told the document is in use, not "contention", although the
// winner's application is written only after its reservation.
func TestConcurrentSubmissionsOfOneDocumentGetTheDomainAnswer(t *testing.T) {
	s := slowDiskService(t, 10*time.Millisecond)
	ctx := context.Background()
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			who := events.Metadata{Actor: events.Actor{ID: fmt.Sprintf("user-%d", i+1), Role: events.RoleApplicant}}
			_, errs[i] = s.Submit(ctx, Request{Meta: who}, formOf(i+1, "N1234567"))
		})
	}
	wg.Wait()
	oneWinner(t, "submission", errs, "document_in_use")
}
