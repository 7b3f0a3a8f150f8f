// Package bench produces issue 6's performance table in one run against a
// fresh data directory: the embedded store's appends at 64 writers and the
// disk's fsync rate measured alongside, SubmitApplication over HTTP end to
// end, read-your-writes at a fixed command rate, projection rebuilds, time
// travel over a long stream, and the resident memory of a store holding a
// million events. `omsctl bench` runs it and prints the Markdown.
//
// Everything runs on the machine it is started on, load generators
// included, so on a small machine they share the cores with what they
// measure; the table says which machine it was.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/cmd/internal/loadgen"
	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// Options size the run. The defaults keep it to a few minutes on two
// cores; every figure has a flag in omsctl to go bigger.
type Options struct {
	// Dir is the fresh data directory; each stage works in a
	// subdirectory of its own.
	Dir string
	// FsyncSamples is how many write+fdatasync pairs time the disk.
	FsyncSamples int
	// AppendEvents are sent by AppendWriters concurrent writers.
	AppendEvents  int
	AppendWriters int
	// Submit runs SubmitWorkers closed-loop clients for SubmitDuration,
	// each submission by one of SubmitApplicants people prepared with
	// their scans beforehand, each person once (an account holds one open
	// application, and most submissions in life are a person's first).
	SubmitDuration   time.Duration
	SubmitWorkers    int
	SubmitApplicants int
	// SubmitProfile, when set, receives a CPU profile of the timed
	// submissions only: the uploads before them would otherwise dominate.
	SubmitProfile io.Writer
	// SubmitWithoutProjections runs the submitting node with
	// OMS_RUN_PROJECTIONS=false: the cost of the commands alone, which
	// bounds what the node could reach if its projections cost nothing.
	SubmitWithoutProjections bool
	// RYWRate commands per second are offered for RYWDuration.
	RYWRate     float64
	RYWDuration time.Duration
	// RebuildEvents are loaded, then every projection is rebuilt.
	RebuildEvents int
	// TimeTravelRuns replays of a 200-event stream are timed.
	TimeTravelRuns int
	// RSSEvents are appended to an omsd, in a process of its own, while
	// its projections follow.
	RSSEvents int
	// RSS runs the memory stage in a child process and returns what the
	// child measured with MeasureRSS; nil measures in this process, which
	// then also holds what the other stages left behind.
	RSS func(ctx context.Context, dir string, events int) (RSSResult, error)
	// Stage is told when a stage starts, and Progress how far it is.
	Stage    func(name string, total int64)
	Progress func(done int64)
	// Log receives omsd's logs during the HTTP stages (nil: discarded).
	Log *slog.Logger
}

// Defaults are a few minutes on two cores.
func Defaults() Options {
	return Options{
		FsyncSamples: 3000, AppendEvents: 200_000, AppendWriters: 64,
		SubmitDuration: 10 * time.Second, SubmitWorkers: 16, SubmitApplicants: 15000,
		RYWRate: 500, RYWDuration: 10 * time.Second,
		RebuildEvents: 200_000, TimeTravelRuns: 300, RSSEvents: 1_000_000,
	}
}

// Validate refuses settings that would measure nothing and print a table
// row anyway ("0/s at p99 0 ms", "-1 cmd/s offered").
func (o Options) Validate() error {
	for _, c := range []struct {
		flag string
		ok   bool
	}{
		{"--fsyncs", o.FsyncSamples > 0},
		{"--append-events", o.AppendEvents > 0},
		{"--writers", o.AppendWriters > 0},
		{"--submit-duration", o.SubmitDuration > 0},
		{"--submit-clients", o.SubmitWorkers > 0},
		{"--submit-applicants", o.SubmitApplicants > 0},
		{"--ryw-rate", o.RYWRate > 0 && !math.IsInf(o.RYWRate, 0) && !math.IsNaN(o.RYWRate)},
		{"--ryw-duration", o.RYWDuration > 0},
		{"--rebuild-events", o.RebuildEvents > 0},
		{"--time-travel-runs", o.TimeTravelRuns > 0},
		{"--events", o.RSSEvents > 0},
	} {
		if !c.ok {
			return fmt.Errorf("bench: %s must be positive", c.flag)
		}
	}
	return nil
}

// Report is what a run measured.
type Report struct {
	Machine  string
	Started  time.Time
	Elapsed  time.Duration
	Options  Options
	Fsyncs   float64
	Appends  perf.AppendResult
	Submit   SubmitResult
	RYW      loadgen.Stats
	Rebuild  perf.RebuildResult
	Travel   perf.Latency
	RSS      RSSResult
	Warnings []string
}

