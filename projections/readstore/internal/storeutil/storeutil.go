// Package storeutil holds the input checks and encodings that the readstore
// adapters must agree on. Keeping them in one place is what makes the SQLite
// and MongoDB adapters behave as twins: the same names are valid, the same
// writes are rejected, deadlines and positions round-trip the same way.
package storeutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/omsonline/oms/projections/readstore"
)

// MaxIDLen bounds document IDs. IDs are index keys in both databases; a
// generous but finite bound keeps a bad ID from becoming a storage problem.
const MaxIDLen = 1024

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// CheckName validates a logical or physical collection name. Adapters splice
// names into SQL identifiers and MongoDB collection names, so only a small,
// safe alphabet is accepted.
func CheckName(name string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("readstore: invalid collection name %q (want %s)", name, nameRe)
	}
	return nil
}

// CheckID validates a document ID. MongoDB needs valid UTF-8, and SQLite must
// reject exactly what MongoDB rejects.
func CheckID(id string) error {
	switch {
	case id == "":
		return errors.New("readstore: empty document ID")
	case len(id) > MaxIDLen:
		return fmt.Errorf("readstore: document ID longer than %d bytes", MaxIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("readstore: document ID %q is not valid UTF-8", id)
	}
	return nil
}

// CheckBody validates that a body is one JSON object.
func CheckBody(body json.RawMessage) error {
	if err := checkObject(body); err != nil {
		return err
	}
	if !json.Valid(body) {
		return errors.New("readstore: body is not valid JSON")
	}
	return nil
}

// checkObject is CheckBody for a body known to be valid JSON.
func checkObject(body json.RawMessage) error {
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return errors.New("readstore: body is not a JSON object")
	}
	return nil
}

// CheckWrite validates one write against the kind of its target collection.
func CheckWrite(w readstore.Write, kind readstore.Kind) error {
	if err := CheckID(w.Doc.ID); err != nil {
		return err
	}
	if w.Delete {
		return nil
	}
	check := CheckBody
	if w.Encoded {
		check = checkObject
	}
	if err := check(w.Doc.Body); err != nil {
		return fmt.Errorf("%s/%s: %w", w.Collection, w.Doc.ID, err)
	}
	switch {
	case kind == readstore.KindQueue && w.Doc.Queue == nil:
		return fmt.Errorf("readstore: %s/%s: queue collection needs Doc.Queue", w.Collection, w.Doc.ID)
	case kind != readstore.KindQueue && w.Doc.Queue != nil:
		return fmt.Errorf("readstore: %s/%s: Doc.Queue set for a non-queue collection", w.Collection, w.Doc.ID)
	case w.Doc.Queue != nil:
		q := w.Doc.Queue
		if !utf8.ValidString(q.Status) || !utf8.ValidString(q.Assignee) || !utf8.ValidString(q.Region) {
			return fmt.Errorf("readstore: %s/%s: queue fields are not valid UTF-8", w.Collection, w.Doc.ID)
		}
	}
	return nil
}

// CheckCheckpoint validates a checkpoint and fills a zero UpdatedAt.
func CheckCheckpoint(cp readstore.Checkpoint, now time.Time) (readstore.Checkpoint, error) {
	if cp.Projection == "" || !utf8.ValidString(cp.Projection) || len(cp.Projection) > MaxIDLen {
		return cp, fmt.Errorf("readstore: invalid checkpoint projection name %q", cp.Projection)
	}
	if cp.UpdatedAt.IsZero() {
		cp.UpdatedAt = now
	}
	return cp, nil
}

// CheckKind rejects kinds the adapters do not know.
func CheckKind(kind readstore.Kind) error {
	if kind != readstore.KindDocs && kind != readstore.KindQueue {
		return fmt.Errorf("readstore: unknown collection kind %d", kind)
	}
	return nil
}

// Limit applies readstore.DefaultLimit and readstore.MaxLimit.
func Limit(n int) int {
	switch {
	case n <= 0:
		return readstore.DefaultLimit
	case n > readstore.MaxLimit:
		return readstore.MaxLimit
	}
	return n
}

