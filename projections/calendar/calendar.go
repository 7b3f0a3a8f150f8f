// Package calendar is the Russian production (working-day) calendar that SLA
// deadlines of applications are computed with: "the reviewer answers within 10
// working days after submission".
//
// Which days are working is not a pure function of the weekday. The Labour
// Code (Трудовой кодекс РФ, ст. 112) fixes the non-working holidays and moves
// a day off that coincides with a holiday, and every year a government decree
// (постановление Правительства РФ о переносе выходных дней) moves further days
// off and turns some Saturdays into working days. The decrees are not
// computable, so the years for which they are known are built into the
// package as Go data (data.go); every other year falls back to the Labour Code
// rules alone and is reported as provisional, so that a caller can flag a
// deadline that may still move once the decree for its year is published.
//
// # Dates
//
// The calendar works with calendar dates in Moscow. A time.Time is reduced to
// a date by taking its year, month and day at UTC+3 (MSK), whatever location
// the value carries: an application submitted at 23:30 UTC on 31 March was
// submitted on 1 April as far as the deadline is concerned. The offset is
// fixed rather than looked up in tzdata because the servers may lack tzdata,
// and Moscow has kept UTC+3 since October 2014, which covers every year that
// has real data here. Dates returned by the package are midnight at the start
// of the day in that fixed zone.
package calendar

import (
	"strconv"
	"sync"
	"time"
)

// msk is Moscow time without tzdata; see the package comment.
var msk = time.FixedZone("MSK", 3*60*60)

// Kind classifies a calendar day.
type Kind uint8

const (
	// Working is an ordinary working day, including a Saturday or Sunday that
	// a decree made working.
	Working Kind = iota + 1
	// Shortened is a working day one hour shorter because it precedes a
	// holiday (Labour Code art. 95). It counts as a full working day for
	// deadlines.
	Shortened
	// Weekend is a day off that is not a holiday: a Saturday or Sunday, or a
	// weekday that became a day off because a day off was moved onto it (by a
	// decree or by art. 112 part 2), such as 31 December in 2024–2026.
	Weekend
	// Holiday is a non-working holiday of Labour Code art. 112, whatever
	// weekday it falls on.
	Holiday
)

