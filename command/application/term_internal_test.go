package application

import (
	"testing"
	"time"
)

// Terms in months end as the Civil Code counts them (art. 192 p. 3), not
// where Go's AddDate rolls a missing day (time QA: 31.01 + 1 month ended
// on 02.03).
func TestMonthsEnd(t *testing.T) {
	for _, tc := range []struct {
		start  string
		months int
		want   string
	}{
		{"2026-03-10", 12, "2027-03-09"},
		{"2028-02-29", 12, "2029-02-28"},
		{"2028-03-01", 12, "2029-02-28"},
		{"2027-01-29", 1, "2027-02-28"},
		{"2027-01-31", 1, "2027-02-28"},
		{"2027-02-01", 1, "2027-02-28"}, // 31 January's day, cut to February
		{"2026-08-29", 6, "2027-02-28"},
		{"2026-08-30", 6, "2027-02-28"},
		{"2026-08-31", 6, "2027-02-28"},
		{"2026-11-30", 3, "2027-02-28"},
		{"2027-12-01", 3, "2028-02-29"},
		{"2026-01-01", 12, "2026-12-31"},
		// The day before the matching date, also when the day before start
		// was a month's last (decisions QA: these lost 1 to 3 days).
		{"2027-03-01", 12, "2028-02-29"},
		{"2031-03-01", 12, "2032-02-29"},
		{"2027-03-01", 6, "2027-08-31"},
		{"2026-05-01", 6, "2026-10-31"},
		{"2026-12-01", 12, "2027-11-30"},
		{"2026-11-29", 12, "2027-11-28"},
	} {
		start, _ := time.Parse(time.DateOnly, tc.start)
		if got := monthsEnd(start, tc.months).Format(time.DateOnly); got != tc.want {
			t.Errorf("%s + %d months: %s, want %s", tc.start, tc.months, got, tc.want)
		}
	}
}
