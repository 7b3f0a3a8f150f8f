package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/memrelease"
	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

var quiet = slog.New(slog.DiscardHandler)

// RSSResult is the memory of an omsd that followed a history.
type RSSResult struct {
	Events int `json:"events"`
	// Fill is the time to append the events and project them all.
	Fill time.Duration `json:"fill"`
	// CaughtUp is VmRSS when the last projection had caught up; RSS is
	// VmRSS Rest later, with nothing forced by the bench; Peak is VmHWM.
	CaughtUp uint64        `json:"caught_up"`
	RSS      uint64        `json:"rss"`
	Peak     uint64        `json:"peak"`
	Rest     time.Duration `json:"rest"`
}

// RestAfterCatchUp is how long MeasureRSS lets omsd rest before it reads
// the memory: the read-model store shrinks the page cache the catch-up's
// flushes needed once they stop (checked every quarter of its idle time),
// and memrelease sees a quiet interval after the burst (up to two: the
// first may hold the burst's end).
var RestAfterCatchUp = max(sqlitestore.DefaultWriterCacheIdle*5/4, 2*memrelease.DefaultInterval) + 2*time.Second

// MeasureRSS runs a whole omsd on embedded stores in dir, appends events
// (application histories) through its own event store client while its
// projections follow, waits until they have all caught up and then for
// RestAfterCatchUp, and reads this process's resident memory. omsctl runs
// it in a child process of its own, so that nothing else the bench did is
// counted.
func MeasureRSS(ctx context.Context, dir string, events int, progress func(done int64)) (RSSResult, error) {
	return measureRSS(ctx, dir, events, progress, nil)
}

// measureRSS is MeasureRSS; atRest, when set, runs on the resting omsd
// after the reading.
func measureRSS(ctx context.Context, dir string, events int, progress func(done int64), atRest func(a *app.App) error) (RSSResult, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return RSSResult{}, err
	}
	o := Options{Log: quiet}
	a, _, err := startApp(ctx, &o, dir)
	if err != nil {
		return RSSResult{}, err
	}
	defer a.Close()
	t0 := time.Now()
	var done atomic.Int64
	if err := benchload.Fill(ctx, a.Events(), events, 32, func(n int) {
		if d := done.Add(int64(n)); progress != nil && d%6000 == 0 {
			progress(d)
		}
	}); err != nil {
		return RSSResult{}, err
	}
	head, err := a.Events().Head(ctx)
	if err != nil {
		return RSSResult{}, err
	}
	for _, name := range a.Runner().Names() {
		wctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		err := a.Runner().WaitFor(wctx, name, head)
		cancel()
		if err != nil {
			return RSSResult{}, fmt.Errorf("projection %s did not catch up: %w", name, err)
		}
	}
	res := RSSResult{Events: events, Fill: time.Since(t0), Rest: RestAfterCatchUp}
	if res.CaughtUp, _, err = perf.RSS(); err != nil {
		return res, err
	}
	select {
	case <-time.After(res.Rest):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if res.RSS, res.Peak, err = perf.RSS(); err != nil {
		return res, err
	}
	if atRest != nil {
		err = atRest(a)
	}
	return res, err
}
