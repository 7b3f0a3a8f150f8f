package bench

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

func k(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

// count writes an event count the way the issue does: 1M, 200k.
func count(n int) string {
	switch {
	case n >= 1_000_000:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e6), ".0") + "M"
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1000)
	}
	return fmt.Sprint(n)
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func mb(b uint64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// Markdown renders the table the README carries.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured by `omsctl bench` on %s, %s, in %s, against a fresh data dir on the local disk.\n\n",
		r.Machine, r.Started.UTC().Format("2006-01-02"), r.Elapsed.Round(time.Second))
	b.WriteString("| figure | measured | target on 2 cores | met |\n|---|---|---|---|\n")
	row := func(fig, got, target string, ok bool) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", fig, got, target, met(ok))
	}

	a := r.Appends
	row(fmt.Sprintf("embedded store appends/s at %d writers", a.Writers),
		fmt.Sprintf("%s/s (%s appends; p50 %s, p99 %s; %.1f events per fsync)", k(a.PerSecond), count(a.Events), ms(a.Latency.P50), ms(a.Latency.P99), a.EventsPerFsync),
		"≥ 20k", a.PerSecond >= 20000)
	ratio := 0.0
	if r.Fsyncs > 0 {
		ratio = a.PerSecond / r.Fsyncs
	}
	row("the same ÷ the disk's fsyncs/s", fmt.Sprintf("%s ÷ %s fsyncs/s = %.1f", k(a.PerSecond), k(r.Fsyncs), ratio), "≥ 4", ratio >= 4)

	s := r.Submit
	sub := fmt.Sprintf("%s/s at p99 %s (p50 %s; %d clients, %d submissions in %s", k(s.PerSecond), ms(s.Latency.P99), ms(s.Latency.P50),
		s.Workers, s.Submitted, s.Elapsed.Round(100*time.Millisecond))
	if s.Errors > 0 {
		sub += fmt.Sprintf("; %d errors", s.Errors)
	}
	if s.PoolExhausted {
		sub += "; every one of the prepared applicants had submitted before the time was up"
	}
	row("SubmitApplication over HTTP, end to end", sub+")", "≥ 3k/s at p99 ≤ 25 ms", s.PerSecond >= 3000 && s.Latency.P99 <= 25*time.Millisecond && s.Errors == 0)

	w := r.RYW
	ryw := fmt.Sprintf("p99 %s in the applicant's cabinet (p50 %s; %s cmd/s achieved of %.0f offered; command p99 %s; a reviewer's command in the reviewer's view, after its access-log entry: p99 %s", ms(w.ReadYourWrite.P99), ms(w.ReadYourWrite.P50),
		k(w.Throughput), r.Options.RYWRate, ms(w.All.P99), ms(w.StaffReadYourWrite.P99))
	if w.Errors > 0 {
		ryw += fmt.Sprintf("; %d errors", w.Errors)
	}
	row(fmt.Sprintf("read-your-writes p99 at %.0f cmd/s", r.Options.RYWRate), ryw+")", "≤ 100 ms",
		w.ReadYourWrite.P99 <= 100*time.Millisecond && w.Errors == 0 && w.Throughput >= 0.95*r.Options.RYWRate)

	rb := r.Rebuild
	var parts []string
	ps := append(rb.Projections[:0:0], rb.Projections...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].PerSecond < ps[j].PerSecond })
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s %s", p.Name, k(p.PerSecond)))
	}
	slow := rb.Slowest()
	events := 0
	if len(rb.Projections) > 0 {
		events = rb.Projections[0].Events
	}
	row("projection rebuild, events/s per projection",
		fmt.Sprintf("%s (%s events; all %d one after another: %s)", strings.Join(parts, ", "), count(events), len(ps), rb.Total.Round(100*time.Millisecond)),
		"≥ 50k", len(ps) > 0 && slow.PerSecond >= 50000)
	if op := rb.OnePass; op.Events > 0 {
		row("projection rebuild, all in one pass",
			fmt.Sprintf("%s events/s (%s events × %d projections in %s: %s event applies/s)", k(op.PerSecond), count(op.Events), len(ps),
				op.Elapsed.Round(100*time.Millisecond), k(op.PerSecond*float64(len(ps)))),
			"≥ 50k", op.PerSecond >= 50000)
	}

	t := r.Travel
	row("time travel over 200 events (load + fold + diffs)", fmt.Sprintf("p50 %s, p99 %s (%d runs)", ms(t.P50), ms(t.P99), t.N), "≤ 5 ms", t.P50 <= 5*time.Millisecond)

	m := r.RSS
	row(fmt.Sprintf("RSS after %s events (omsd, embedded stores)", count(m.Events)),
		fmt.Sprintf("%s at rest, %s after its projections caught up (%s when they did; peak %s; appending and projecting took %s)",
			mb(m.RSS), m.Rest.Round(time.Second), mb(m.CaughtUp), mb(m.Peak), m.Fill.Round(time.Second)),
		"≤ 300 MB", m.RSS <= 300<<20)
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "\nNote: %s.\n", w)
	}
	if s.FirstError != "" {
		fmt.Fprintf(&b, "\nFirst submission error: `%s`\n", s.FirstError)
	}
	if len(w.FirstErrors) > 0 {
		fmt.Fprintf(&b, "\nFirst read-your-writes errors: `%s`\n", strings.Join(w.FirstErrors, "`, `"))
	}
	return b.String()
}
