package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/cmd/internal/loadgen"
)

func loadCmd(cfg *config.Config) *cobra.Command {
	var rate, share float64
	var duration time.Duration
	var workers int
	c := &cobra.Command{
		Use:   "load",
		Short: "Drive a running omsd at a fixed command rate and report latency and read-your-writes",
		Long: `load sends the seed's journey to a running omsd at --rate commands per second
for --duration: applicants upload their three scans and submit, reviewers
claim, approve and issue the policy. After each command it reads the changed
read model with ?after=<position> and times how long the write took to
become visible (read-your-writes). Scan uploads are not counted as commands.`,
		Example: `  omsctl load --rate 200 --duration 30s
  omsctl load --rate 500 --duration 1m --workers 128 --submit-share 0.5`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// !(x > 0) also refuses NaN, which compares false to everything.
			switch {
			case !(rate > 0) || math.IsInf(rate, 0):
				return fmt.Errorf("--rate: положительное число команд в секунду, а не %[1]v / --rate must be a positive number of commands per second, not %[1]v", rate)
			case duration <= 0:
				return fmt.Errorf("--duration: больше нуля, а не %[1]s / --duration must be positive, not %[1]s", duration)
			case workers < 1:
				return fmt.Errorf("--workers: не меньше 1, а не %[1]d / --workers must be at least 1, not %[1]d", workers)
			case !(share > 0 && share <= 1):
				return fmt.Errorf("--submit-share: больше 0 и не больше 1, а не %[1]v / --submit-share must be above 0 and at most 1, not %[1]v", share)
			}
			tok, err := devTokens(cfg)
			if err != nil {
				return err
			}
			bar := newBar(int64(rate*duration.Seconds()), fmt.Sprintf("%.0f cmd/s", rate), "commands")
			st, err := loadgen.Run(cmd.Context(), loadgen.Options{
				BaseURL: "http://" + cfg.HTTPAddr, Rate: rate, Duration: duration, Workers: workers, SubmitShare: share,
				Token: tok, OnCommand: func() { _ = bar.Add(1) },
			})
			_ = bar.Finish()
			if err != nil {
				return err
			}
			if err := printLoad(cmd.OutOrStdout(), cmd.ErrOrStderr(), st, rate); err != nil {
				return err
			}
			if st.Errors > 0 {
				// A run with failures is not a measurement to quote: say so
				// in the exit status, for scripts and CI.
				return fmt.Errorf("%[1]d запросов не удались (первые перечислены выше) / %[1]d requests failed (the first are listed above)", st.Errors)
			}
			return nil
		},
	}
	c.Flags().Float64Var(&rate, "rate", 100, "commands per second offered")
	c.Flags().DurationVar(&duration, "duration", 30*time.Second, "how long to send")
	c.Flags().IntVar(&workers, "workers", 64, "requests in flight at most")
	c.Flags().Float64Var(&share, "submit-share", 0.25, "share of commands that submit a new application")
	return c
}

func printLoad(w, errw io.Writer, st loadgen.Stats, rate float64) error {
	fmt.Fprintf(w, "%d commands in %s: %.0f cmd/s (offered %.0f), %d errors\n\n", st.Commands, st.Elapsed.Round(time.Millisecond), st.Throughput, rate, st.Errors)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tN\tP50\tP95\tP99\tMAX\t")
	row := func(name string, l loadgen.Latency) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", name, l.N, round(l.P50), round(l.P95), round(l.P99), round(l.Max))
	}
	names := make([]string, 0, len(st.ByCommand))
	for n := range st.ByCommand {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		row(n, st.ByCommand[n])
	}
	row("all commands", st.All)
	row("read-your-writes (cabinet)", st.ReadYourWrite)
	row("read-your-writes (reviewer's view)", st.StaffReadYourWrite)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range st.FirstErrors {
		fmt.Fprintln(errw, "error:", e)
	}
	return nil
}

func round(d time.Duration) string {
	if d >= 10*time.Millisecond {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}
