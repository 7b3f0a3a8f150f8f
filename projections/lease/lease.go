// Package lease makes sure each projection runs in exactly one omsd
// process: a lease kept in an event store stream, taken and renewed with
// optimistic concurrency, which every deployment has (the embedded store,
// EventStoreDB, KurrentDB) — no extra coordinator to run.
//
// The lease stream's revision after a successful take, plus one, is the
// fencing token: it only grows, so a process that lost the lease (paused,
// partitioned) cannot mistake a later holder's token for its own, and the
// read-model store, which keeps the highest token it saw, refuses its
// writes. The one is added because a store takes token zero for a writer
// outside any lease, and the first take is revision zero. A holder also stops on
// its own clock once its last successful renewal is older than the TTL minus
// a safety margin, so two holders never project at once as long as clocks
// drift less than that margin.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
)

// Event types of the lease stream.
const (
	TypeTaken    = "LeaseTaken"
	TypeRenewed  = "LeaseRenewed"
	TypeReleased = "LeaseReleased"
)

// Record is the payload of every lease event.
type Record struct {
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Options configure a Lease.
type Options struct {
	Store  *eventstore.Store
	Stream string // e.g. "lease-projections"
	Holder string // this process, e.g. host:pid
	TTL    time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Lease campaigns for and holds one lease.
type Lease struct {
	o Options
}

// New returns a Lease; Run campaigns.
func New(o Options) *Lease {
	if o.TTL <= 0 {
		o.TTL = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Holder == "" {
		o.Holder = uuid.NewString()
	}
	return &Lease{o: o}
}

// Term is one holding of the lease.
type Term struct {
	Token uint64 // fencing token: the lease stream's revision when taken, plus one; never zero
	// Lost is closed when the term ends (renewal failed, another holder, or
	// Run's context ended).
	Lost <-chan struct{}
	// expires is the end of the term by this holder's clock: the last
	// renewal plus the TTL less a margin.
	expires func() time.Time
	now     func() time.Time
}

// Held reports whether the term still holds: not lost, and by this
// holder's own clock not past its last renewal plus the TTL less a margin.
// Lost alone closes only when a renewal fails, up to a renewal interval
// after the expiry (longer after a stall of this process), while a
// successor may take the lease as soon as it has expired; a holder asks
// Held before every write it fences.
func (t Term) Held() bool {
	select {
	case <-t.Lost:
		return false
	default:
	}
	return t.expires == nil || t.now().Before(t.expires())
}

// Run campaigns until ctx ends. Each time the lease is taken, lead runs
// with a context that is cancelled when the lease is lost; lead should
// return promptly then. On ctx end a held lease is released so another
// process takes over at once rather than after the TTL.
func (l *Lease) Run(ctx context.Context, lead func(ctx context.Context, t Term)) error {
	retry := l.o.TTL / 5
	for {
		rev, ok, err := l.take(ctx)
		if err != nil && ctx.Err() == nil {
			l.o.Logger.Warn("lease: take failed", "stream", l.o.Stream, "err", err)
		}
		if ok {
			l.hold(ctx, rev, lead)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

func (l *Lease) meta() events.Metadata {
	return events.Metadata{Actor: events.Actor{ID: l.o.Holder, Role: events.RoleSystem}}
}

// current reads the lease stream's last event.
func (l *Lease) current(ctx context.Context) (rec Record, typ string, rev uint64, exists bool, err error) {
	evs, err := l.o.Store.LoadLast(ctx, l.o.Stream)
	if err != nil || evs == nil {
		return Record{}, "", 0, false, err
	}
	if err := json.Unmarshal(evs.Data, &rec); err != nil {
		return Record{}, "", 0, false, fmt.Errorf("lease: decode %s: %w", l.o.Stream, err)
	}
	return rec, evs.Envelope.Type, evs.Revision, true, nil
}

// Holder reads who holds the lease and until when, as the lease stream
// says: held is false when it is released, expired or was never taken. It
// is for operators; only Run decides who leads.
func (l *Lease) Holder(ctx context.Context) (holder string, until time.Time, held bool, err error) {
	rec, typ, _, exists, err := l.current(ctx)
	if err != nil || !exists || typ == TypeReleased || !l.o.Now().Before(rec.ExpiresAt) {
		return "", time.Time{}, false, err
	}
	return rec.Holder, rec.ExpiresAt, true, nil
}

// take appends a LeaseTaken if the lease is free: never taken, released, or
// expired.
func (l *Lease) take(ctx context.Context) (uint64, bool, error) {
	rec, typ, rev, exists, err := l.current(ctx)
	if err != nil {
		return 0, false, err
	}
	now := l.o.Now()
	exp := eventstore.NoStream
	if exists {
		if typ != TypeReleased && now.Before(rec.ExpiresAt) && rec.Holder != l.o.Holder {
			return 0, false, nil
		}
		exp = eventstore.AtRevision(rev)
	}
	res, err := l.o.Store.Append(ctx, l.o.Stream, exp, l.meta(), eventstore.NewEvent{Type: TypeTaken, Data: Record{Holder: l.o.Holder, ExpiresAt: now.Add(l.o.TTL)}})
	if errors.Is(err, eventstore.ErrConflict) {
		return 0, false, nil // someone else was quicker
	}
	if err != nil {
		return 0, false, err
	}
	l.o.Logger.Info("lease taken", "stream", l.o.Stream, "holder", l.o.Holder, "token", res.Revision+1)
	return res.Revision, true, nil
}

// hold renews the lease and runs lead until the lease is lost.
func (l *Lease) hold(ctx context.Context, token uint64, lead func(context.Context, Term)) {
	termCtx, cancel := context.WithCancel(ctx)
	lost := make(chan struct{})
	done := make(chan struct{})
	rev := token
	lastOK := l.o.Now()
	margin := l.o.TTL / 4
	var renewed atomic.Int64 // lastOK for Held, read by the lead's writes
	renewed.Store(lastOK.UnixNano())
	expires := func() time.Time { return time.Unix(0, renewed.Load()).Add(l.o.TTL - margin) }
	go func() {
		defer close(done)
		lead(termCtx, Term{Token: token + 1, Lost: lost, expires: expires, now: l.o.Now})
	}()
	tick := time.NewTicker(l.o.TTL / 4)
	defer tick.Stop()
	end := func(why string) {
		l.o.Logger.Warn("lease lost", "stream", l.o.Stream, "holder", l.o.Holder, "token", token+1, "why", why)
		close(lost)
		cancel()
		<-done
	}
	for {
		select {
		case <-ctx.Done():
			// Still the holder: the lead's last flush on its way out is
			// fenced by this term, which ends only after it.
			cancel()
			<-done
			close(lost)
			// Hand over at once: a successor need not wait for expiry.
			l.release(rev)
			return
		case <-done:
			cancel()
			close(lost)
			if ctx.Err() != nil {
				// Run is ending (lead saw it first): still hand over.
				l.release(rev)
			}
			return
		case <-tick.C:
			now := l.o.Now()
			res, err := l.o.Store.Append(ctx, l.o.Stream, eventstore.AtRevision(rev), l.meta(), eventstore.NewEvent{Type: TypeRenewed, Data: Record{Holder: l.o.Holder, ExpiresAt: now.Add(l.o.TTL)}})
			switch {
			case err == nil:
				rev, lastOK = res.Revision, now
				renewed.Store(now.UnixNano())
			case errors.Is(err, eventstore.ErrConflict):
				end("another holder renewed or took it")
				return
			default:
				if l.o.Now().Sub(lastOK) > l.o.TTL-margin {
					end("could not renew before expiry: " + err.Error())
					return
				}
			}
		}
	}
}

// release appends LeaseReleased. A renewal cancelled mid-flight may still
// have landed, so on a conflict it re-reads: if the last word is still this
// holder's, it releases at that revision.
func (l *Lease) release(rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		if i > 0 {
			// The renewal that beat us may not be readable yet.
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
		}
		_, err := l.o.Store.Append(ctx, l.o.Stream, eventstore.AtRevision(rev), l.meta(), eventstore.NewEvent{Type: TypeReleased, Data: Record{Holder: l.o.Holder}})
		if !errors.Is(err, eventstore.ErrConflict) {
			if err != nil {
				l.o.Logger.Warn("lease: release failed; successors wait for expiry", "stream", l.o.Stream, "err", err)
			}
			return
		}
		rec, typ, cur, exists, err := l.current(ctx)
		if err != nil || !exists || rec.Holder != l.o.Holder || typ == TypeReleased {
			return
		}
		rev = cur
	}
}
