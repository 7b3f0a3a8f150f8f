package calendar

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

var testMSK = time.FixedZone("MSK", 3*60*60)

// day is a date in MSK, the form the package returns.
func day(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, testMSK)
}

func fmtDay(t time.Time) string { return t.In(testMSK).Format("2006-01-02 Mon") }

// xmlCalendar is the xmlcalendar.ru format of ../shared/calendar-ru.
type xmlCalendar struct {
	Year int `xml:"year,attr"`
	Days []struct {
		D string `xml:"d,attr"` // "MM.DD"
		T int    `xml:"t,attr"` // 1 day off, 2 shortened, 3 working weekend
		H string `xml:"h,attr"` // holiday id; set only on art. 112 holidays
		F string `xml:"f,attr"` // "MM.DD" the day off was moved from
	} `xml:"days>day"`
}

// findOracleDir walks up from the working directory to the first ancestor
// with a shared/calendar-ru directory, so the test works from the package
// directory and from wherever else `go test` may run it.
func findOracleDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "calendar-ru")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no shared/calendar-ru directory in any ancestor of the working directory; the oracle data (xmlcalendar.ru files) is not available here")
		}
		dir = parent
	}
}

// TestOracle checks every day of every year in ../shared/calendar-ru against
// the package, and insists that 2024–2026 are among them.
func TestOracle(t *testing.T) {
	dir := findOracleDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	seen := map[int]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var xc xmlCalendar
		if err := xml.Unmarshal(raw, &xc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if xc.Year == 0 || len(xc.Days) == 0 {
			t.Fatalf("%s: no year or no days parsed", f)
		}
		seen[xc.Year] = true
		t.Run(strconv.Itoa(xc.Year), func(t *testing.T) {
			checkOracleYear(t, c, xc)
		})
	}
	for _, y := range []int{2024, 2025, 2026} {
		if !seen[y] {
			t.Errorf("oracle for %d missing from %s", y, dir)
		}
	}
}

func checkOracleYear(t *testing.T, c *Calendar, xc xmlCalendar) {
	want := map[time.Time]Kind{}
	for _, d := range xc.Days {
		var m, dd int
		if _, err := fmt.Sscanf(d.D, "%02d.%02d", &m, &dd); err != nil {
			t.Fatalf("bad day %q: %v", d.D, err)
		}
		date := day(xc.Year, time.Month(m), dd)
		if date.Month() != time.Month(m) {
			t.Fatalf("bad day %q", d.D)
		}
		var k Kind
		switch {
		case d.T == 1 && d.H != "":
			k = Holiday
		case d.T == 1:
			k = Weekend // a day off moved here from d.F
		case d.T == 2:
			k = Shortened
		case d.T == 3:
			k = Working
		default:
			t.Fatalf("day %q: unknown t=%d", d.D, d.T)
		}
		want[date] = k
	}
	if c.Provisional(xc.Year) {
		t.Errorf("Provisional(%d) = true, but the oracle has its decree", xc.Year)
	}
	checked := 0
	for d := day(xc.Year, time.January, 1); d.Year() == xc.Year; d = d.AddDate(0, 0, 1) {
		k, listed := want[d]
		if !listed {
			k = Working
			if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
				k = Weekend
			}
		}
		if got := c.DayKind(d); got != k {
			t.Errorf("%s: DayKind = %v, oracle says %v", fmtDay(d), got, k)
		}
		if got := c.IsWorkingDay(d); got != k.IsWorking() {
			t.Errorf("%s: IsWorkingDay = %v", fmtDay(d), got)
		}
		checked++
	}
	if checked < 365 {
		t.Fatalf("checked only %d days", checked)
	}
}

