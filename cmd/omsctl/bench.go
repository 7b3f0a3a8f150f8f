package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/omsonline/oms/cmd/internal/bench"
	"github.com/omsonline/oms/cmd/internal/procs"
)

func benchCmd() *cobra.Command {
	o := bench.Defaults()
	var dir, out, cpuProfile, rssChild string
	var keep bool
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the performance table against a fresh data dir and print it as Markdown",
		Long: `bench measures, in one run on this machine: the disk's fsync rate and the
embedded event store's durable appends at 64 writers; SubmitApplication over
HTTP end to end (scans uploaded beforehand); read-your-writes at a fixed
command rate; the rebuild of every projection; time travel over a 200-event
stream; and the resident memory of an omsd on embedded stores at rest
after its projections followed a million events (in a child process, so
nothing else is counted).
omsd runs in this process on a fresh temporary data dir; no running omsd is
needed or touched. The defaults take a few minutes on two cores.`,
		Example: `  omsctl bench > table.md
  omsctl bench --events 200000 --rebuild-events 1000000 --cpuprofile bench.pprof`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			// omsd runs in this process and in the memory stage's
			// child: both as omsd runs it.
			procs.Tune(os.Getenv)
			if rssChild != "" {
				return runRSSChild(ctx, cmd, rssChild, o.RSSEvents)
			}
			if dir == "" {
				d, err := os.MkdirTemp("", "omsctl-bench-")
				if err != nil {
					return err
				}
				dir = d
				if !keep {
					defer os.RemoveAll(dir)
				}
			} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				return fmt.Errorf("%[1]s не пуст; bench нужен свежий каталог данных / %[1]s is not empty; bench wants a fresh data dir", dir)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			var bar *progressbar.ProgressBar
			finish := func() {
				if bar != nil {
					_ = bar.Finish()
					bar = nil
				}
			}
			o.Dir = dir
			// omsd's logs are formatted as in production, but not written.
			o.Log = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
			o.Stage = func(name string, total int64) {
				finish()
				if total <= 0 {
					total = -1
				}
				bar = newBar(total, name, "")
			}
			o.Progress = func(done int64) {
				if bar != nil {
					_ = bar.Set64(done)
				}
			}
			o.RSS = func(ctx context.Context, dir string, events int) (bench.RSSResult, error) {
				finish()
				child := exec.CommandContext(ctx, exe, "bench", "--rss-child", dir, "--events", strconv.Itoa(events))
				var stdout bytes.Buffer
				child.Stdout, child.Stderr = &stdout, os.Stderr
				if err := child.Run(); err != nil {
					return bench.RSSResult{}, fmt.Errorf("memory child: %w", err)
				}
				var r bench.RSSResult
				if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
					return r, fmt.Errorf("memory child said %q: %w", stdout.String(), err)
				}
				return r, nil
			}
			rep, err := bench.Run(ctx, o)
			finish()
			if err != nil {
				return err
			}
			md := rep.Markdown()
			if out != "" {
				if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
					return err
				}
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), md)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "", "fresh data dir to run in (default: a new temporary dir, removed afterwards)")
	f.BoolVar(&keep, "keep", false, "keep the temporary data dir")
	f.StringVar(&out, "out", "", "also write the Markdown to this file")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (omsd included) to this file")
	f.IntVar(&o.FsyncSamples, "fsyncs", o.FsyncSamples, "write+fdatasync pairs that time the disk")
	f.IntVar(&o.AppendEvents, "append-events", o.AppendEvents, "single-event appends of the store stage")
	f.IntVar(&o.AppendWriters, "writers", o.AppendWriters, "concurrent writers of the store stage")
	f.DurationVar(&o.SubmitDuration, "submit-duration", o.SubmitDuration, "how long SubmitApplication is driven")
	f.IntVar(&o.SubmitWorkers, "submit-clients", o.SubmitWorkers, "closed-loop SubmitApplication clients")
	f.IntVar(&o.SubmitApplicants, "submit-applicants", o.SubmitApplicants, "people prepared with scans; each submits once")
	f.Float64Var(&o.RYWRate, "ryw-rate", o.RYWRate, "commands per second of the read-your-writes stage")
	f.DurationVar(&o.RYWDuration, "ryw-duration", o.RYWDuration, "how long the read-your-writes stage runs")
	f.IntVar(&o.RebuildEvents, "rebuild-events", o.RebuildEvents, "events loaded before the projections are rebuilt")
	f.IntVar(&o.TimeTravelRuns, "time-travel-runs", o.TimeTravelRuns, "timed replays of the 200-event stream")
	f.IntVar(&o.RSSEvents, "events", o.RSSEvents, "events the memory stage loads")
	f.StringVar(&rssChild, "rss-child", "", "internal: run the memory stage in this dir and print JSON")
	_ = f.MarkHidden("rss-child")
	return c
}

// runRSSChild is the memory stage's own process.
func runRSSChild(ctx context.Context, cmd *cobra.Command, dir string, events int) error {
	bar := newBar(int64(events), fmt.Sprintf("appending %d events to omsd (memory)", events), "events")
	r, err := bench.MeasureRSS(ctx, dir, events, func(done int64) { _ = bar.Set64(done) })
	_ = bar.Finish()
	if err != nil {
		return err
	}
	return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
}
