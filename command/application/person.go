package application

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/omsonline/oms/events/schema"
)

// PersonKey identifies a person by their identity document for the "one open
// application per person" rule. It is keyed (HMAC-SHA256 under secret, which
// the service derives from the master key) rather than a plain hash: the
// reservation stream's name outlives an erasure in the append-only store,
// and a plain hash of a passport number is found again by trying every
// number.
//
// The document is its type, the country that issued it and its series and
// number read as one string. Read apart, "FA" + "1234567", "" + "FA1234567"
// and "F" + "A1234567" were three documents, so one passport got two
// policies from two accounts. A passport's number is unique only within
// the country that issued it, which for a national passport is the
// holder's citizenship: without it, two people of two countries whose
// passports share a number kept each other out.
//
// The "v2" marks this form of the key; the first form (type, series and
// number apart, no country) named the reservations made before it, and
// service.ReserveDocuments moves open applications over.
func PersonKey(secret []byte, f schema.Form) string {
	d := f.IdentityDocument
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v2|" + normDocPart(d.Type) + "|" + normDocPart(f.Applicant.Citizenship) + "|" + normDocPart(d.Series+d.Number)))
	return hex.EncodeToString(m.Sum(nil))
}

// normDocPart upper-cases and drops spaces and dashes, which people type
// inconsistently in document numbers.
func normDocPart(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '\u00a0', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
}
