package runner

// maxAbsentNotes bounds a projection's notes of documents never written
// (Tx.Unwritten): the oldest gives way. A note is about 150 bytes, so the
// bound is about 10 MB, and at a thousand uploads a second it still
// covers the minute or so an applicant takes from uploading a scan to
// submitting the form that refers to it.
const maxAbsentNotes = 1 << 16

// absentNotes are the documents a projection told the runner were never
// written. They are kept beside the document cache rather than in it: the
// cache's budget is for documents read again soon, and a note taken at an
// upload is read at a submission after many other documents went by.
type absentNotes struct {
	set  map[key]struct{}
	ring []key // in the order taken, for the bound
	next int   // the oldest once ring is full
}

func (n *absentNotes) add(k key) {
	if _, ok := n.set[k]; ok {
		return
	}
	if n.set == nil {
		n.set = map[key]struct{}{}
	}
	if len(n.ring) < maxAbsentNotes {
		n.ring = append(n.ring, k)
	} else {
		// The key leaving may have had its note taken back by a write
		// already; deleting it again is harmless.
		delete(n.set, n.ring[n.next])
		n.ring[n.next] = k
		n.next = (n.next + 1) % maxAbsentNotes
	}
	n.set[k] = struct{}{}
}

func (n *absentNotes) has(k key) bool {
	_, ok := n.set[k]
	return ok
}

// remove takes a note back: the document is being written.
func (n *absentNotes) remove(k key) {
	if n.set != nil {
		delete(n.set, k)
	}
}
