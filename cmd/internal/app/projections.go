package app

import (
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/calendar"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/queue"
	"github.com/omsonline/oms/projections/renewals"
	"github.com/omsonline/oms/projections/runner"
)

// ProjectionsFor lists the projections omsd runs under cfg; the benchmarks
// rebuild this very list.
func ProjectionsFor(cfg config.Config) []runner.Projection {
	return append([]runner.Projection{cabinet.Projection{SLADays: cfg.SLADays}, history.Projection{}, queue.Projection{Calendar: calendar.Default(), SLADays: cfg.SLADays}, renewals.Projection{}},
		webProjections(cfg)...)
}
