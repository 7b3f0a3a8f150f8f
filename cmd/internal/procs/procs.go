// Package procs tunes the Go runtime for omsd: how many goroutines run Go
// code at once (GOMAXPROCS) and how far the heap may grow between
// collections (GOGC). An operator's GOMAXPROCS or GOGC in the environment
// always wins.
//
// omsd spends much of its time in blocking system calls: the event log's
// fdatasync, the fsyncs of every scan file and its directory, SQLite's
// writes. A goroutine in such a call keeps its scheduler slot until the
// runtime's monitor takes it back, which under a steady load can be
// milliseconds; with one slot per core, a two-core node then runs Go code
// on one core while the other waits for the disk. More slots than cores
// let other goroutines run meanwhile, but not too many: the garbage
// collector dedicates a quarter of the slots to itself while it marks,
// and at eight slots on two cores that is both cores. Measured on two
// cores at 500 commands/s offered (cmd/internal/app
// BenchmarkReadYourWrites, runs interleaved): command p50 71-81 ms at
// GOMAXPROCS=2 against 22-42 ms at 4-8; read-your-writes p99 lower at 4
// than at 8 in five of six pairs (96-167 ms against 126-177 ms), and
// SubmitApplication 855-927/s at 4 against 831-897/s at 8.
package procs

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Factor multiplies the runtime's default GOMAXPROCS (the CPUs the process
// may use, cgroup limits included).
const Factor = 2

// GCPercent is omsd's GOGC. A command allocates about 260 KB (HTTP, gRPC,
// the projections that follow it) over a live heap of about 100 MB, so at
// the runtime's 100 the collector ran three times a second and its mark
// workers took a sixth of the CPU. At 200 the heap may grow to three times
// the live one between collections instead of two: SubmitApplication
// (cmd/internal/bench BenchmarkSubmit, two cores, interleaved) 1305, 1398
// and 1420 submissions/s against 1094, 1158 and 1116 at 100;
// read-your-writes p99 97, 66 and 87 ms against 116, 74 and 110 ms
// (BenchmarkReadYourWrites). Memory at rest does not pay for it once
// memrelease has dropped the caches and handed the free heap back after a
// burst (BenchmarkOmsdMemory at 1M events: RSS at rest 187 MB against
// 184 MB); the peak during a burst does (1086 MB against 915 MB), and so
// does a node under a steady trickle that never looks like the end of a
// burst to memrelease: its heap may stay at up to three times the live
// one instead of two.
const GCPercent = 200

// Tuning is what Tune left in force.
type Tuning struct {
	// GOMAXPROCS is the value in force, and ProcsRaised whether Tune
	// changed it.
	GOMAXPROCS  int
	ProcsRaised bool
	// GCPercent is GOGC in force (-1: off), and GCSet whether Tune set it.
	GCPercent int
	GCSet     bool
}

// Tune raises GOMAXPROCS to Factor times its default and sets GOGC to
// GCPercent, each unless the environment (read through getenv) sets it.
func Tune(getenv func(string) string) Tuning {
	var t Tuning
	if getenv("GOMAXPROCS") != "" {
		t.GOMAXPROCS = runtime.GOMAXPROCS(0)
	} else {
		// From the default each time, so that a second call (omsctl
		// bench starts nodes one after another) does not multiply again.
		runtime.SetDefaultGOMAXPROCS()
		t.GOMAXPROCS = Factor * runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(t.GOMAXPROCS)
		t.ProcsRaised = true
	}
	if getenv("GOGC") != "" {
		t.GCPercent = currentGCPercent()
	} else {
		debug.SetGCPercent(GCPercent)
		t.GCPercent, t.GCSet = GCPercent, true
	}
	return t
}

// currentGCPercent reads GOGC without setting it (-1 when off).
func currentGCPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[0].Value.Uint64() > 1<<30 {
		return -1
	}
	return int(s[0].Value.Uint64())
}
