package application

import "github.com/omsonline/oms/events/schema"

// Citizenship codes with a rule of their own.
const (
	// RussiaCode is refused: citizens of Russia get ОМС by another procedure.
	RussiaCode = "RUS"
	// StatelessCode is a stateless person, whom 326-ФЗ insures on the same
	// terms as foreign citizens.
	StatelessCode = schema.StatelessCode
)

// eaeuMembers are the EAEU member states other than Russia, whose citizens
// are insured as workers under an employment contract.
var eaeuMembers = map[string]bool{"ARM": true, "BLR": true, "KAZ": true, "KGZ": true}

// KnownCitizenship reports whether code is an ISO 3166-1 alpha-3 code of a
// place whose people have a citizenship, or StatelessCode.
func KnownCitizenship(code string) bool {
	return code == StatelessCode || schema.IsCountryCode(code) && !noCitizens[code]
}

// noCitizens are ISO 3166-1 codes of territories with no permanent
// population of their own, so no passport names them as a nationality
// (QA: ATA, Antarctica, was taken as a citizenship).
var noCitizens = map[string]bool{
	"ATA": true, // Antarctica
	"ATF": true, // French Southern Territories
	"BVT": true, // Bouvet Island
	"HMD": true, // Heard Island and McDonald Islands
	"IOT": true, // British Indian Ocean Territory
	"SGS": true, // South Georgia and the South Sandwich Islands
	"UMI": true, // United States Minor Outlying Islands
}
