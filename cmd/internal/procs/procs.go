// Package procs chooses how many goroutines omsd runs Go code on at once
// (GOMAXPROCS).
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

import "runtime"

// Factor multiplies the runtime's default GOMAXPROCS (the CPUs the process
// may use, cgroup limits included).
const Factor = 2

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