func (o *Options) stage(name string, total int64) {
	if o.Stage != nil {
		o.Stage(name, total)
	}
}

func (o *Options) progress(done int64) {
	if o.Progress != nil {
		o.Progress(done)
	}
}

// Run measures every figure, one stage after another.
func Run(ctx context.Context, o Options) (Report, error) {
	d := Defaults()
	if o.FsyncSamples <= 0 {
		o.FsyncSamples = d.FsyncSamples
	}
	if o.AppendWriters <= 0 {
		o.AppendWriters = d.AppendWriters
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Dir == "" {
		return Report{}, fmt.Errorf("bench: no data directory")
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return Report{}, fmt.Errorf("bench: %w", err)
	}
	r := Report{Machine: Machine(), Started: time.Now(), Options: o}
	steps := []struct {
		name string
		dir  string // the stage's subdirectory of o.Dir
		run  func() error
	}{
		{"store appends", "appends", func() (err error) { r.Fsyncs, r.Appends, err = appends(ctx, &o); return }},
		{"SubmitApplication over HTTP", "submit", func() (err error) { r.Submit, err = submit(ctx, &o); return }},
		{"read-your-writes", "ryw", func() (err error) { r.RYW, err = readYourWrites(ctx, &o); return }},
		{"rebuild and time travel", "rebuild", func() (err error) { r.Rebuild, r.Travel, err = rebuild(ctx, &o); return }},
		{"memory", "rss", func() (err error) {
			if o.RSS != nil {
				r.RSS, err = o.RSS(ctx, filepath.Join(o.Dir, "rss"), o.RSSEvents)
			} else {
				r.RSS, err = MeasureRSS(ctx, filepath.Join(o.Dir, "rss"), o.RSSEvents, o.Progress)
				r.Warnings = append(r.Warnings, "memory was measured in the bench's own process")
			}
			return
		}},
	}
	// Each stage's files stay until every stage has run. Removing the
	// submit stage's 45,000 scans before read-your-writes made that stage
	// slower, not faster: on ext4 without a journal (this VM's disk) the
	// kernel skips an inode freed in the last few seconds, or minutes
	// while its table block is dirty, and checks candidates one by one,
	// so after a mass delete every file created (a scan upload) cost
	// 250-650 µs of CPU instead of about 20 µs (perf: recently_deleted
	// under __ext4_new_inode).
	for _, s := range steps {
		if err := s.run(); err != nil {
			// The stages' files stay, to look into (omsctl bench --keep).
			return r, fmt.Errorf("bench: %s: %w", s.name, err)
		}
		// What one stage left must not slow the next: its garbage and the
		// kernel's writeback of its files, which would otherwise compete
		// with the next stage for the disk.
		syscall.Sync()
		runtime.GC()
	}
	r.Elapsed = time.Since(r.Started)
	for _, s := range steps {
		if err := os.RemoveAll(filepath.Join(o.Dir, s.dir)); err != nil {
			return r, fmt.Errorf("bench: clean up after %s: %w", s.name, err)
		}
	}
	return r, nil
}

// appends measures the disk, then durable appends through the v4 client
// to an embedded store on the same disk.
func appends(ctx context.Context, o *Options) (float64, perf.AppendResult, error) {
	dir := filepath.Join(o.Dir, "appends")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, perf.AppendResult{}, err
	}
	o.stage("disk fsyncs", 0)
	fsyncs, err := perf.DiskFsyncs(dir, o.FsyncSamples)
	if err != nil {
		return 0, perf.AppendResult{}, err
	}
	srv, url, err := startStore(dir, o.Log)
	if err != nil {
		return 0, perf.AppendResult{}, err
	}
	defer srv.Close()
	c, err := perf.Client(url)
	if err != nil {
		return 0, perf.AppendResult{}, err
	}
	defer c.Close()
	// A short warm-up opens the connections and grows the buffers.
	if _, err := perf.Appends(ctx, c, o.AppendWriters, 2000, nil); err != nil {
		return 0, perf.AppendResult{}, err
	}
	o.stage(fmt.Sprintf("appends, %d writers", o.AppendWriters), 0)
	res, err := perf.Appends(ctx, c, o.AppendWriters, o.AppendEvents, srv.DB().Syncs)
	return fsyncs, res, err
}

// startStore runs an embedded event store in dir as omsd runs it, behind
// TLS and a password, and returns it with its client's connection string.
func startStore(dir string, log *slog.Logger) (*esdbserver.Server, string, error) {
	local, err := esdbserver.EnsureLocalTLS(filepath.Join(dir, "eventstore-tls"), nil)
	if err != nil {
		return nil, "", err
	}
	srv, err := esdbserver.Start(local.Secure(esdbserver.Options{Addr: "127.0.0.1:0", Dir: filepath.Join(dir, "eventstore"), Logger: log}))
	if err != nil {
		return nil, "", err
	}
	return srv, local.ClientURL(srv.Addr()), nil
}