// TestAnnualNorms checks the totals the Ministry of Labour publishes with each
// year's calendar (working days and the hours of a 40-hour week), which are
// independent of the oracle files.
func TestAnnualNorms(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		year, days, hours int
	}{
		{2024, 248, 1979},
		{2025, 247, 1972},
		{2026, 247, 1972},
	} {
		days, hours := 0, 0
		for d := day(tc.year, time.January, 1); d.Year() == tc.year; d = d.AddDate(0, 0, 1) {
			switch c.DayKind(d) {
			case Working:
				days++
				hours += 8
			case Shortened:
				days++
				hours += 7
			}
		}
		if days != tc.days || hours != tc.hours {
			t.Errorf("%d: %d working days, %d hours; want %d, %d", tc.year, days, hours, tc.days, tc.hours)
		}
		last := day(tc.year-1, time.December, 31)
		if got := c.WorkingDaysBetween(last, day(tc.year, time.December, 31)); got != tc.days {
			t.Errorf("%d: WorkingDaysBetween over the year = %d, want %d", tc.year, got, tc.days)
		}
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		name  string
		start time.Time
		n     int
		want  time.Time
		prov  bool
	}{
		// New Year 2024/25: Saturday 28 December 2024 is working, 30 and 31
		// December are days off moved there, then 1–8 January.
		{"new year: working Saturday", day(2024, time.December, 27), 1, day(2024, time.December, 28), false},
		{"new year: across the holidays", day(2024, time.December, 27), 2, day(2025, time.January, 9), false},
		{"new year: started on a holiday", day(2025, time.January, 3), 1, day(2025, time.January, 9), false},
		{"new year 2026: 31 Dec to 9 Jan off", day(2025, time.December, 30), 1, day(2026, time.January, 12), false},
		{"ten working days over new year", day(2025, time.December, 25), 10, day(2026, time.January, 20), false},

		// May 2025: 1–4 and 8–11 May are off.
		{"may: first break", day(2025, time.April, 30), 1, day(2025, time.May, 5), false},
		{"may: both breaks", day(2025, time.April, 30), 4, day(2025, time.May, 12), false},
		{"may 2024: 29 Apr to 1 May off", day(2024, time.April, 26), 1, day(2024, time.April, 27), false},
		{"may 2024: past the working Saturday", day(2024, time.April, 27), 1, day(2024, time.May, 2), false},

		// Transfers: working Saturday 1 November 2025, day off on Monday 3rd.
		{"transfer: working Saturday", day(2025, time.October, 31), 1, day(2025, time.November, 1), false},
		{"transfer: moved day off", day(2025, time.November, 1), 1, day(2025, time.November, 5), false},
		// 2026: art. 112 moves Saturday 9 May to Monday 11 May by itself.
		{"automatic move of 9 May 2026", day(2026, time.May, 8), 1, day(2026, time.May, 12), false},

		// A term that ends on a non-working day ends on the next working one.
		{"n=0 on a Saturday", day(2025, time.June, 7), 0, day(2025, time.June, 9), false},
		{"n=0 on a holiday", day(2025, time.June, 12), 0, day(2025, time.June, 16), false},
		{"n=0 on a working day", day(2025, time.June, 11), 0, day(2025, time.June, 11), false},
		{"start on a Saturday", day(2025, time.June, 7), 1, day(2025, time.June, 9), false},
		{"over 12 June 2025", day(2025, time.June, 6), 5, day(2025, time.June, 17), false},

		// The date is taken in MSK: 21:30 UTC on 8 January is 9 January.
		{"date in MSK", time.Date(2025, time.January, 8, 21, 30, 0, 0, time.UTC), 1, day(2025, time.January, 10), false},
		{"date in MSK, before midnight", time.Date(2025, time.January, 8, 20, 59, 0, 0, time.UTC), 1, day(2025, time.January, 9), false},
		{"date in MSK from UTC-5", time.Date(2025, time.January, 8, 16, 0, 0, 0, time.FixedZone("EST", -5*60*60)), 1, day(2025, time.January, 10), false},

		// Large n: whole years, stopping just short of provisional 2027.
		{"a year", day(2024, time.December, 31), 247, day(2025, time.December, 30), false},
		{"two years", day(2024, time.December, 31), 494, day(2026, time.December, 30), false},
		{"into 2027", day(2026, time.December, 30), 1, day(2027, time.January, 11), true},
		// 248 + 247 + 247 working days in 2024–2026, 249 in 2027 by art. 112.
		{"to the end of 2027", day(2023, time.December, 31), 991, day(2027, time.December, 31), true},
		{"a thousand days", day(2023, time.December, 31), 1000, day(2028, time.January, 20), true},

		// Counting back.
		{"back over new year", day(2025, time.January, 9), -1, day(2024, time.December, 28), false},
		{"back from a holiday", day(2025, time.May, 9), -2, day(2025, time.May, 6), false},

		// Fallback years follow art. 112 only and are provisional.
		// 2030: Saturday 23 February moves its day off to Monday 25th.
		{"fallback 2030: 23 Feb", day(2030, time.February, 22), 1, day(2030, time.February, 26), true},
		// 2031: Saturday 8 March moves its day off to Monday 10 March.
		{"fallback 2031: 8 Mar", day(2031, time.March, 7), 1, day(2031, time.March, 11), true},
		{"fallback 2031: n=0 on 8 Mar", day(2031, time.March, 8), 0, day(2031, time.March, 11), true},
		// January weekend holidays are not moved without a decree.
		{"fallback 2028: January", day(2028, time.January, 1), 1, day(2028, time.January, 10), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, prov := c.AddWorkingDays(tc.start, tc.n)
			if !got.Equal(tc.want) || prov != tc.prov {
				t.Errorf("AddWorkingDays(%s, %d) = %s, %v; want %s, %v",
					tc.start.Format(time.RFC3339), tc.n, fmtDay(got), prov, fmtDay(tc.want), tc.prov)
			}
			if _, off := got.Zone(); off != 3*60*60 || got.Hour() != 0 || got.Minute() != 0 {
				t.Errorf("result %v is not midnight MSK", got)
			}
		})
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		from, to time.Time
		want     int
	}{
		{day(2025, time.April, 30), day(2025, time.April, 30), 0},
		{day(2025, time.April, 30), day(2025, time.May, 4), 0},
		{day(2025, time.April, 30), day(2025, time.May, 5), 1},
		{day(2025, time.May, 5), day(2025, time.April, 30), -1},
		{day(2025, time.April, 29), day(2025, time.April, 30), 1},
		{day(2025, time.April, 30), day(2025, time.April, 29), -1},
		{day(2024, time.December, 27), day(2025, time.January, 9), 2},
		// Time of day does not matter, only the MSK date.
		{time.Date(2025, time.April, 29, 23, 59, 0, 0, testMSK), time.Date(2025, time.April, 30, 0, 1, 0, 0, testMSK), 1},
	} {
		if got := c.WorkingDaysBetween(tc.from, tc.to); got != tc.want {
			t.Errorf("WorkingDaysBetween(%s, %s) = %d, want %d", fmtDay(tc.from), fmtDay(tc.to), got, tc.want)
		}
	}
}

