package streamdb

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Event is one stored event as readers see it.
type Event struct {
	Stream      string
	Revision    uint64
	Position    uint64 // commit and prepare position: the record's offset
	ID          [16]byte
	Type        string
	ContentType string
	Created     int64 // 100 ns ticks since the Unix epoch
	Metadata    []byte
	Data        []byte
	// Next is the position of the following record; set by ScanAll only.
	Next uint64
}

// TombstoneRevision is the revision EventStoreDB gives a stream's tombstone.
const TombstoneRevision = uint64(1<<63 - 1)

var errShort = errors.New("streamdb: short record")

// Record body layout after the flags byte owned by eventlog:
//
//	u64 revision | i64 created | [16]id | str stream | str type |
//	str content type | bytes metadata | bytes data
//
// where str and bytes are a uvarint length then the bytes.
func encode(e *Event) []byte {
	n := 1 + 8 + 8 + 16 + 5*binary.MaxVarintLen32 + len(e.Stream) + len(e.Type) + len(e.ContentType) + len(e.Metadata) + len(e.Data)
	b := make([]byte, 0, n)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint64(b, e.Revision)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Created))
	b = append(b, e.ID[:]...)
	for _, s := range [][]byte{[]byte(e.Stream), []byte(e.Type), []byte(e.ContentType), e.Metadata, e.Data} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// decode fills e from body. Byte slices alias body unless copyBytes is set.
func decode(body []byte, pos uint64, e *Event, copyBytes bool) error {
	if len(body) < 1+8+8+16 {
		return errShort
	}
	e.Position = pos
	e.Revision = binary.LittleEndian.Uint64(body[1:9])
	e.Created = int64(binary.LittleEndian.Uint64(body[9:17]))
	copy(e.ID[:], body[17:33])
	rest := body[33:]
	var parts [5][]byte
	for i := range parts {
		l, n := binary.Uvarint(rest)
		if n <= 0 || uint64(len(rest)-n) < l {
			return fmt.Errorf("streamdb: record at %d: field %d: %w", pos, i, errShort)
		}
		parts[i] = rest[n : n+int(l)]
		rest = rest[n+int(l):]
	}
	e.Stream = string(parts[0])
	e.Type = string(parts[1])
	e.ContentType = string(parts[2])
	if copyBytes {
		e.Metadata = append([]byte{}, parts[3]...)
		e.Data = append([]byte{}, parts[4]...)
	} else {
		e.Metadata = parts[3]
		e.Data = parts[4]
	}
	return nil
}
