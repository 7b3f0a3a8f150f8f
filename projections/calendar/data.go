package calendar

import "time"

type monthDay struct {
	m time.Month
	d int
}

// transfer is one line of a decree: "перенести выходной день с <from> на
// <to>". Keeping the decree's own shape, rather than a list of resulting days
// off, lets the data be checked against the decree text line by line.
type transfer struct {
	from, to monthDay
}

// yearData is what the Labour Code rules alone cannot tell about a year.
type yearData struct {
	// provisional marks data written before the year's decree was published.
	provisional bool
	// transfers are the decree's moves of days off, in the decree's order.
	// The moves that art. 112 part 2 makes by itself (a non-January holiday on
	// a Saturday or Sunday) are not repeated here; buildYear applies them.
	transfers []transfer
	// shortened are the pre-holiday working days as published in the
	// Ministry of Labour's production calendar for the year. The decree does
	// not list them, and they do not always follow art. 95 literally (see
	// shortenedByRule). Nil means "derive by the rule".
	shortened []monthDay
}

func on(m time.Month, d int) monthDay { return monthDay{m, d} }

// builtin holds the years whose decrees are known. Adding a year: copy the
// decree's transfers verbatim, take the shortened days from the Ministry of
// Labour's calendar, and drop provisional. The oracle test in calendar_test.go
// checks every day against ../shared/calendar-ru/<year>.xml when that file
// exists.
var builtin = map[int]yearData{
	// Постановление Правительства РФ от 10.08.2023 № 1314
	// «О переносе выходных дней в 2024 году».
	2024: {
		transfers: []transfer{
			{on(time.January, 6), on(time.May, 10)},        // сб → пт
			{on(time.January, 7), on(time.December, 31)},   // вс → вт
			{on(time.April, 27), on(time.April, 29)},       // сб (рабочая) → пн
			{on(time.November, 2), on(time.April, 30)},     // сб (рабочая) → вт
			{on(time.December, 28), on(time.December, 30)}, // сб (рабочая) → пн
		},
		shortened: []monthDay{
			on(time.February, 22),
			on(time.March, 7),
			on(time.May, 8),
			on(time.June, 11),
			on(time.November, 2), // the working Saturday before 4 November
		},
	},

	// Постановление Правительства РФ от 04.10.2024 № 1335
	// «О переносе выходных дней в 2025 году».
	2025: {
		transfers: []transfer{
			{on(time.January, 4), on(time.May, 2)},       // сб → пт
			{on(time.January, 5), on(time.December, 31)}, // вс → ср
			// 23 February and 8 March fall on a Sunday and a Saturday; the
			// decree sends their days off to May and June instead of the
			// following Mondays that art. 112 would pick.
			{on(time.February, 23), on(time.May, 8)},     // вс → чт
			{on(time.March, 8), on(time.June, 13)},       // сб → пт
			{on(time.November, 1), on(time.November, 3)}, // сб (рабочая) → пн
		},
		shortened: []monthDay{
			on(time.March, 7),
			on(time.April, 30),
			on(time.June, 11),
			on(time.November, 1), // the working Saturday before 4 November
		},
	},

	// Постановление Правительства РФ от 24.09.2025 № 1466
	// «О переносе выходных дней в 2026 году».
	// Sunday 8 March and Saturday 9 May are not in the decree: art. 112
	// moves their days off to Monday 9 March and Monday 11 May.
	2026: {
		transfers: []transfer{
			{on(time.January, 3), on(time.January, 9)},   // сб → пт
			{on(time.January, 4), on(time.December, 31)}, // вс → чт
		},
		shortened: []monthDay{
			on(time.April, 30),
			on(time.May, 8),
			on(time.June, 11),
			on(time.November, 3),
		},
	},

	// 2027: TO BE VERIFIED against the decree «О переносе выходных дней в
	// 2027 году» once it is published; it was not available when this was
	// written. Until then the year stays provisional.
	//
	// What is certain (art. 112): 1 May and 12 June fall on Saturdays and
	// 9 May on a Sunday, so without a decree saying otherwise their days off
	// move to Monday 3 May, Monday 10 May and Monday 14 June (buildYear does
	// that). 2 and 3 January fall on a weekend; the decree will move those two
	// days off to dates that cannot be derived (in 2021, a year with the same
	// weekdays, they went to 5 November and 31 December), so no transfer is
	// listed and 31 December is assumed to be a shortened working day. Press
	// reports from late 2025 about a 4–7 November break with a working
	// Saturday 13 November are unconfirmed and not encoded.
	//
	// The shortened days are art. 95 applied literally; the test checks they
	// agree with shortenedByRule.
	2027: {
		provisional: true,
		shortened: []monthDay{
			on(time.February, 22),
			on(time.April, 30),
			on(time.June, 11),
			on(time.November, 3),
			on(time.December, 31),
		},
	},
}
