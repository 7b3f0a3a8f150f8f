package httpapi

import (
	"testing"
	"time"
)

// FuzzQueueCursor feeds arbitrary ?cursor= values to the queue's cursor
// decoder: no panic, and a cursor it accepts means the same once encoded
// and decoded again.
func FuzzQueueCursor(f *testing.F) {
	f.Add(encodeCursor(queueCursor{Deadline: time.Date(2026, 3, 20, 21, 0, 0, 0, time.UTC), ID: "01a218b0-28d7-744f-8691-87aa5d0eca45", Filters: "3w5e11264sgsg", Seen: 812}))
	f.Add("")
	f.Add("e30")
	f.Add("eyJkIjoieCJ9")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			return
		}
		again, err := decodeCursor(encodeCursor(c))
		if err != nil || !again.Deadline.Equal(c.Deadline) || again.ID != c.ID || again.Filters != c.Filters || again.Seen != c.Seen {
			t.Fatalf("%q: %+v, then %+v %v", s, c, again, err)
		}
	})
}
