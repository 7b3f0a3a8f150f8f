package httpapi_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
)

// ?after= past the end of the event log is a 400 at once (no command
// returned it, so waiting and retrying would go on for ever), while a
// position in the log that the projection has not reached is still the
// 503 with Retry-After after the wait, and one it has reached is served.
func TestAfterPastTheEndOfTheLogIsRefusedAtOnce(t *testing.T) {
	e := newTestEnv(t)
	appID := uuid.NewString()
	e.appendEvents(t, appID, benchload.Journey(appID, "alice", 1, e.clock.Now())[:2]...)
	head, err := e.events.Head(context.Background())
	if err != nil || head == 0 {
		t.Fatalf("head %d %v", head, err)
	}
	cabinet := func(after uint64) (answer, time.Duration) {
		start := time.Now()
		a := e.get(t, fmt.Sprintf("/api/v1/cabinet?after=%d", after), events.RoleApplicant, "alice")
		return a, time.Since(start)
	}

	for _, after := range []uint64{math.MaxUint64, head + 1} {
		a, took := cabinet(after)
		if a.status != 400 || a.header["Retry-After"] != "" {
			t.Errorf("after=%d (head %d): %d Retry-After %q %s, want 400 without Retry-After", after, head, a.status, a.header["Retry-After"], a.body)
			continue
		}
		if took > 200*time.Millisecond {
			t.Errorf("after=%d: answered in %v, not at once", after, took)
		}
		d, _ := a.problem(t)["detail"].(map[string]any)
		ru, _ := d["ru"].(string)
		en, _ := d["en"].(string)
		if !strings.Contains(ru, "журнал") || !strings.Contains(en, "past the end of the event log") {
			t.Errorf("after=%d: %s", after, a.body)
		}
	}

	// In the log, not yet applied: the wait, then 503.
	a, took := cabinet(head)
	if a.status != 503 || a.header["Retry-After"] != "1" {
		t.Errorf("after=head, projection behind: %d Retry-After %q %s, want 503 with Retry-After: 1", a.status, a.header["Retry-After"], a.body)
	}
	if took < 250*time.Millisecond {
		t.Errorf("after=head, projection behind: answered in %v, before the wait was over", took)
	}

	// Applied: served.
	e.waiter.set(head)
	for _, after := range []uint64{0, head} {
		if a, _ := cabinet(after); a.status != 200 {
			t.Errorf("after=%d, projection at %d: %d %s", after, head, a.status, a.body)
		}
	}
}
