package runner

import (
	"strconv"
	"testing"
)

// The notes keep the newest maxAbsentNotes; a note taken back by a write
// and its key's later turn in the ring do not disturb the others.
func TestAbsentNotesKeepTheNewest(t *testing.T) {
	var n absentNotes
	k := func(i int) key { return key{"c", strconv.Itoa(i)} }
	const extra = 10
	for i := range maxAbsentNotes + extra {
		n.add(k(i))
		if i == 20 {
			n.remove(k(15)) // written: its slot in the ring stays until it turns
		}
	}
	if len(n.set) != maxAbsentNotes-1 {
		t.Fatalf("%d notes, want %d", len(n.set), maxAbsentNotes-1)
	}
	for i := range extra {
		if n.has(k(i)) {
			t.Fatalf("the note of %d outlived the bound", i)
		}
	}
	if n.has(k(15)) {
		t.Fatal("a note taken back is there again")
	}
	for _, i := range []int{extra, 16, maxAbsentNotes + extra - 1} {
		if !n.has(k(i)) {
			t.Fatalf("the note of %d is gone", i)
		}
	}
	n.add(k(maxAbsentNotes + extra - 1)) // again: not a second slot
	if len(n.set) != maxAbsentNotes-1 || !n.has(k(extra)) {
		t.Fatalf("a repeated note took a slot: %d notes", len(n.set))
	}
}
