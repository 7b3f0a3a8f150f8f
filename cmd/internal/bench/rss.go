package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/eventstore"
)

var quiet = slog.New(slog.DiscardHandler)

// RSSResult is the memory of a process holding the embedded store.
type RSSResult struct {
	Events int           `json:"events"`
	Fill   time.Duration `json:"fill"`
	// RSS is VmRSS right after the fill; Settled after a garbage
	// collection has returned what the fill left; Peak is VmHWM.
	RSS     uint64 `json:"rss"`
	Settled uint64 `json:"settled"`
	Peak    uint64 `json:"peak"`
}

// MeasureRSS runs the embedded event store on dir, fills it with events
// (application histories) through the v4 client from the same process, and
// reads this process's resident memory. omsctl runs it in a child process
// of its own, so that nothing else the bench did is counted.
func MeasureRSS(ctx context.Context, dir string, events int, progress func(done int64)) (RSSResult, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return RSSResult{}, err
	}
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: filepath.Join(dir, "eventstore"), Logger: quiet})
	if err != nil {
		return RSSResult{}, err
	}
	defer srv.Close()
	store, err := eventstore.Open(eventstore.Options{URL: fmt.Sprintf("esdb://%s?tls=false", srv.Addr()), Logger: quiet})
	if err != nil {
		return RSSResult{}, err
	}
	defer store.Close()
	t0 := time.Now()
	var done atomic.Int64
	if err := benchload.Fill(ctx, store, events, 32, func(n int) {
		if d := done.Add(int64(n)); progress != nil && d%6000 == 0 {
			progress(d)
		}
	}); err != nil {
		return RSSResult{}, err
	}
	res := RSSResult{Events: events, Fill: time.Since(t0)}
	if res.RSS, _, err = perf.RSS(); err != nil {
		return res, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	res.Settled, res.Peak, err = perf.RSS()
	return res, err
}
