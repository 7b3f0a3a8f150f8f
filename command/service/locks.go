package service

import (
	"context"
	"math"
	"sync"

	"golang.org/x/sync/semaphore"
)

// keyedLocks holds one readers-writer lock per key while anyone holds or
// waits for it; waiting ends with the waiter's context. Waiters are served
// in order, so a writer is not starved by a stream of readers.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	sem  *semaphore.Weighted
	refs int // holders and waiters
}

// exclusiveWeight is more than any number of shared holders there can be.
const exclusiveWeight = math.MaxInt32

// lock takes key's lock for one holder alone.
func (l *keyedLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	return l.acquire(ctx, key, exclusiveWeight)
}

// share takes key's lock alongside other sharers, not alongside lock.
func (l *keyedLocks) share(ctx context.Context, key string) (unlock func(), err error) {
	return l.acquire(ctx, key, 1)
}

func (l *keyedLocks) acquire(ctx context.Context, key string, weight int64) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyedLock{}
	}
	k := l.m[key]
	if k == nil {
		k = &keyedLock{sem: semaphore.NewWeighted(exclusiveWeight)}
		l.m[key] = k
	}
	k.refs++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		if k.refs--; k.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	if err := k.sem.Acquire(ctx, weight); err != nil {
		done()
		return nil, err
	}
	return func() { k.sem.Release(weight); done() }, nil
}
