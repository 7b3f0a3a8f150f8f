package application

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/omsonline/oms/events/schema"
)

// PersonKey identifies a person by their identity document for the "one open
// application per person" rule. It is a hash so that the reservation
// stream's name does not expose passport numbers to whoever can list
// streams.
func PersonKey(d schema.IdentityDocument) string {
	h := sha256.Sum256([]byte(normDocPart(d.Type) + "|" + normDocPart(d.Series) + "|" + normDocPart(d.Number)))
	return hex.EncodeToString(h[:])
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
