package streamdb

import "unsafe"

// slab hands out what the index keeps for as long as the DB is open (a
// stream's record and its name: streams are never forgotten) from large
// blocks instead of one small allocation each. Made one by one in between
// the garbage of the appends that create them, they ended up scattered
// over size-class spans the garbage had filled, and those spans stayed
// mostly empty but in use once the garbage was collected: after 1M events
// omsd's heap held about 70 MB of such spans for 100 MB of live data.
type slab struct {
	streams []stream
	names   []byte
}

const (
	streamsPerBlock = 1024    // 40 KiB of streams
	namesPerBlock   = 1 << 16 // bytes of stream names
)

// stream returns a zero stream record.
func (s *slab) stream() *stream {
	if len(s.streams) == cap(s.streams) {
		s.streams = make([]stream, 0, streamsPerBlock)
	}
	s.streams = s.streams[:len(s.streams)+1]
	return &s.streams[len(s.streams)-1]
}

// name returns a copy of name that shares a block with other names. The
// bytes of a block are never written again once handed out (append only
// writes past the length), so the strings stay immutable.
func (s *slab) name(name string) string {
	switch {
	case name == "":
		return ""
	case len(name) > namesPerBlock/16:
		return string([]byte(name)) // rare and long: a copy of its own
	case len(name) > cap(s.names)-len(s.names):
		s.names = make([]byte, 0, namesPerBlock)
	}
	start := len(s.names)
	s.names = append(s.names, name...)
	return unsafe.String(&s.names[start], len(name))
}
