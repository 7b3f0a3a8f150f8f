package procs

import (
	"runtime"
	"testing"
)

func TestTuneMultipliesTheDefault(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	n, tuned := Tune(func(string) string { return "" })
	if !tuned || n != Factor*before || runtime.GOMAXPROCS(0) != n {
		t.Fatalf("Tune = %d, %v; GOMAXPROCS %d; want %d from a default of %d", n, tuned, runtime.GOMAXPROCS(0), Factor*before, before)
	}
	if n, _ := Tune(func(string) string { return "" }); n != Factor*before {
		t.Fatalf("a second Tune gave %d, want %d again", n, Factor*before)
	}
}

func TestTuneLeavesAnOperatorsChoice(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	env := map[string]string{"GOMAXPROCS": "3"}
	n, tuned := Tune(func(k string) string { return env[k] })
	if tuned || n != before || runtime.GOMAXPROCS(0) != before {
		t.Fatalf("Tune = %d, %v with GOMAXPROCS set; GOMAXPROCS %d, want it left at %d", n, tuned, runtime.GOMAXPROCS(0), before)
	}
}
