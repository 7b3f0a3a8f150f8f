package storetest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/omsonline/oms/projections/readstore"
)

// Reads wraps a store for tests of what the runner reads: it counts the
// document reads (GetPhysical) of physical collections whose names start
// with Prefix ("" counts every read) and passes everything through. Hidden
// hides the store's atomic flushes, so that the runner treats it as it
// treats MongoDB, where documents can be ahead of the checkpoint.
type Reads struct {
	readstore.Store
	Prefix string
	Hidden bool
	n      atomic.Int64
}

// GetPhysical implements readstore.Store.
func (r *Reads) GetPhysical(ctx context.Context, physical, id string) (readstore.Doc, error) {
	if strings.HasPrefix(physical, r.Prefix) {
		r.n.Add(1)
	}
	return r.Store.GetPhysical(ctx, physical, id)
}

// AtomicFlush implements readstore.AtomicFlusher.
func (r *Reads) AtomicFlush() bool {
	af, ok := r.Store.(readstore.AtomicFlusher)
	return ok && af.AtomicFlush() && !r.Hidden
}

// Count is the number of reads counted so far.
func (r *Reads) Count() int64 { return r.n.Load() }

// Reset starts the count again from zero.
func (r *Reads) Reset() { r.n.Store(0) }

// BothFlushes runs a test of what the runner reads twice: on the store as
// it is (Hidden false), expecting atomicReads, and with its atomic flushes
// hidden (Hidden true), expecting hiddenReads.
func BothFlushes(t *testing.T, atomicReads, hiddenReads int64, test func(t *testing.T, hidden bool, wantReads int64)) {
	t.Helper()
	t.Run("atomic store", func(t *testing.T) { test(t, false, atomicReads) })
	t.Run("store without atomic flushes", func(t *testing.T) { test(t, true, hiddenReads) })
}