// PrefixEnd returns the smallest valid UTF-8 string greater than every string
// that starts with prefix, or "" when there is none (no upper bound needed).
// It works on code points rather than bytes because MongoDB will not accept
// an invalid UTF-8 bound; UTF-8 byte order equals code point order, so the
// bound is also right for SQLite's bytewise comparison.
func PrefixEnd(prefix string) string {
	if !utf8.ValidString(prefix) {
		return "" // callers filter with strings.HasPrefix anyway
	}
	rs := []rune(prefix)
	for len(rs) > 0 {
		next := rs[len(rs)-1] + 1
		if next == 0xD800 { // surrogates are not encodable
			next = 0xE000
		}
		if next <= utf8.MaxRune {
			rs[len(rs)-1] = next
			return string(rs)
		}
		rs = rs[:len(rs)-1]
	}
	return ""
}

// ListStart returns the inclusive-or-exclusive lower bound of a List: the
// scan starts after AfterID when that is inside or beyond the prefix range,
// and at the prefix otherwise.
func ListStart(q readstore.ListQuery) (bound string, exclusive bool) {
	if q.AfterID != "" && q.AfterID >= q.Prefix {
		return q.AfterID, true
	}
	return q.Prefix, false
}

// Deadlines are stored as int64 Unix nanoseconds in both adapters: the same
// total order, and cursors that compare exactly (BSON dates only keep
// milliseconds). The zero time maps to math.MinInt64 so it sorts first and
// comes back as the zero time.
var (
	minDeadline = time.Unix(0, math.MinInt64+1)
	maxDeadline = time.Unix(0, math.MaxInt64)
)

// DeadlineNanos encodes a deadline for storage.
func DeadlineNanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return math.MinInt64
	case t.Before(minDeadline):
		return math.MinInt64 + 1
	case t.After(maxDeadline):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// DeadlineTime decodes a stored deadline.
func DeadlineTime(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Neither database has an unsigned 64-bit integer; positions are stored as
// the int64 with the same bits. No query orders by position, so the changed
// order above 2^63 does not matter.

// PositionToInt encodes a position for storage.
func PositionToInt(p uint64) int64 { return int64(p) }

// PositionFromInt decodes a stored position.
func PositionFromInt(n int64) uint64 { return uint64(n) }

// CheckSHA256 reports whether s is a lowercase hex SHA-256, the only form of
// blob ID. The file adapter builds paths from it, so this is also what keeps
// a blob ID from escaping the blob directory.
func CheckSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// QueueKey is the sort key of a queue document.
func QueueKey(d readstore.Doc) (int64, string) {
	if d.Queue == nil {
		return math.MinInt64, d.ID
	}
	return DeadlineNanos(d.Queue.Deadline), d.ID
}

// CompareQueue orders queue documents by (Deadline, ID).
func CompareQueue(a, b readstore.Doc) int {
	ad, aid := QueueKey(a)
	bd, bid := QueueKey(b)
	if ad != bd {
		if ad < bd {
			return -1
		}
		return 1
	}
	return strings.Compare(aid, bid)
}

// QueuePage cuts docs (sorted, and fetched with a limit of limit+1) to one
// page and sets the cursor when there is more.
func QueuePage(docs []readstore.Doc, limit int) readstore.QueuePage {
	if len(docs) <= limit {
		return readstore.QueuePage{Docs: docs}
	}
	docs = slices.Clip(docs[:limit])
	last := docs[len(docs)-1]
	next := &readstore.QueueCursor{ID: last.ID}
	if last.Queue != nil {
		next.Deadline = last.Queue.Deadline
	}
	return readstore.QueuePage{Docs: docs, Next: next}
}

// LastWrites drops all but the last write of each document, keeping the order
// of the survivors. Adapters that apply writes in an unordered batch need it
// for "the last write wins".
func LastWrites(writes []readstore.Write) []readstore.Write {
	type key struct{ coll, id string }
	last := make(map[key]int, len(writes))
	for i, w := range writes {
		last[key{w.Collection, w.Doc.ID}] = i
	}
	if len(last) == len(writes) {
		return writes
	}
	out := make([]readstore.Write, 0, len(last))
	for i, w := range writes {
		if last[key{w.Collection, w.Doc.ID}] == i {
			out = append(out, w)
		}
	}
	return out
}
