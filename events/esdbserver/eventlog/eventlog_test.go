package eventlog

import (
	"fmt"
	"os"
	"path/filepath"
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
