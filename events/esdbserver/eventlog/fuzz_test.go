package eventlog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// frame builds one record as the writer lays it out.
func frame(flags byte, payload string) []byte {
	body := append([]byte{flags}, payload...)
	head := make([]byte, frameHead)
	putFrameHead(head, body)
	return append(head, body...)
}

// FuzzRecoverAndScan writes arbitrary bytes after a valid header, as a
// crash or a corrupted disk might leave them, and opens the log: recovery
// must keep exactly a prefix of whole batches, everything it keeps must
// scan without error, and opening again must find nothing more to cut.
func FuzzRecoverAndScan(f *testing.F) {
	two := append(frame(0, "a"), frame(FlagBatchEnd, "b")...)
	f.Add(two)
	f.Add(append(bytes.Clone(two), frame(0, "torn")[:5]...))
	f.Add(append(bytes.Clone(two), frame(0, "no batch end")...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		header := make([]byte, headerSize)
		copy(header, magic[:])
		if err := os.WriteFile(filepath.Join(dir, fileName), append(header, tail...), 0o600); err != nil {
			t.Fatal(err)
		}
		l, rec, err := Open(Options{Dir: dir, NoSync: true})
		if err != nil {
			t.Fatalf("a log with a good header does not open: %v", err)
		}
		if rec.End < headerSize || rec.End > uint64(headerSize+len(tail)) || rec.TruncatedBy != int64(headerSize+len(tail))-int64(rec.End) {
			t.Fatalf("recovered %+v from %d bytes", rec, headerSize+len(tail))
		}
		sc := l.Scan(FirstPosition(), l.Durable())
		var lastFlags byte = FlagBatchEnd
		end := uint64(headerSize)
		for {
			pos, body, ok := sc.Next()
			if !ok {
				break
			}
			if pos != end {
				t.Fatalf("record at %d, expected %d", pos, end)
			}
			end = sc.Pos()
			lastFlags = body[0]
		}
		if sc.Err() != nil || end != rec.End || lastFlags&FlagBatchEnd == 0 {
			t.Fatalf("kept %d bytes but scanned to %d (last flags %x): %v", rec.End, end, lastFlags, sc.Err())
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, again, err := Open(Options{Dir: dir, NoSync: true})
		if err != nil || again.TruncatedBy != 0 || again.End != rec.End {
			t.Fatalf("second recovery: %+v %v, first %+v", again, err, rec)
		}
		l.Close()
	})
}
