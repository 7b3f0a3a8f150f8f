package main

import "testing"

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