// String returns a lower-case English name, meant for logs and test output.
func (k Kind) String() string {
	switch k {
	case Working:
		return "working"
	case Shortened:
		return "shortened"
	case Weekend:
		return "weekend"
	case Holiday:
		return "holiday"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// IsWorking reports whether a day of this kind counts as a working day.
func (k Kind) IsWorking() bool { return k == Working || k == Shortened }

// Calendar answers questions about working days. It is immutable and safe
// for concurrent use.
//
// The zero Calendar has no decree data: every year falls back to the Labour
// Code rules and is provisional. Use Default for the built-in data.
type Calendar struct {
	years map[int]*year
}

var defaultCalendar = sync.OnceValue(func() *Calendar {
	c := &Calendar{years: make(map[int]*year, len(builtin))}
	for y, d := range builtin {
		c.years[y] = buildYear(y, &d)
	}
	return c
})

// Default returns the calendar with the built-in decree data (2024–2027; see
// data.go). Every call returns the same Calendar.
func Default() *Calendar { return defaultCalendar() }

// Provisional reports whether the working days of the year are not yet
// settled by a government decree that this package knows, so that deadlines
// falling in or running through the year may still change. Years without
// built-in data are provisional, and so is a built-in year whose decree had not
// been published when the data was written (2027 at the time of writing).
func (c *Calendar) Provisional(y int) bool {
	t, ok := c.years[y]
	return !ok || t.provisional
}

// DayKind classifies the date of t in Moscow.
func (c *Calendar) DayKind(t time.Time) Kind {
	var cur cursor
	k, _ := cur.kind(c, dayOf(t))
	return k
}

// IsWorkingDay reports whether the date of t in Moscow is a working day
// (an ordinary or a shortened one).
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	return c.DayKind(t).IsWorking()
}

// AddWorkingDays returns the date on which a term of n working days that
// starts with an event at start ends, and whether any day the answer depends
// on lies in a provisional year.
//
// The rules are those of the Civil Code (ГК РФ ст. 191, 193): the day of the
// event itself is not counted, counting starts on the next day, and a term
// that would end on a non-working day ends on the next working day instead.
// So for n > 0 the result is the n-th working day after the date of start;
// for n == 0 it is the date of start when that is a working day and the next
// working day otherwise. A negative n counts back: the result is the |n|-th
// working day before the date of start (useful for "at least 3 working days
// before the hearing").
//
// The result is midnight at the start of the day in MSK; the term runs out at
// the end of that day (ГК РФ ст. 194).
func (c *Calendar) AddWorkingDays(start time.Time, n int) (time.Time, bool) {
	var cur cursor
	dn := dayOf(start)
	provisional := false
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	if n == 0 {
		for {
			k, p := cur.kind(c, dn)
			provisional = provisional || p
			if k.IsWorking() {
				break
			}
			dn++
		}
	}
	for n > 0 {
		dn += step
		k, p := cur.kind(c, dn)
		provisional = provisional || p
		if k.IsWorking() {
			n--
		}
	}
	return dateOf(dn), provisional
}

// WorkingDaysBetween counts the working days after the date of from up to and
// including the date of to, the way AddWorkingDays counts them, so that
// WorkingDaysBetween(start, deadline) is the term already used up and
// WorkingDaysBetween(now, deadline) the working days remaining. When to is
// before from the count is negative: -WorkingDaysBetween(to, from).
func (c *Calendar) WorkingDaysBetween(from, to time.Time) int {
	a, b := dayOf(from), dayOf(to)
	sign := 1
	if b < a {
		a, b, sign = b, a, -1
	}
	var cur cursor
	count := 0
	for dn := a + 1; dn <= b; dn++ {
		if k, _ := cur.kind(c, dn); k.IsWorking() {
			count++
		}
	}
	return sign * count
}

// cursor remembers the last year looked up, because the day-by-day walks
// above stay within one year for hundreds of steps and a fallback year is
// rebuilt on every lookup.
type cursor struct {
	y *year
}

func (cur *cursor) kind(c *Calendar, dn int) (Kind, bool) {
	y := cur.y
	if y == nil || dn < y.first || dn >= y.first+len(y.kinds) {
		yr := dateOf(dn).Year()
		y = c.years[yr]
		if y == nil {
			y = buildYear(yr, nil)
		}
		cur.y = y
	}
	return y.kinds[dn-y.first], y.provisional
}

// year is the kind of every day of one calendar year.
type year struct {
	first       int // day number of 1 January
	provisional bool
	kinds       []Kind // indexed by day of year - 1
}

// holidays are the non-working holidays of Labour Code art. 112 part 1
// (in force since 2013).
var holidays = []monthDay{
	{time.January, 1}, {time.January, 2}, {time.January, 3}, {time.January, 4},
	{time.January, 5}, {time.January, 6}, {time.January, 7}, {time.January, 8},
	{time.February, 23},
	{time.March, 8},
	{time.May, 1},
	{time.May, 9},
	{time.June, 12},
	{time.November, 4},
}

// buildYear lays out year y from the Labour Code rules and the decree data d
// (nil when there is none).
//
// The order matters: the decree's transfers go first, because art. 112 part 2
// moves a day off that coincides with a holiday only when the government has
// not already moved it elsewhere (in 2025 the decree sent Sunday 23 February to
// 8 May instead of the automatic Monday 24 February), and the automatic moves
// must land on a day that is still working after the decree.
func buildYear(y int, d *yearData) *year {
	first := dayNum(y, time.January, 1)
	t := &year{
		first:       first,
		provisional: d == nil || d.provisional,
		kinds:       make([]Kind, dayNum(y+1, time.January, 1)-first),
	}
	for i := range t.kinds {
		switch weekday(first + i) {
		case time.Saturday, time.Sunday:
			t.kinds[i] = Weekend
		default:
			t.kinds[i] = Working
		}
	}
	idx := func(md monthDay) int { return dayNum(y, md.m, md.d) - first }
	for _, h := range holidays {
		t.kinds[idx(h)] = Holiday
	}

	movedByDecree := map[int]bool{}
	if d != nil {
		for _, tr := range d.transfers {
			from, to := idx(tr.from), idx(tr.to)
			movedByDecree[from] = true
			// A Saturday or Sunday whose day off leaves becomes a working day;
			// a holiday stays a holiday, only its weekend day off leaves.
			if t.kinds[from] == Weekend {
				t.kinds[from] = Working
			}
			t.kinds[to] = Weekend
		}
	}

	// Art. 112 part 2: a day off that coincides with a holiday moves to the
	// next working day. The January holidays are excluded by the same article:
	// two of those days off are moved by the decree and the rest are lost, so
	// without a decree nothing can be said about them.
	for _, h := range holidays {
		if h.m == time.January {
			continue
		}
		i := idx(h)
		if wd := weekday(first + i); (wd != time.Saturday && wd != time.Sunday) || movedByDecree[i] {
			continue
		}
		for j := i + 1; j < len(t.kinds); j++ {
			if t.kinds[j] == Working {
				t.kinds[j] = Weekend
				break
			}
		}
	}

	if d != nil && d.shortened != nil {
		for _, md := range d.shortened {
			t.kinds[idx(md)] = Shortened
		}
	} else {
		for i, k := range shortenedByRule(t.kinds) {
			if k {
				t.kinds[i] = Shortened
			}
		}
	}
	return t
}

// shortenedByRule applies Labour Code art. 95 literally: a working day
// immediately followed by a holiday is one hour shorter. The last day of the
// year is followed by 1 January, always a holiday.
//
// The Ministry of Labour's published calendars sometimes also shorten a
// working Saturday that precedes a holiday only across days off (2 November
// 2024, 1 November 2025), which the literal rule cannot foresee; that is why
// decree years list their shortened days instead of deriving them.
func shortenedByRule(kinds []Kind) []bool {
	out := make([]bool, len(kinds))
	for i, k := range kinds {
		if k != Working {
			continue
		}
		if i == len(kinds)-1 || kinds[i+1] == Holiday {
			out[i] = true
		}
	}
	return out
}

// Day numbers count days since 1970-01-01 and are the internal form of a
// date; arithmetic on them cannot skip or repeat a day the way adding 24h to a
// time.Time in a zone with transitions could.

func dayNum(y int, m time.Month, d int) int {
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / (24 * 60 * 60))
}

func dayOf(t time.Time) int {
	y, m, d := t.In(msk).Date()
	return dayNum(y, m, d)
}

// dateOf returns midnight MSK at the start of day dn.
func dateOf(dn int) time.Time {
	// time.Date normalises the overflowing day, which turns a day count into
	// a date without any calendar arithmetic of our own.
	return time.Date(1970, time.January, 1+dn, 0, 0, 0, 0, msk)
}

func weekday(dn int) time.Weekday {
	// 1970-01-01 was a Thursday.
	return time.Weekday(((dn+4)%7 + 7) % 7)
}
