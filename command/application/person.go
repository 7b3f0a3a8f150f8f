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
// The document is its type and its series and number read as one string.
// Read apart, "FA" + "1234567", "" + "FA1234567" and "F" + "A1234567"
// were three documents, so one passport got two policies from two
// accounts. The issuing country is not part of it: the form has no field
// for it, and the citizenship the applicant types is not one (a stateless
// person travels on another state's document); keyed by it, the same
// passport under another claimed citizenship got a second policy. Two
// countries' passports that share a number are the rare price: the second
// person is refused and told to see their insurer.
//
// The "v2" marks this form of the key; the first form (series and number
// apart) named the reservations made before it, and
// service.ReserveDocuments moves open applications over.
func PersonKey(secret []byte, f schema.Form) string {
	d := f.IdentityDocument
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v2|" + normDocPart(d.Type) + "|" + normDocPart(d.Series+d.Number)))
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

// ResidenceKey identifies a person by their residence document, the second
// lock of the "one open application per person" rule: a person who got a
// new passport, or opened another account, still holds the same residence
// permit, and without this lock got a second policy and a second ЕНП from
// it (lifecycle QA). Keyed like PersonKey. Only documents the state issues
// to one person count: a permit (РВП, ВНЖ) or a refugee's certificate. An
// employment contract's number is the employer's, not unique, so it gives
// no key (""), and no lock.
func ResidenceKey(secret []byte, f schema.Form) string {
	d := f.ResidenceDocument
	switch d.Type {
	case schema.ResidenceRVP, schema.ResidenceVNZh, schema.ResidenceRefugee:
	default:
		return ""
	}
	number := normDocPart(d.Series + d.Number)
	if number == "" {
		return ""
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("residence-v1|" + normDocPart(d.Type) + "|" + number))
	return hex.EncodeToString(m.Sum(nil))
}
