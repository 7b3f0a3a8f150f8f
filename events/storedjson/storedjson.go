// Package storedjson decodes JSON that the service itself wrote to the
// event store (payloads, envelopes, sealed personal data) with
// goccy/go-json, which takes about half the time of encoding/json, except
// where goccy is wrong:
//   - it keeps invalid UTF-8 bytes in strings where encoding/json turns
//     them into U+FFFD, so such a payload would not survive a round trip;
//   - on a malformed escape at the end of the input it reads a byte past
//     its buffer (goccy/go-json issues 575 and 577, open for v0.10.6),
//     which -race turns into a fatal checkptr error. Without a backslash
//     there is no escape to skip, so its scan always stops at the
//     terminator it appends.
//
// Both are rare in stored events (a backslash means an escaped quote, line
// break or <, >, & in free text), and take encoding/json.
package storedjson

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// goccySafe reports whether goccy decodes data as encoding/json does.
func goccySafe(data []byte) bool { return utf8.Valid(data) && bytes.IndexByte(data, '\\') < 0 }

// Unmarshal is json.Unmarshal.
func Unmarshal(data []byte, v any) error {
	if !goccySafe(data) {
		return json.Unmarshal(data, v)
	}
	return gojson.Unmarshal(data, v)
}
