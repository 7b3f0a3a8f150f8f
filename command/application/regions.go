package application

import "strings"

// regionCodes are the two-digit codes of the subjects of the Russian
// Federation: 01–79 in the order of the Constitution's list, the four
// autonomous okrugs that remain (83, 86, 87, 89; 80–82, 84, 85 and 88
// were merged into their krais and oblasts in 2005–2008), 91 and 92 from
// 2014, and the four subjects of 2022 under both numberings in use: the
// address classifier's (ФИАС/ГАР), which gave them codes freed by the
// merged okrugs (80, 81, 84, 85), and the tax service's (90, 93, 94, 95).
// A code that names no subject would route an application to no
// territorial fund's reviewers. Car-plate codes (97, 99, 177, …) are not
// region codes.
const regionCodes = `
01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20
21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40
41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79
80 81 83 84 85 86 87 89
90 91 92 93 94 95
`

var regions = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(regionCodes) {
		m[c] = true
	}
	return m
}()

// KnownRegion reports whether code is the two-digit code of a subject of
// the Russian Federation.
func KnownRegion(code string) bool { return regions[code] }
