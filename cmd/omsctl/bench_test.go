package main

import (
	"bytes"
	"strings"
	"testing"
)

// Settings that would measure nothing are refused before anything runs:
// they printed table rows such as "0/s at p99 0 ms" and "-1 cmd/s offered".
func TestBenchRefusesSettingsThatMeasureNothing(t *testing.T) {
	for _, args := range []string{"--submit-clients 0", "--ryw-rate -1", "--ryw-rate NaN", "--writers 0", "--submit-duration 0s", "--events -5", "--rebuild-events 0"} {
		cmd := root()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		dir := t.TempDir()
		cmd.SetArgs(append([]string{"bench", "--dir", dir}, strings.Fields(args)...))
		err := cmd.Execute()
		flag := strings.Fields(args)[0]
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("bench %s: %v, want a refusal naming %s", args, err, flag)
		}
	}
}
