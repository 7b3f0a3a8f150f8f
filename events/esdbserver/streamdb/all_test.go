package streamdb

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// $all reads and seeks from every kind of position (a record's, one inside
// a record, before the first, past the last) agree with a plain list of the
// records' positions, across many blocks of the sparse marks.
func TestAllReadsAcrossMarks(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	const n = allMarkEvery*5 + 7
	for i := range n {
		var id [16]byte
		id[0], id[1] = byte(i), byte(i>>8)
		ev := Proposed{ID: id, Type: "Tested", ContentType: "application/json", Data: fmt.Appendf(nil, `{"i":%d,"pad":"%*s"}`, i, i%50, "")}
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
}
