package eventlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func body(s string) []byte { return append([]byte{0}, s...) }

func appendBatch(t *testing.T, l *Log, recs ...string) []uint64 {
	t.Helper()
	bodies := make([][]byte, len(recs))
	for i, r := range recs {
		bodies[i] = body(r)
	}
	pos, p, err := l.Enqueue(bodies)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return pos
}

func contents(t *testing.T, l *Log) []string {
	t.Helper()
	var out []string
	sc := l.Scan(FirstPosition(), l.Durable())
	for {
		_, b, ok := sc.Next()
		if !ok {
			break
		}
		out = append(out, string(b[1:]))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTornTailIsTruncated(t *testing.T) {
	dir := t.TempDir()
	l, _, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	appendBatch(t, l, "a")
	appendBatch(t, l, "b", "c")
	end := l.Durable()
	l.Close()

	path := filepath.Join(dir, fileName)
	cases := map[string]func(f *os.File){
		"half a frame head": func(f *os.File) { f.WriteAt([]byte{9, 0}, int64(end)) },
		"body cut short": func(f *os.File) {
			f.WriteAt([]byte{20, 0, 0, 0, 1, 2, 3, 4, 0, 'x'}, int64(end))
		},
		"bad checksum": func(f *os.File) {
			f.WriteAt([]byte{2, 0, 0, 0, 1, 2, 3, 4, FlagBatchEnd, 'x'}, int64(end))
		},
		"batch without its end": func(f *os.File) {
			// A whole, valid first record of a two-record batch.
			b := body("d")
			frame := frameOf(b) // no FlagBatchEnd
			f.WriteAt(frame, int64(end))
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			damage(f)
			f.Close()
			l, rec, err := Open(Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if rec.End != end || rec.TruncatedBy <= 0 {
				t.Fatalf("recovered %+v, want end %d with a truncation", rec, end)
			}
			if got := fmt.Sprint(contents(t, l)); got != "[a b c]" {
				t.Fatalf("contents after recovery: %s", got)
			}
			if st, _ := os.Stat(path); st.Size() != int64(end) {
				t.Fatalf("file is %d bytes, want %d", st.Size(), end)
			}
		})
	}
}

func TestGroupCommitSharesSyncs(t *testing.T) {
	l, _, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const writers, each = 32, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, p, err := l.Enqueue([][]byte{body(fmt.Sprintf("%d-%d", w, i))})
				if err != nil {
					t.Error(err)
					return
				}
				if err := p.Wait(); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if n := len(contents(t, l)); n != writers*each {
		t.Fatalf("%d records, want %d", n, writers*each)
	}
	if s := l.Syncs(); s >= writers*each {
		t.Fatalf("%d fsyncs for %d appends: no group commit", s, writers*each)
	}
	t.Logf("%d appends, %d fdatasyncs", writers*each, l.Syncs())
}

func TestReadAtChecksCRC(t *testing.T) {
	dir := t.TempDir()
	l, _, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pos := appendBatch(t, l, "hello")
	b, next, err := l.ReadAt(pos[0], nil)
	if err != nil || string(b[1:]) != "hello" || next != l.Durable() {
		t.Fatalf("ReadAt: %q %d %v", b, next, err)
	}
	f, _ := os.OpenFile(filepath.Join(dir, fileName), os.O_RDWR, 0)
	f.WriteAt([]byte("J"), int64(pos[0])+frameHead+1)
	f.Close()
	if _, _, err := l.ReadAt(pos[0], nil); err == nil {
		t.Fatal("ReadAt of a damaged record must fail")
	}
	l.Close()
}

func frameOf(b []byte) []byte {
	var h [frameHead]byte
	putFrameHead(h[:], b)
	return append(h[:], b...)
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	l, _, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(Options{Dir: dir}); err == nil {
		t.Fatal("a second open of the same log must fail")
	}
	l.Close()
	l2, _, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	l2.Close()
}

// The writer reuses the buffer of the batch it wrote last for the batch
// after next: every record must still reach the disk exactly as enqueued,
// whatever sizes the batches had (one larger than the buffer kept for
// reuse), and read back the same after a reopen.
func TestBatchesKeepTheirBytesAcrossReusedBuffers(t *testing.T) {
	dir := t.TempDir()
	l, _, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				n := 1 + (w*40+i)%3000 // records of 1 byte to 3 KB
				if w == 0 && i == 20 {
					n = maxSpareBuffer + 1000 // a batch too big to keep
				}
				rec := fmt.Sprintf("%d-%d-", w, i)
				rec += strings.Repeat(string(rune('a'+(w+i)%26)), max(0, n-len(rec)))
				mu.Lock()
				want[rec] = true
				mu.Unlock()
				_, p, err := l.Enqueue([][]byte{body(rec)})
				if err == nil {
					err = p.Wait()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	check := func(l *Log, when string) {
		t.Helper()
		got := contents(t, l)
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", when, len(got), len(want))
		}
		for _, r := range got {
			if !want[r] {
				t.Fatalf("%s: a record read back differs from every one written (%d bytes, starts %.20q)", when, len(r), r)
			}
		}
	}
	check(l, "before the reopen")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, rec, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rec.TruncatedBy != 0 {
		t.Fatalf("the reopen cut %d bytes of a log closed cleanly", rec.TruncatedBy)
	}
	check(l, "after the reopen")
}

// ReadAt reads a record in one go when it fits the first read and in two
// when it does not, up to the durable end and not past it, and hands back
// each body whole through a buffer the caller reuses.
func TestReadAtSizesAndReusedBuffer(t *testing.T) {
	l, _, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := []string{
		"small",
		strings.Repeat("b", readGuess-frameHead-1), // exactly fills the first read
		strings.Repeat("c", readGuess),             // one byte into a second read
		strings.Repeat("d", 3*readGuess+17),
		"last, ending at the durable end",
	}
	pos := appendBatch(t, l, want...)
	var buf []byte
	for round := range 2 { // forwards, then backwards with the same buffer
		for k := range want {
			i := k
			if round == 1 {
				i = len(want) - 1 - k
			}
			b, next, err := l.ReadAt(pos[i], buf)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if string(b[1:]) != want[i] {
				t.Fatalf("record %d: %d bytes, want %d", i, len(b)-1, len(want[i]))
			}
			wantNext := l.Durable()
			if i+1 < len(pos) {
				wantNext = pos[i+1]
			}
			if next != wantNext {
				t.Fatalf("record %d: next %d, want %d", i, next, wantNext)
			}
			buf = b
		}
	}
	if _, _, err := l.ReadAt(l.Durable(), buf); err == nil {
		t.Fatal("ReadAt at the durable end must fail")
	}
}

// A scan's read-ahead is what it will read, up to maxScanBuffer: a live
// subscription scans the tail each group commit added, and allocated a
// quarter-megabyte buffer for it every time.
func TestScanBufferFitsTheRange(t *testing.T) {
	l, _, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := []string{"first", strings.Repeat("x", 10000), "last"}
	pos := appendBatch(t, l, want...)
	for _, tc := range []struct {
		from, limit uint64
		buf         int
	}{
		{pos[0], l.Durable(), int(l.Durable() - pos[0])},
		{pos[2], l.Durable(), minScanBuffer},
		{pos[0], pos[0], minScanBuffer},
		{0, 1 << 30, maxScanBuffer},
	} {
		sc := l.Scan(tc.from, tc.limit)
		if got := sc.r.Size(); got != tc.buf {
			t.Errorf("Scan(%d, %d): read-ahead %d, want %d", tc.from, tc.limit, got, tc.buf)
		}
	}
	// The small buffer still reads every record, the long one too.
	sc := l.Scan(pos[0], l.Durable())
	var got []string
	for _, b, ok := sc.Next(); ok; _, b, ok = sc.Next() {
		got = append(got, string(b[1:]))
	}
	if sc.Err() != nil || len(got) != len(want) || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("scanned %d records (err %v), want %d", len(got), sc.Err(), len(want))
	}
}

// A batch refused for one record's size writes none of its records: the
// caller was told it failed, so none may become durable.
func TestRefusedBatchWritesNothing(t *testing.T) {
	l, _, err := Open(Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendBatch(t, l, "before")
	end := l.Durable()
	if _, _, err := l.Enqueue([][]byte{body("fits"), make([]byte, MaxRecordSize+1)}); err == nil {
		t.Fatal("a record over MaxRecordSize was accepted")
	}
	appendBatch(t, l, "after")
	if got := contents(t, l); strings.Join(got, ",") != "before,after" {
		t.Fatalf("records %q, want before and after only", got)
	}
	if pos := appendBatch(t, l, "next"); pos[0] <= end {
		t.Fatalf("position %d does not follow the end %d", pos[0], end)
	}
}
