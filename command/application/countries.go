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

// KnownCitizenship reports whether code is an ISO 3166-1 alpha-3 code or
// StatelessCode.
func KnownCitizenship(code string) bool {
	return code == StatelessCode || schema.IsCountryCode(code)
}
