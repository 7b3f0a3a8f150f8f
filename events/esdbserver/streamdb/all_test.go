package streamdb

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// $all reads and seeks from every kind of position (a record's, one inside
// a record, before the first, past the last) agree with a plain list of the
// records' positions, across many blocks of the sparse marks.
func TestAllReadsAcrossMarks(t *testing.T) {
	db := openTemp(t, Options{NoSync: true})
	ctx := context.Background()
	const n = allMarkEvery*5 + 7
	for i := range n {
		var id [16]byte
		id[0], id[1] = byte(i), byte(i>>8)
		ev := Proposed{ID: id, Type: "Tested", ContentType: "application/json", Data: fmt.Appendf(nil, `{"i":%d,"pad":"%*s"}`, i, 49-i%50, "")}
		if _, err := db.Append(ctx, fmt.Sprintf("s-%d", i%7), Expected{Kind: ExpectAny}, []Proposed{ev}); err != nil {
			t.Fatal(err)
		}
	}
	var all []uint64
	if err := db.ReadAll(From{Start: true}, false, ^uint64(0), func(e *Event) error {
		all = append(all, e.Position)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != n || len(db.marks) != (n+allMarkEvery-1)/allMarkEvery {
		t.Fatalf("%d records read and %d marks, want %d and %d", len(all), len(db.marks), n, (n+allMarkEvery-1)/allMarkEvery)
	}
	end := db.Durable()
	read := func(from From, backwards bool, count uint64) []uint64 {
		t.Helper()
		var got []uint64
		if err := db.ReadAll(from, backwards, count, func(e *Event) error {
			got = append(got, e.Position)
			return nil
		}); err != nil {
			t.Fatalf("ReadAll(%+v, backwards %v): %v", from, backwards, err)
		}
		return got
	}
	probes := []uint64{0, 1, end, end + 1, end + 1000}
	for _, p := range all {
		probes = append(probes, p-1, p, p+1)
	}
	for _, x := range probes {
		i, _ := slices.BinarySearch(all, x) // first record at or after x
		wantSeek := end
		if i < len(all) {
			wantSeek = all[i]
		}
		if got, err := db.seek(x); err != nil || got != wantSeek {
			t.Fatalf("seek(%d) = %d, %v; want %d", x, got, err, wantSeek)
		}
		wantFwd := all[i:min(i+3, len(all))]
		if got := read(From{Value: x}, false, 3); !slices.Equal(got, wantFwd) {
			t.Fatalf("forwards from %d: %v, want %v", x, got, wantFwd)
		}
		var wantBack []uint64
		for k := i - 1; k >= 0 && len(wantBack) < allMarkEvery+10; k-- {
			wantBack = append(wantBack, all[k])
		}
		if got := read(From{Value: x}, true, allMarkEvery+10); !slices.Equal(got, wantBack) {
			t.Fatalf("backwards from %d: %v, want %v", x, got, wantBack)
		}
	}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	if got := read(From{End: true}, true, ^uint64(0)); !slices.Equal(got, reversed) {
		t.Fatalf("backwards from the end: %d records, want %d", len(got), len(reversed))
	}
	if got := read(From{Start: true}, true, 10); len(got) != 0 {
		t.Fatalf("backwards from the start: %v, want nothing", got)
	}
	if got, err := db.After(all[len(all)-1]); err != nil || got != end {
		t.Fatalf("After(last) = %d, %v; want the end %d", got, err, end)
	}
	if got, err := db.After(math.MaxUint64); err != nil || got != end {
		t.Fatalf("After(max) = %d, %v; want the end %d", got, err, end)
	}
	// Backwards reads hand out events of their own, not views of a buffer.
	var kept []*Event
	if err := db.ReadAll(From{End: true}, true, 3, func(e *Event) error {
		kept = append(kept, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for k, e := range kept {
		if want := fmt.Sprintf(`{"i":%d,`, n-1-k); !strings.HasPrefix(string(e.Data), want) || e.Position != all[n-1-k] {
			t.Fatalf("backwards event %d: %s at %d, want %s… at %d", k, e.Data, e.Position, want, all[n-1-k])
		}
	}
}

func TestAllOnAnEmptyStore(t *testing.T) {
	db := openTemp(t, Options{NoSync: true})
	end := db.Durable()
	for _, x := range []uint64{0, end, end + 100} {
		if got, err := db.seek(x); err != nil || got != end {
			t.Fatalf("seek(%d) on an empty store = %d, %v; want the end %d", x, got, err, end)
		}
	}
	for _, from := range []From{{Start: true}, {End: true}, {Value: 0}} {
		for _, back := range []bool{false, true} {
			if err := db.ReadAll(from, back, 10, func(e *Event) error {
				return fmt.Errorf("read %d from an empty store", e.Position)
			}); err != nil {
				t.Fatalf("ReadAll(%+v, backwards %v): %v", from, back, err)
			}
		}
	}
}

// Records appended but not yet durable are never read, however $all is
// read while appends wait for their fsync.
func TestAllReadsWhileAppending(t *testing.T) {
	db := openTemp(t, Options{SyncDelay: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				var id [16]byte
				id[0], id[1], id[2] = byte(w), byte(i), byte(i>>8)
				ev := Proposed{ID: id, Type: "Tested", ContentType: "application/json", Data: []byte(`{}`)}
				if _, err := db.Append(ctx, fmt.Sprintf("w-%d", w), Expected{Kind: ExpectAny}, []Proposed{ev}); err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(time.Second)
	for reads := 0; time.Now().Before(deadline) || reads < 50; reads++ {
		durable := db.Durable()
		var got []uint64
		if err := db.ReadAll(From{End: true}, true, allMarkEvery*3, func(e *Event) error {
			got = append(got, e.Position)
			return nil
		}); err != nil {
			t.Fatalf("backwards read %d: %v", reads, err)
		}
		for k := 1; k < len(got); k++ {
			if got[k] >= got[k-1] {
				t.Fatalf("backwards read %d out of order: %v", reads, got)
			}
		}
		if len(got) > 0 {
			if got[0] >= db.Durable() {
				t.Fatalf("read a record at %d past the durable end", got[0])
			}
			if p, err := db.seek(got[len(got)-1]); err != nil || p != got[len(got)-1] {
				t.Fatalf("seek(%d) = %d, %v", got[len(got)-1], p, err)
			}
		}
		if p, err := db.seek(durable); err != nil || p < durable {
			t.Fatalf("seek(durable %d) = %d, %v", durable, p, err)
		}
	}
}

// openTemp opens a DB in a fresh directory, closed when the test ends.
func openTemp(t *testing.T, o Options) *DB {
	t.Helper()
	o.Dir = t.TempDir()
	db, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
