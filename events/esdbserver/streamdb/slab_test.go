package streamdb

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// Names handed out by the slab keep their bytes while later names fill
// the same block and the next ones; long and empty names too.
func TestSlabNamesStayIntact(t *testing.T) {
	var s slab
	var want, got []string
	for i := 0; i < 20_000; i++ {
		n := fmt.Sprintf("application-%08d-%s", i, strings.Repeat("x", i%50))
		switch i % 997 {
		case 0:
			n = ""
		case 1:
			n = strings.Repeat("long", namesPerBlock/8) // over a sixteenth of a block
		}
		// The caller's string shares bytes that are reused after the
		// call, as a decoded request's may.
		b := []byte(n)
		got = append(got, s.name(unsafe.String(unsafe.SliceData(b), len(b))))
		for j := range b {
			b[j] = 0
		}
		want = append(want, n)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("name %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// Streams from the slab are distinct and start empty.
func TestSlabStreamsAreDistinct(t *testing.T) {
	var s slab
	seen := map[*stream]bool{}
	for i := 0; i < 3*streamsPerBlock+5; i++ {
		st := s.stream()
		if seen[st] || st.entries != nil || st.meta != nil || st.tombstoned {
			t.Fatalf("stream %d: reused or not empty: %+v", i, st)
		}
		seen[st] = true
		st.entries = append(st.entries, entry{pos: uint64(i)})
	}
	for st := range seen {
		if len(st.entries) != 1 {
			t.Fatalf("a stream's entries were overwritten: %+v", st.entries)
		}
	}
}
