package application

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// ENPLength is the number of digits of an ЕНП.
const ENPLength = 16

// ValidENP reports whether s is a well-formed ЕНП: 16 ASCII digits, the first
// not 0 (so the number survives systems that store it as an integer), the
// last a Luhn check digit over the first 15. Luhn catches every single-digit
// typo and almost every swap of neighbours, which is what a number read out
// over the phone or retyped from a card suffers.
func ValidENP(s string) bool {
	if len(s) != ENPLength || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return luhnDigit(s[:ENPLength-1]) == s[ENPLength-1]
}

// luhnDigit returns the Luhn check digit for a string of digits: from the
// rightmost digit leftwards every second digit (starting with the rightmost)
// is doubled, 9 is subtracted from doubles above 9, and the check digit
// brings the sum to a multiple of 10.
func luhnDigit(payload string) byte {
	sum := 0
	double := true
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// ENPCandidate derives the attempt-th candidate ЕНП for an application.
//
// Deriving it from the application id instead of drawing it at random makes
// concurrent issuers of the same application propose the same number, so
// their reservations coincide instead of burning several numbers; a number
// already taken by another application moves to the next attempt. The id is
// a random UUID, so the numbers are spread like random ones.
func ENPCandidate(applicationID string, attempt int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("enp|%s|%d", applicationID, attempt)))
	n := binary.BigEndian.Uint64(h[:8]) % 900_000_000_000_000 // 15 digits
	payload := strconv.FormatUint(n+100_000_000_000_000, 10)
	return payload + string(luhnDigit(payload))
}
