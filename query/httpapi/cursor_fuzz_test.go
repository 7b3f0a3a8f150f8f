package httpapi

import (
	"testing"
	"time"

	"github.com/omsonline/oms/projections/readstore"
)

// FuzzQueueCursor feeds arbitrary ?cursor= values to the queue's cursor
// decoder: no panic, and a cursor it accepts means the same once encoded
// and decoded again.
func FuzzQueueCursor(f *testing.F) {
	f.Add(encodeCursor(readstore.QueueCursor{Deadline: time.Date(2026, 3, 20, 21, 0, 0, 0, time.UTC), ID: "01a218b0-28d7-744f-8691-87aa5d0eca45"}, "3w5e11264sgsg"))
	f.Add("")
	f.Add("e30")
	f.Add("eyJkIjoieCJ9")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, f, err := decodeCursor(s)
		if err != nil {
			return
		}
		again, f2, err := decodeCursor(encodeCursor(c, f))
		if err != nil || !again.Deadline.Equal(c.Deadline) || again.ID != c.ID || f2 != f {
			t.Fatalf("%q: %+v %q, then %+v %q %v", s, c, f, again, f2, err)
		}
	})
}
