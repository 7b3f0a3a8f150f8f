package perf

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/query/httpapi"
)

// ProjectionRate is one projection's rebuild.
type ProjectionRate struct {
	Name      string
	Events    int
	Elapsed   time.Duration
	PerSecond float64
}

// RebuildResult is the outcome of Rebuild.
type RebuildResult struct {
	Projections []ProjectionRate
	// Total is the time of all the rebuilds, one after another.
	Total time.Duration
	// OnePass is all of them rebuilt together in one pass over $all
	// (RebuildAll), when measured.
	OnePass ProjectionRate
}

// Slowest is the projection with the lowest rate.
func (r RebuildResult) Slowest() ProjectionRate {
	var s ProjectionRate
	for i, p := range r.Projections {
		if i == 0 || p.PerSecond < s.PerSecond {
			s = p
		}
	}
	return s
}

// Rebuild rebuilds the named projections of r from position 0 into fresh
// collections, one after another as an operator would, and times each.
func Rebuild(ctx context.Context, r *runner.Runner, names []string, onProgress func(name string, p runner.Progress)) (RebuildResult, error) {
	var res RebuildResult
	for _, name := range names {
		t0 := time.Now()
		prog, err := r.Rebuild(ctx, name, runner.RebuildOptions{DropDelay: time.Millisecond, OnProgress: func(p runner.Progress) {
			if onProgress != nil {
				onProgress(name, p)
			}
		}})
		if err != nil {
			return res, fmt.Errorf("perf: rebuild %s: %w", name, err)
		}
		el := time.Since(t0)
		res.Total += el
		res.Projections = append(res.Projections, ProjectionRate{Name: name, Events: prog.Events, Elapsed: el, PerSecond: float64(prog.Events) / el.Seconds()})
	}
	return res, nil
}

// RebuildAll rebuilds the named projections of r together in one pass over
// $all (runner.RebuildAll) and times it: Events is the number of events
// read, each applied by every projection.
func RebuildAll(ctx context.Context, r *runner.Runner, names []string, onProgress func(runner.Progress)) (ProjectionRate, error) {
	t0 := time.Now()
	prog, err := r.RebuildAll(ctx, names, runner.RebuildOptions{DropDelay: time.Millisecond, OnProgress: onProgress})
	if err != nil {
		return ProjectionRate{}, fmt.Errorf("perf: rebuild all: %w", err)
	}
	el := time.Since(t0)
	return ProjectionRate{Name: "all", Events: prog.Events, Elapsed: el, PerSecond: float64(prog.Events) / el.Seconds()}, nil
}

// TimeTravelEvents is the length of the time-travel stream.
const TimeTravelEvents = 200

// TimeTravelHistory is a long-lived application of TimeTravelEvents
// events: three information rounds before the decision, then years of
// address changes, renewal reminders and renewals.
func TimeTravelHistory(appID, applicantID string, at time.Time) []schema.Event {
	j := benchload.Journey(appID, applicantID, 1, at)
	evs := []schema.Event{j[0], j[1], j[2], j[3], j[2], j[3], j[2], j[3], j[4], j[5]}
	issued := j[5].(schema.PolicyIssued)
	for v := 2; len(evs) < TimeTravelEvents; v++ {
		doc := schema.PolicyDocument{Number: fmt.Sprintf("%s-%02d", issued.ENP, v), Version: v, IssuedAt: "2027-01-01"}
		addr := schema.Address{Region: fmt.Sprintf("%02d", 1+v%89), City: "Казань", Street: "ул. Баумана", House: strconv.Itoa(v), PostalCode: "420111"}
		switch v % 3 {
		case 0:
			evs = append(evs, schema.AddressChanged{ApplicationID: appID, Address: addr, ChangedAt: at, ENP: issued.ENP, ValidFrom: issued.ValidFrom, ValidTo: issued.ValidTo, Document: doc})
		case 1:
			evs = append(evs, schema.RenewalDue{ApplicationID: appID, ENP: issued.ENP, ValidTo: issued.ValidTo, RemindedAt: at})
		default:
			evs = append(evs, schema.PolicyRenewed{ApplicationID: appID, ENP: issued.ENP, ValidFrom: "2027-11-26", ValidTo: "2028-11-25", Document: doc, RenewedAt: at})
		}
	}
	return evs
}

