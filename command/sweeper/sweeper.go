// Package sweeper deletes scans that no application ever referred to,
// UnattachedRetention (30 days) after their upload: copies of passports
// that people uploaded and then gave up on are personal data kept for
// nothing (152-ФЗ art. 5: no longer than the purpose needs).
//
// A submission may be referring to such a scan at the very moment, so it
// goes in two steps. The sweep marks the scan (DocumentDiscarding, at the
// upload stream's revision, so two nodes mark it once); from then on no
// submission takes it (command/document's Lookup). After Grace, when every
// submission begun before the mark has long been written and the history
// read model has passed the log's end, the next sweep looks again: a scan
// still unattached has its bytes deleted (DocumentDiscarded); one that a
// submission attached after all is kept (DocumentKept).
//
// Every node may sweep: the marks and settlements are appended at the
// stream's revision, and the progress (UploadsSwept) is only a place to
// start from, which a node that lost a race reads again.
package sweeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// Defaults of Options.
const (
	DefaultGrace    = time.Hour
	DefaultInterval = time.Hour
	// historyWait bounds the wait for the history read model to reach
	// the log's end before marks are settled.
	historyWait = time.Minute
	// MaxPerSweep bounds the scans one sweep marks or settles, and
	// sweepTimeout its time: the first sweep of a store that has kept
	// years of uploads works through them an hour at a time, each hour's
	// progress recorded, rather than in one read no deadline bounds.
	MaxPerSweep  = 1000
	sweepTimeout = 15 * time.Minute
)

// Options configure a Sweeper.
type Options struct {
	Store *eventstore.Store
	// DeleteBlob deletes a scan's bytes; a missing blob is no error.
	DeleteBlob func(ctx context.Context, sha256 string) error
	// Attached reports whether an application's form refers, or referred,
	// to a scan (the history projection's scan index).
	Attached func(ctx context.Context, documentID string) (bool, error)
	// WaitHistory waits until the history read model has passed a
	// position of the log.
	WaitHistory func(ctx context.Context, position uint64) error
	// Index is the name of the projection Attached reads ("history").
	// While it has parked events (ones it could not apply and passed
	// over), its index may lack a scan an application refers to: nothing
	// is marked or deleted until they are replayed.
	Index string
	// Grace is the time between a mark and its settlement; zero means
	// DefaultGrace.
	Grace time.Duration
	// Interval is how often Run sweeps; zero means DefaultInterval.
	Interval time.Duration
	// Now is the business clock, the one uploads are stamped with; nil
	// means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Sweeper discards unattached scans.
type Sweeper struct{ o Options }

// New returns a Sweeper.
func New(o Options) (*Sweeper, error) {
	if o.Store == nil || o.DeleteBlob == nil || o.Attached == nil || o.WaitHistory == nil || o.Index == "" {
		return nil, errors.New("sweeper: Store, DeleteBlob, Attached, WaitHistory and Index are required")
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{o: o}, nil
}

// Run sweeps every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		res, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.o.Logger.Warn("sweeper: sweep failed", "err", err, "marked", res.Marked, "discarded", res.Discarded, "kept", res.Kept)
		case res.Marked+res.Discarded+res.Kept > 0:
			s.o.Logger.Info("sweeper: unattached scans", "marked", res.Marked, "discarded", res.Discarded, "kept", res.Kept)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Result counts what a sweep did.
type Result struct {
	Marked, Discarded, Kept int
}

// errStop ends a read of the log at the first event too young to act on:
// the log is in time order.
var errStop = errors.New("sweeper: stop")

// system is the actor of the sweeper's events.
var system = events.Actor{ID: "sweeper", Role: events.RoleSystem}

// ErrIndexIncomplete is a sweep refused because the projection whose
// index says which scans are attached has parked events.
var ErrIndexIncomplete = errors.New("sweeper: the scan index has parked events")

// sweep is one sweep's state.
type sweep struct {
	prog schema.UploadsSwept
	res  Result
	// read counts the events acted on (marks settled, uploads looked
	// at): the progress is worth recording when they moved it.
	read int
}

// Sweep settles the marks whose grace is over, then marks the unattached
// uploads older than the retention.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	prog, rev, exists, err := s.progress(ctx)
	if err != nil {
		return Result{}, err
	}
	w := &sweep{prog: prog}
	head, err := s.indexComplete(ctx)
	if err == nil {
		err = s.settle(ctx, w, head)
	}
	if err == nil {
		err = s.mark(ctx, w, head)
	}
	// What was done is recorded even when a step failed: the scans'
	// streams hold it anyway, and the next sweep starts past it. A sweep
	// that read nothing records once a day, not at every tick: its own
	// record would otherwise be all the log's growth of a quiet day.
	if w.prog == prog || (w.read == 0 && exists && s.o.Now().Sub(prog.SweptAt) < 24*time.Hour) {
		return w.res, err
	}
	w.prog.SweptAt = s.o.Now().UTC()
	exp := eventstore.NoStream
	if exists {
		exp = eventstore.AtRevision(rev)
	}
	perr := s.append(context.WithoutCancel(ctx), schema.UploadSweepStream, exp, w.prog)
	if errors.Is(perr, eventstore.ErrConflict) {
		// Another node swept meanwhile; what both did is recorded in the
		// scans' streams, and the next sweep starts from its progress.
		perr = nil
	}
	return w.res, errors.Join(err, perr)
}

// indexComplete waits for the scan index to reach the log's end and
// checks that it passed over nothing: only then does "not attached" mean
// that no application refers to a scan. It returns the end it waited for.
func (s *Sweeper) indexComplete(ctx context.Context) (uint64, error) {
	head, err := s.o.Store.Head(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweeper: head: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, historyWait)
	err = s.o.WaitHistory(wctx, head)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("sweeper: the %s read model did not reach %d: %w", s.o.Index, head, err)
	}
	// An event is parked before the projection's checkpoint passes it,
	// so every one up to head is listed by now.
	parked, err := s.o.Store.ListParked(ctx, eventstore.ParkedStream)
	if err != nil {
		return 0, fmt.Errorf("sweeper: parked events: %w", err)
	}
	n := 0
	for _, p := range parked {
		if p.Handler() == s.o.Index {
			n++
		}
	}
	if n > 0 {
		return 0, fmt.Errorf("%w: %d of %s's events wait to be replayed (omsctl projections replay-parked %s, or a rebuild); no scan is marked or deleted until then",
			ErrIndexIncomplete, n, s.o.Index, s.o.Index)
	}
	return head, nil
}