func TestDayKind(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		t    time.Time
		want Kind
	}{
		{day(2024, time.December, 31), Weekend},  // day off moved from 7 January
		{day(2025, time.February, 23), Holiday},  // on a Sunday, still a holiday
		{day(2025, time.February, 24), Working},  // decree moved the day off to 8 May
		{day(2025, time.May, 8), Weekend},        // ...here
		{day(2026, time.March, 9), Weekend},      // art. 112 move, not in the decree
		{day(2024, time.November, 2), Shortened}, // working Saturday, shortened
		{day(2024, time.December, 28), Working},  // working Saturday, full length

		// 2027, provisional: art. 112 moves, January untouched.
		{day(2027, time.January, 2), Holiday},
		{day(2027, time.January, 11), Working},
		{day(2027, time.May, 3), Weekend},
		{day(2027, time.May, 10), Weekend},
		{day(2027, time.June, 14), Weekend},
		{day(2027, time.April, 30), Shortened},
		{day(2027, time.December, 31), Shortened},

		// Fallback.
		{day(2031, time.March, 7), Shortened},
		{day(2031, time.March, 8), Holiday},
		{day(2031, time.March, 10), Weekend},
		{day(2031, time.March, 11), Working},
		{day(2028, time.January, 10), Working},

		// MSK date of an instant given elsewhere.
		{time.Date(2025, time.January, 8, 21, 0, 0, 0, time.UTC), Working},
		{time.Date(2025, time.January, 8, 20, 59, 59, 0, time.UTC), Holiday},
	} {
		if got := c.DayKind(tc.t); got != tc.want {
			t.Errorf("DayKind(%s) = %v, want %v", tc.t.Format(time.RFC3339), got, tc.want)
		}
	}
}

func TestProvisional(t *testing.T) {
	c := Default()
	for y, want := range map[int]bool{
		2023: true, 2024: false, 2025: false, 2026: false,
		2027: true, // no decree yet; see data.go
		2030: true, 2031: true,
	} {
		if got := c.Provisional(y); got != want {
			t.Errorf("Provisional(%d) = %v, want %v", y, got, want)
		}
	}
	var zero Calendar
	if !zero.Provisional(2025) {
		t.Error("the zero Calendar has no decree data, yet 2025 is not provisional")
	}
	if got := zero.DayKind(day(2025, time.May, 2)); got != Working {
		t.Errorf("zero Calendar: 2 May 2025 is %v, want working (no decree)", got)
	}
}