// AppendTimeTravelHistory writes a TimeTravelHistory to a new application
// stream and returns the application's id.
func AppendTimeTravelHistory(ctx context.Context, store *eventstore.Store) (string, error) {
	appID := uuid.NewString()
	var out []eventstore.NewEvent
	const applicant = "alice"
	for _, e := range TimeTravelHistory(appID, applicant, time.Now().UTC()) {
		typ, v, data, err := schema.Encode(e)
		if err != nil {
			return "", fmt.Errorf("perf: %w", err)
		}
		out = append(out, eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data, Subject: applicant})
	}
	meta := events.Metadata{Actor: events.Actor{ID: "r", Role: events.RoleReviewer}}
	if _, err := store.Append(ctx, schema.ApplicationStream(appID), eventstore.NoStream, meta, out...); err != nil {
		return "", fmt.Errorf("perf: %w", err)
	}
	return appID, nil
}

// TimeTravelOnce does what GET /applications/:id/state does: loads the
// stream through the v4 client and folds it with the per-step diffs.
func TimeTravelOnce(ctx context.Context, store *eventstore.Store, appID string) (httpapi.State, error) {
	recs, err := store.Load(ctx, schema.ApplicationStream(appID))
	if err != nil {
		return httpapi.State{}, fmt.Errorf("perf: load: %w", err)
	}
	st, err := httpapi.Replay(appID, recs, ^uint64(0), time.Time{})
	if err != nil {
		return httpapi.State{}, fmt.Errorf("perf: replay: %w", err)
	}
	if len(st.Steps) != TimeTravelEvents {
		return st, fmt.Errorf("perf: replayed %d steps, want %d", len(st.Steps), TimeTravelEvents)
	}
	return st, nil
}

// TimeTravel times n replays of a TimeTravelHistory, after a few to warm
// up.
func TimeTravel(ctx context.Context, store *eventstore.Store, n int) (Latency, error) {
	appID, err := AppendTimeTravelHistory(ctx, store)
	if err != nil {
		return Latency{}, err
	}
	for i := 0; i < 5; i++ {
		if _, err := TimeTravelOnce(ctx, store, appID); err != nil {
			return Latency{}, err
		}
	}
	ds := make([]time.Duration, n)
	for i := range ds {
		t0 := time.Now()
		if _, err := TimeTravelOnce(ctx, store, appID); err != nil {
			return Latency{}, err
		}
		ds[i] = time.Since(t0)
	}
	return Summarise(ds), nil
}

// MasterKey returns a random master key for NewSealer.
func MasterKey() ([]byte, error) {
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		return nil, fmt.Errorf("perf: master key: %w", err)
	}
	return master, nil
}

// NewSealer returns a sealer like omsd's, with the event contract's
// personal sections, keeping its data keys in vault under master. The
// figures measure events as omsd stores them: a rebuild or a time travel
// opens every sealed payload with its subject's key.
//
// Each sealer has a keyring of its own, so one made for the reads starts
// with none of the keys cached, as a node does after a restart; cacheTTL
// (zero: omsd's) can keep it that way from one rebuild to the next, which
// would otherwise find the keys the one before it loaded.
func NewSealer(vault piicrypt.Vault, master []byte, cacheTTL time.Duration) (*piicrypt.Sealer, error) {
	keys, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: master, Vault: vault, CacheTTL: cacheTTL})
	if err != nil {
		return nil, fmt.Errorf("perf: keyring: %w", err)
	}
	return piicrypt.NewSealer(keys, piicrypt.Personal{Sections: schema.PersonalSections, Clear: schema.PersonalClearKeys}), nil
}

// ColdKeys is the reading sealer's cache TTL for measuring rebuilds: the
// events of one application are adjacent in $all, so its key is loaded
// once per rebuild, as in a rebuild after a restart.
const ColdKeys = time.Second

// SealedStores opens two adapters on the event store at url: one that
// seals what it appends, and one for reading with cold keys (ColdKeys),
// both with omsd's personal sections and one master key, keeping their
// keys in vault.
func SealedStores(url string, vault piicrypt.Vault, o eventstore.Options) (filler, reader *eventstore.Store, err error) {
	master, err := MasterKey()
	if err != nil {
		return nil, nil, err
	}
	fs, err := NewSealer(vault, master, 0)
	if err != nil {
		return nil, nil, err
	}
	rs, err := NewSealer(vault, master, ColdKeys)
	if err != nil {
		return nil, nil, err
	}
	o.URL = url
	o.Sealer = fs
	if filler, err = eventstore.Open(o); err != nil {
		return nil, nil, fmt.Errorf("perf: %w", err)
	}
	o.Sealer = rs
	if reader, err = eventstore.Open(o); err != nil {
		filler.Close()
		return nil, nil, fmt.Errorf("perf: %w", err)
	}
	return filler, reader, nil
}
