package procs

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// restore puts GOMAXPROCS and GOGC back after a test that tunes them.
func restore(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	gc := currentGCPercent()
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	})
}

func TestTuneMultipliesTheDefault(t *testing.T) {
	restore(t)
	before := runtime.GOMAXPROCS(0)
	got := Tune(func(string) string { return "" })
	if !got.ProcsRaised || got.GOMAXPROCS != Factor*before || runtime.GOMAXPROCS(0) != got.GOMAXPROCS {
		t.Fatalf("Tune = %+v; GOMAXPROCS %d; want %d from a default of %d", got, runtime.GOMAXPROCS(0), Factor*before, before)
	}
	if got := Tune(func(string) string { return "" }); got.GOMAXPROCS != Factor*before {
		t.Fatalf("a second Tune gave %d, want %d again", got.GOMAXPROCS, Factor*before)
	}
}

func TestTuneSetsGOGC(t *testing.T) {
	restore(t)
	debug.SetGCPercent(100)
	got := Tune(func(string) string { return "" })
	if now := currentGCPercent(); !got.GCSet || got.GCPercent != GCPercent || now != GCPercent {
		t.Fatalf("Tune = %+v; GOGC %d; want %d", got, now, GCPercent)
	}
}

func TestTuneLeavesAnOperatorsChoice(t *testing.T) {
	restore(t)
	before := runtime.GOMAXPROCS(0)
	debug.SetGCPercent(50) // as the runtime does, reading GOGC=50 at start
	env := map[string]string{"GOMAXPROCS": "3", "GOGC": "50"}
	got := Tune(func(k string) string { return env[k] })
	if got.ProcsRaised || got.GOMAXPROCS != before || runtime.GOMAXPROCS(0) != before {
		t.Fatalf("Tune = %+v with GOMAXPROCS set; GOMAXPROCS %d, want it left at %d", got, runtime.GOMAXPROCS(0), before)
	}
	if now := currentGCPercent(); got.GCSet || got.GCPercent != 50 || now != 50 {
		t.Fatalf("Tune = %+v with GOGC=50 set; GOGC %d, want it left at 50", got, now)
	}
}
