// Command omsd runs «ОМС онлайн»: the command and query HTTP API, the
// projections and, unless OMS_ESDB_URL points elsewhere, an embedded
// EventStoreDB-protocol server and an embedded read-model store, all in one
// process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/cmd/internal/procs"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "omsd:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := config.Defaults()
	fs := flag.NewFlagSet("omsd", flag.ContinueOnError)
	if err := cfg.Register(fs); err != nil {
		return err
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h printed the usage, as asked: not a failure
		}
		return err
	}
	if fs.NArg() > 0 {
		// A stray word is a typo or a misplaced setting ("omsd 8080"),
		// which running on without it would hide.
		return fmt.Errorf("omsd takes flags only, not %q: see omsd -h", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log level %q: %w", cfg.LogLevel, err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	tuned := procs.Tune(os.Getenv)
	if tuned.ProcsRaised {
		log.Info("GOMAXPROCS raised above the CPU count for blocking disk calls; set GOMAXPROCS to choose", "gomaxprocs", tuned.GOMAXPROCS, "cpus", runtime.NumCPU())
	}
	if tuned.GCSet {
		log.Info("GOGC set for omsd's allocation rate; set GOGC to choose", "gogc", tuned.GCPercent)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-a.Done():
		if err != nil {
			log.Error("http server stopped", "err", err)
		}
	}
	if err := a.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}