// TestBuiltinData checks the decree data for slips that would otherwise show
// only as a wrong deadline: a transfer must take a day off from a weekend or
// holiday onto a weekday that was working, and a shortened day must be working.
func TestBuiltinData(t *testing.T) {
	for y, d := range builtin {
		plain := buildYear(y, nil)
		kindOf := func(tb *year, md monthDay) Kind {
			return tb.kinds[dayNum(y, md.m, md.d)-tb.first]
		}
		for _, tr := range d.transfers {
			if k := kindOf(plain, tr.from); k != Weekend && k != Holiday {
				t.Errorf("%d: transfer from %v %d, a %v day", y, tr.from.m, tr.from.d, k)
			}
			if k := kindOf(plain, tr.to); !k.IsWorking() {
				t.Errorf("%d: transfer to %v %d, a %v day", y, tr.to.m, tr.to.d, k)
			}
		}
		// The kinds before the listed shortened days are applied: each of
		// them must be a working day.
		unshortened := d
		unshortened.shortened = []monthDay{}
		before := buildYear(y, &unshortened)
		for _, md := range d.shortened {
			if k := kindOf(before, md); k != Working {
				t.Errorf("%d: shortened %v %d is a %v day", y, md.m, md.d, k)
			}
		}
		// Without a decree, the shortened days are art. 95 applied literally.
		if d.provisional {
			rule := shortenedByRule(before.kinds)
			for i, k := range buildYear(y, &d).kinds {
				if (k == Shortened) != rule[i] {
					t.Errorf("%d: day %d of the year is %v, the rule says shortened=%v", y, i+1, k, rule[i])
				}
			}
		}
	}
}

func TestKindString(t *testing.T) {
	got := []string{Working.String(), Shortened.String(), Weekend.String(), Holiday.String(), Kind(0).String()}
	want := []string{"working", "shortened", "weekend", "holiday", "Kind(0)"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// FuzzAddWorkingDays checks that AddWorkingDays and WorkingDaysBetween agree
// for any start in 1990–2110 (decree years, provisional and fallback ones)
// and any n within ±3000 working days (about 12 years).
func FuzzAddWorkingDays(f *testing.F) {
	f.Add(day(2024, time.December, 27).Unix(), 2)
	f.Add(day(2025, time.April, 30).Unix()+3600*22, 4)
	f.Add(day(2026, time.December, 30).Unix(), 1)
	f.Add(day(2031, time.March, 7).Unix(), 0)
	f.Add(day(2025, time.May, 9).Unix(), -2)
	f.Add(int64(0), 3000)
	f.Add(int64(-1), -3000)

	const (
		lo   = 631152000  // 1990-01-01 UTC
		span = 3786912000 // 120 years of seconds
	)
	c := Default()
	f.Fuzz(func(t *testing.T, sec int64, n int) {
		sec = lo + ((sec%span)+span)%span
		n %= 3001
		start := time.Unix(sec, 0).UTC()
		res, prov := c.AddWorkingDays(start, n)

		sy, sm, sd := start.In(testMSK).Date()
		startDay := day(sy, sm, sd)
		if !res.Equal(day(res.In(testMSK).Date())) {
			t.Fatalf("result %v is not midnight MSK", res)
		}
		if !c.IsWorkingDay(res) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s, a %v day", fmtDay(start), n, fmtDay(res), c.DayKind(res))
		}
		switch {
		case n > 0:
			if !res.After(startDay) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, not after the start", fmtDay(start), n, fmtDay(res))
			}
			if got := c.WorkingDaysBetween(start, res); got != n {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, but WorkingDaysBetween = %d", fmtDay(start), n, fmtDay(res), got)
			}
			if got := c.WorkingDaysBetween(res, start); got != -n {
				t.Fatalf("WorkingDaysBetween(%s, %s) = %d, want %d", fmtDay(res), fmtDay(start), got, -n)
			}
			wantProv := false
			for y := startDay.AddDate(0, 0, 1).Year(); y <= res.Year(); y++ {
				wantProv = wantProv || c.Provisional(y)
			}
			if prov != wantProv {
				t.Fatalf("AddWorkingDays(%s, %d) provisional = %v, want %v", fmtDay(start), n, prov, wantProv)
			}
		case n == 0:
			if res.Before(startDay) {
				t.Fatalf("AddWorkingDays(%s, 0) = %s, before the start", fmtDay(start), fmtDay(res))
			}
			if got := c.WorkingDaysBetween(startDay, res); got > 1 || (got == 1) == c.IsWorkingDay(startDay) {
				t.Fatalf("AddWorkingDays(%s, 0) = %s skips working days", fmtDay(start), fmtDay(res))
			}
		default:
			if !res.Before(startDay) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, not before the start", fmtDay(start), n, fmtDay(res))
			}
			// Working days in [res, start) = (res-1, start-1].
			if got := c.WorkingDaysBetween(res.AddDate(0, 0, -1), startDay.AddDate(0, 0, -1)); got != -n {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, but %d working days lie between", fmtDay(start), n, fmtDay(res), got)
			}
		}
	})
}
