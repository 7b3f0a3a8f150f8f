// Package procs chooses how many goroutines omsd runs Go code on at once
// (GOMAXPROCS).
//
// omsd spends much of its time in blocking system calls: the event log's
// fdatasync, the fsyncs of every scan file and its directory, SQLite's
// writes. A goroutine in such a call keeps its scheduler slot until the
// runtime's monitor takes it back, which under a steady load can be
// milliseconds; with one slot per core, a two-core node then runs Go code
// on one core while the other waits for the disk. More slots than cores
// let other goroutines run meanwhile. Measured on two cores under 500
// commands/s (cmd/internal/app BenchmarkReadYourWrites): command p50
// 71-81 ms at GOMAXPROCS=2 against 22-42 ms at 4-8, with more commands
// done.
package procs

import "runtime"

// Factor multiplies the runtime's default GOMAXPROCS (the CPUs the process
// may use, cgroup limits included).
const Factor = 4

// Tune raises GOMAXPROCS to Factor times its default, unless the
// GOMAXPROCS environment variable (read through getenv) sets it: an
// operator's explicit choice wins. It returns the value in force and
// whether Tune changed it.
func Tune(getenv func(string) string) (int, bool) {
	if getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0), false
	}
	// From the default each time, so that a second call (omsctl bench
	// starts nodes one after another) does not multiply again.
	runtime.SetDefaultGOMAXPROCS()
	n := Factor * runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n)
	return n, true
}
