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
func PersonKey(secret []byte, d schema.IdentityDocument) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(normDocPart(d.Type) + "|" + normDocPart(d.Series) + "|" + normDocPart(d.Number)))
	return hex.EncodeToString(m.Sum(nil))
}

// normDocPart upper-cases and drops spaces and dashes, which people type
// inconsistently in document numbers.
func normDocPart(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '\u00a0':
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
}
