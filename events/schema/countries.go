package schema

import (
	"slices"
	"strings"
)

// iso3166Alpha3 is every officially assigned ISO 3166-1 alpha-3 code, as
// data: the vocabulary of Applicant.Citizenship (with StatelessCode), which
// the write side validates against and the pages name.
const iso3166Alpha3 = `
ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE
BDI BEL BEN BES BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA
CAF CAN CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE
DEU DJI DMA DNK DOM DZA
ECU EGY ERI ESH ESP EST ETH
FIN FJI FLK FRA FRO FSM
GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY
HKG HMD HND HRV HTI HUN
IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA
JAM JEY JOR JPN
KAZ KEN KGZ KHM KIR KNA KOR KWT
LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA
MAC MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT
NAM NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL
OMN
PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF
QAT
REU ROU RUS RWA
SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR
TCA TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA
UGA UKR UMI URY USA UZB
VAT VCT VEN VGB VIR VNM VUT
WLF WSM
YEM
ZAF ZMB ZWE
`

// StatelessCode is ICAO Doc 9303's code for a stateless person, whom
// 326-ФЗ insures on the same terms as foreign citizens. It is a citizenship
// code of its own, outside ISO 3166-1.
const StatelessCode = "XXA"

var countryCodes = strings.Fields(iso3166Alpha3)

// IsCountryCode reports whether code is an officially assigned ISO 3166-1
// alpha-3 code (upper case).
func IsCountryCode(code string) bool {
	_, found := slices.BinarySearch(countryCodes, code)
	return found
}

// CountryCodes returns every officially assigned ISO 3166-1 alpha-3 code,
// sorted. The slice is the caller's.
func CountryCodes() []string { return slices.Clone(countryCodes) }
