package main

import (
	"bytes"
	"strings"
	"testing"
)

// What cannot be undone is neither assumed nor run unconfirmed: no basis
// and no --yes are refused before omsd is asked anything (none runs here).
func TestEraseNeedsABasisAndConfirmation(t *testing.T) {
	for args, want := range map[string]string{
		"erase someone":                               "--basis must be one of",
		"erase someone --basis because":               "--basis must be one of",
		"erase someone --basis subject_request":       "--yes",
		"erase someone --basis retention_ended --yes": "", // asks omsd, which is not there
	} {
		cmd := root()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(strings.Fields(args), "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:1"))
		err := cmd.Execute()
		switch {
		case err == nil:
			t.Errorf("%s: no error", args)
		case want != "" && !strings.Contains(err.Error(), want):
			t.Errorf("%s: %v, want it to say %s", args, err, want)
		case want == "" && (strings.Contains(err.Error(), "--basis") || strings.Contains(err.Error(), "--yes")):
			t.Errorf("%s: refused before asking omsd: %v", args, err)
		}
	}
}
