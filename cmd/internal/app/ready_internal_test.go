package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A probe that has not come back within its time is an outage, logged
// once, though the probe may never return (review: only a probe's end
// logged, so a hung one left the outage unlogged).
func TestStuckProbeIsLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	r := &readiness{log: slog.New(slog.NewTextHandler(&logs, nil))}
	// As if a probe had gone out 3s ago and not come back.
	r.probing, r.started = make(chan struct{}), time.Now().Add(-3*time.Second)
	for range 3 {
		if err := r.check(); err != errNoAnswer {
			t.Fatalf("check with a stuck probe: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "not ready"); n != 1 {
		t.Fatalf("%d \"not ready\" lines for one stuck probe, want 1:\n%s", n, logs.String())
	}
}
