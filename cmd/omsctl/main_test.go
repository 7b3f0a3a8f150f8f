package main

import (
	"strings"
	"testing"
)

// The settings omsctl reads show in its help; the rest of omsd's parse but
// stay out of it. A renamed setting would otherwise vanish from the help
// without anyone noticing.
func TestHelpShowsOnlyTheSettingsOmsctlUses(t *testing.T) {
	flags := root().PersistentFlags()
	for name := range usedByOmsctl {
		f := flags.Lookup(name)
		if f == nil || f.Hidden {
			t.Errorf("--%s: missing or hidden (%+v)", name, f)
		}
	}
	if f := flags.Lookup("smtp-url"); f == nil || !f.Hidden {
		t.Errorf("--smtp-url should parse but stay out of the help: %+v", f)
	}
}

// A progress bar's first frame is drawn before the first item, not at it
// with that item's rate over microseconds ("1108647 /s").
func TestBarStartsWithoutARateFromOneItem(t *testing.T) {
	var b strings.Builder
	bar := newBarTo(&b, 45000, "uploading scans", "scans")
	_ = bar.Add(1)
	if !strings.Contains(b.String(), "0/45000") || strings.Contains(b.String(), "1/45000") {
		t.Fatalf("first frames: %q", b.String())
	}
}