// progress reads where the last sweep stopped.
func (s *Sweeper) progress(ctx context.Context) (schema.UploadsSwept, uint64, bool, error) {
	last, err := s.o.Store.LoadLast(ctx, schema.UploadSweepStream)
	if err != nil || last == nil {
		return schema.UploadsSwept{}, 0, false, err
	}
	ev, err := last.Payload()
	if err != nil {
		return schema.UploadsSwept{}, 0, false, fmt.Errorf("sweeper: read progress: %w", err)
	}
	p, ok := ev.(schema.UploadsSwept)
	if !ok {
		return schema.UploadsSwept{}, 0, false, fmt.Errorf("sweeper: %s holds %T", schema.UploadSweepStream, ev)
	}
	return p, last.Revision, true, nil
}

// settle deletes or keeps each marked scan whose grace is over, up to
// head, which the index has reached.
func (s *Sweeper) settle(ctx context.Context, w *sweep, head uint64) error {
	// A tenth of the grace is given back, so that the marks of one sweep
	// settle at the sweep a grace later, not at the one after it: they
	// were made some seconds into it.
	due := s.o.Now().Add(-s.o.Grace + s.o.Grace/10)
	done := 0
	err := s.o.Store.CatchUpTypes(ctx, after(w.prog.MarksThrough), []string{schema.TypeDocumentDiscarding}, func(r eventstore.Recorded) error {
		ev, err := r.Payload()
		if err != nil {
			return err
		}
		m, ok := ev.(schema.DocumentDiscarding)
		if !ok {
			return nil
		}
		if m.MarkedAt.After(due) || r.Position > head || done == MaxPerSweep {
			return errStop
		}
		if err := s.settleOne(ctx, m, r.Revision, &w.res); err != nil {
			return err
		}
		done++
		w.read++
		w.prog.MarksThrough = r.Position
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return nil
	case err == nil:
		// Read to the end: no mark up to head waits, and the next sweep
		// need not read that stretch of the log again.
		w.prog.MarksThrough = max(w.prog.MarksThrough, head)
	}
	return err
}

// settleOne deletes a marked scan that is still unattached, or keeps one a
// submission attached. markRev is the mark's revision in the scan's
// stream: a settlement appended at it is the only one.
func (s *Sweeper) settleOne(ctx context.Context, m schema.DocumentDiscarding, markRev uint64, res *Result) error {
	stream := schema.DocumentStream(m.DocumentID)
	recs, err := s.o.Store.LoadFrom(ctx, stream, 0, 16)
	if err != nil {
		return fmt.Errorf("sweeper: read %s: %w", stream, err)
	}
	if len(recs) == 0 || recs[len(recs)-1].Revision != markRev {
		return nil // settled already, by another node
	}
	ev, err := recs[0].Payload()
	if err != nil {
		return fmt.Errorf("sweeper: read %s: %w", stream, err)
	}
	up, ok := ev.(schema.DocumentUploaded)
	if !ok {
		return fmt.Errorf("sweeper: %s starts with %T", stream, ev)
	}
	attached, err := s.o.Attached(ctx, m.DocumentID)
	if err != nil {
		return fmt.Errorf("sweeper: is %s attached: %w", m.DocumentID, err)
	}
	now := s.o.Now().UTC()
	if attached {
		err = s.append(ctx, stream, eventstore.AtRevision(markRev), schema.DocumentKept{DocumentID: m.DocumentID, KeptAt: now})
		if err == nil {
			res.Kept++
		}
	} else {
		// The bytes first: a crash between the two leaves the mark
		// unsettled, and the next sweep deletes nothing twice over.
		if err := s.o.DeleteBlob(ctx, up.SHA256); err != nil {
			return fmt.Errorf("sweeper: delete the scan %s: %w", m.DocumentID, err)
		}
		err = s.append(ctx, stream, eventstore.AtRevision(markRev), schema.DocumentDiscarded{DocumentID: m.DocumentID, DiscardedAt: now})
		if err == nil {
			res.Discarded++
		}
	}
	if errors.Is(err, eventstore.ErrConflict) {
		return nil
	}
	return err
}

// mark marks the uploads older than the retention that no application
// refers to, up to head, which the index has reached.
func (s *Sweeper) mark(ctx context.Context, w *sweep, head uint64) error {
	cutoff := s.o.Now().Add(-document.UnattachedRetention)
	done := 0
	err := s.o.Store.CatchUpTypes(ctx, after(w.prog.UploadsThrough), []string{schema.TypeDocumentUploaded}, func(r eventstore.Recorded) error {
		ev, err := r.Payload()
		if err != nil {
			return err
		}
		up, ok := ev.(schema.DocumentUploaded)
		if !ok {
			return nil
		}
		if up.UploadedAt.After(cutoff) || r.Position > head || done == MaxPerSweep {
			return errStop
		}
		attached, err := s.o.Attached(ctx, up.DocumentID)
		if err != nil {
			return fmt.Errorf("sweeper: is %s attached: %w", up.DocumentID, err)
		}
		if !attached {
			// At the upload's own revision: a stream that moved on was
			// marked by another node.
			err := s.append(ctx, schema.DocumentStream(up.DocumentID), eventstore.AtRevision(r.Revision),
				schema.DocumentDiscarding{DocumentID: up.DocumentID, UploadedAt: up.UploadedAt, MarkedAt: s.o.Now().UTC()})
			switch {
			case err == nil:
				w.res.Marked++
				done++
			case !errors.Is(err, eventstore.ErrConflict):
				return err
			}
		}
		w.read++
		w.prog.UploadsThrough = r.Position
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return nil
	case err == nil:
		w.prog.UploadsThrough = max(w.prog.UploadsThrough, head)
	}
	return err
}

func (s *Sweeper) append(ctx context.Context, stream string, exp eventstore.Expected, ev schema.Event) error {
	typ, v, data, err := schema.Encode(ev)
	if err != nil {
		return err
	}
	md := events.Metadata{Actor: system, CorrelationID: "sweep-" + s.o.Now().UTC().Format("20060102T150405"), At: s.o.Now().UTC()}
	if _, err := s.o.Store.Append(ctx, stream, exp, md, eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data}); err != nil {
		return fmt.Errorf("sweeper: record %s: %w", typ, err)
	}
	return nil
}

// after is the position to read the log after; zero is its beginning.
func after(pos uint64) *uint64 {
	if pos == 0 {
		return nil
	}
	return &pos
}