// startApp runs a whole omsd on embedded stores in dir. The rate limits
// stay on (their cost is part of a request's) but high enough that one
// load generator on one address is not refused.
func startApp(ctx context.Context, o *Options, dir string, edit ...func(*config.Config)) (*app.App, func(role, subject string) (string, error), error) {
	cfg := config.Defaults()
	for _, e := range edit {
		e(&cfg)
	}
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ESDBListen = "127.0.0.1:0"
	cfg.RateLimitIP, cfg.RateLimitSubject, cfg.RateLimitUploads = 1<<30, 1<<30, 1<<30
	a, err := app.Start(ctx, cfg, o.Log)
	if err != nil {
		return nil, nil, err
	}
	key, err := authn.DevKey(dir)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, func(role, subject string) (string, error) { return authn.IssueDev(key, subject, role, 2*time.Hour) }, nil
}

func readYourWrites(ctx context.Context, o *Options) (loadgen.Stats, error) {
	a, tok, err := startApp(ctx, o, filepath.Join(o.Dir, "ryw"))
	if err != nil {
		return loadgen.Stats{}, err
	}
	defer a.Close()
	o.stage(fmt.Sprintf("read-your-writes at %.0f cmd/s", o.RYWRate), int64(o.RYWRate*o.RYWDuration.Seconds()))
	var n atomic.Int64
	return loadgen.Run(ctx, loadgen.Options{
		BaseURL: "http://" + a.HTTPAddr(), Rate: o.RYWRate, Duration: o.RYWDuration, Token: tok,
		OnCommand: func() { o.progress(n.Add(1)) },
	})
}

// rebuild loads histories into an embedded store, rebuilds every
// projection omsd runs from position 0, then times time travel on the
// same store.
func rebuild(ctx context.Context, o *Options) (perf.RebuildResult, perf.Latency, error) {
	dir := filepath.Join(o.Dir, "rebuild")
	srv, url, err := startStore(dir, o.Log)
	if err != nil {
		return perf.RebuildResult{}, perf.Latency{}, err
	}
	defer srv.Close()
	// The read store first: it is the key vault of the events' sealed
	// personal data, as in omsd.
	store, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: filepath.Join(dir, "readmodels"), Logger: o.Log})
	if err != nil {
		return perf.RebuildResult{}, perf.Latency{}, err
	}
	defer store.Close()
	filler, events, err := perf.SealedStores(url, store, eventstore.Options{Logger: o.Log})
	if err != nil {
		return perf.RebuildResult{}, perf.Latency{}, err
	}
	defer filler.Close()
	defer events.Close()
	o.stage(fmt.Sprintf("loading %d events", o.RebuildEvents), int64(o.RebuildEvents))
	var loaded atomic.Int64
	if err := benchload.Fill(ctx, filler, o.RebuildEvents, 32, func(n int) { o.progress(loaded.Add(int64(n))) }); err != nil {
		return perf.RebuildResult{}, perf.Latency{}, err
	}
	projs := app.ProjectionsFor(config.Defaults())
	run, err := runner.New(ctx, runner.Options{Store: store, Events: events, Logger: o.Log, Subscriber: eventstore.NewSubscriber(events, eventstore.SubscriberOptions{})}, projs...)
	if err != nil {
		return perf.RebuildResult{}, perf.Latency{}, err
	}
	names := make([]string, len(projs))
	for i, p := range projs {
		names[i] = p.Name()
	}
	cur := ""
	res, err := perf.Rebuild(ctx, run, names, func(name string, p runner.Progress) {
		if name != cur {
			cur = name
			o.stage("rebuilding "+name, int64(o.RebuildEvents))
		}
		o.progress(int64(p.Events))
	})
	if err != nil {
		return res, perf.Latency{}, err
	}
	o.stage("rebuilding all in one pass", int64(o.RebuildEvents))
	if res.OnePass, err = perf.RebuildAll(ctx, run, names, func(p runner.Progress) { o.progress(int64(p.Events)) }); err != nil {
		return res, perf.Latency{}, err
	}
	o.stage("time travel", int64(o.TimeTravelRuns))
	tt, err := perf.TimeTravel(ctx, events, o.TimeTravelRuns)
	return res, tt, err
}

// Machine describes the machine: CPU model, cores Go may use, memory.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb uint64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d vCPU (%s)%s, %s/%s, %s, GOMAXPROCS %d", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version(), runtime.GOMAXPROCS(0))
}
