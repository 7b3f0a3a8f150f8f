package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/loadgen"
)

// The load generator's figures are what the README reports, so a short
// gentle run checks that they count what they say: every command read back
// in its applicant's cabinet, every reviewer command also in the reviewer's
// view, and each read-back no sooner than its command returned.
func TestLoadMeasuresEachCommandInTheCabinet(t *testing.T) {
	a, cfg := startApp(t)
	key, err := authn.DevKey(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	load := func() loadgen.Stats {
		st, err := loadgen.Run(context.Background(), loadgen.Options{
			BaseURL: "http://" + a.HTTPAddr(), Rate: 40, Duration: 1500 * time.Millisecond, Workers: 8,
			Token: func(role, subject string) (string, error) { return authn.IssueDev(key, subject, role, time.Hour) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Errors > 0 {
			t.Fatalf("%d errors: %v", st.Errors, st.FirstErrors)
		}
		return st
	}
	// A second run against the same omsd submits passports of its own:
	// the first run's applications still hold theirs (QA found every
	// submission of a second run refused as document_in_use).
	load()
	st := load()
	reviewer := 0
	for _, step := range []string{"claim", "approve", "issue-policy"} {
		reviewer += st.ByCommand[step].N
	}
	submits := st.ByCommand["submit"].N
	if submits == 0 || reviewer == 0 || submits+reviewer != st.Commands {
		t.Fatalf("commands %d: %d submissions, %d reviewer steps (%v)", st.Commands, submits, reviewer, st.ByCommand)
	}
	if st.ReadYourWrite.N != st.Commands {
		t.Fatalf("%d cabinet read-backs for %d commands", st.ReadYourWrite.N, st.Commands)
	}
	if st.StaffReadYourWrite.N != reviewer {
		t.Fatalf("%d reviewer read-backs for %d reviewer commands", st.StaffReadYourWrite.N, reviewer)
	}
	// Each read-back ends after its command, so every order statistic of
	// the read-backs is at least the commands' one.
	if st.ReadYourWrite.P50 < st.All.P50 || st.ReadYourWrite.Max < st.All.Max {
		t.Fatalf("read-backs (p50 %s, max %s) faster than the commands (p50 %s, max %s)", st.ReadYourWrite.P50, st.ReadYourWrite.Max, st.All.P50, st.All.Max)
	}
}
