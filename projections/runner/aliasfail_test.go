package runner_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// faultyStore fails what a test asks it to: setting aliases, the flushes
// of a rebuild, or the switch's flush of the projection's checkpoint.
type faultyStore struct {
	*sqlitestore.Store
	failAliases, failRebuild, failSwitch atomic.Bool
}

func (f *faultyStore) SetAliases(ctx context.Context, a map[string]string) error {
	if f.failAliases.Load() {
		return errors.New("database is locked")
	}
	return f.Store.SetAliases(ctx, a)
}

func (f *faultyStore) Flush(ctx context.Context, w []readstore.Write, cp readstore.Checkpoint) error {
	if cp.Projection == "counter~rebuild" && f.failRebuild.Load() {
		return errors.New("disk full")
	}
	if cp.Projection == "counter" && cp.Generation == 2 && f.failSwitch.Load() {
		return errors.New("disk full")
	}
	return f.Store.Flush(ctx, w, cp)
}

// A rebuild whose switch fails leaves the live projection where it was,
// and nothing is lost when the next rebuild fails too (or the process dies
// in it) and the node restarts. The switch stored the new generation's
// checkpoint before it moved the readers; when that failed, the next
// rebuild took the generation for its own and dropped it, and a restart
// went on from that checkpoint over empty collections.
func TestFailedSwitchThenFailedRebuildLosesNothingOnRestart(t *testing.T) {
	ctx := context.Background()
	es, base := stores(t)
	fs := &faultyStore{Store: base}
	r, stop := runOn(t, es, fs, base)
	g := &rig{events: es, store: base, runner: r}
	last := g.ticks(t, 15)

	fs.failAliases.Store(true)
	if _, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{BatchSize: 4, DropDelay: time.Hour}); err == nil {
		t.Fatal("the rebuild succeeded though its switch could not set the aliases")
	}
	fs.failAliases.Store(false)
	fs.failRebuild.Store(true)
	if _, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{BatchSize: 4, DropDelay: time.Hour}); err == nil {
		t.Fatal("the second rebuild succeeded though its flushes failed")
	}
	// A switch whose checkpoint cannot be stored points the readers back
	// at the generation the live projection goes on writing.
	fs.failRebuild.Store(false)
	fs.failSwitch.Store(true)
	if _, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{BatchSize: 4, DropDelay: time.Hour}); err == nil {
		t.Fatal("the rebuild succeeded though its switch could not store the checkpoint")
	}
	fs.failSwitch.Store(false)
	last = g.tick(t, "s-2", false)
	waitFor(t, r, last)
	if c := g.count(t, "s-2"); c != 6 {
		t.Fatalf("after a failed switch the readers see s-2 at %d, want 6", c)
	}
	stop()
	cp, _ := base.LoadCheckpoint(ctx, "counter")
	t.Logf("checkpoint before the restart: generation %d at %d", cp.Generation, cp.Position)

	g.restarted(t, es, base, map[string]int{"s-0": 5, "s-1": 6, "s-2": 6})
}

// twin counts Ticks like counter, as a projection of its own, so that two
// are rebuilt in one pass.
type twin struct{ counter }

func (*twin) Name() string { return "twin" }
func (*twin) Collections() []runner.Collection {
	return []runner.Collection{{Name: "twins", Kind: readstore.KindDocs}}
}

func (*twin) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if ev.Envelope.Type != "Tick" {
		return nil
	}
	var doc count
	_, fresh, err := tx.GetJSON("twins", ev.Stream, &doc)
	if err != nil || !fresh {
		return err
	}
	return tx.Put("twins", ev.Stream, count{N: doc.N + 1}, nil)
}

// failTwinSwitch refuses the flush that would store twin's new generation.
type failTwinSwitch struct{ *sqlitestore.Store }

func (f *failTwinSwitch) Flush(ctx context.Context, w []readstore.Write, cp readstore.Checkpoint) error {
	if cp.Projection == "twin" && cp.Generation == 2 {
		return errors.New("disk full")
	}
	return f.Store.Flush(ctx, w, cp)
}

// Rebuilding two projections at once, a switch that fails for the second
// leaves the first as it was too: its checkpoint names the generation its
// live projection goes on writing, not the new one it had stored already
// (which the next rebuild takes for its own and drops).
func TestPartlyFailedSwitchPutsEveryCheckpointBack(t *testing.T) {
	ctx := context.Background()
	es, base := stores(t)
	r, _ := runOn(t, es, &failTwinSwitch{base}, base, &counter{}, &twin{})
	g := &rig{events: es, store: base, runner: r}
	g.ticks(t, 6)
	if _, err := r.RebuildAll(ctx, []string{"counter", "twin"}, runner.RebuildOptions{DropDelay: time.Hour}); err == nil {
		t.Fatal("the rebuild succeeded though twin's switch failed")
	}
	for name, coll := range map[string]string{"counter": "counts", "twin": "twins"} {
		cp, err := base.LoadCheckpoint(ctx, name)
		if err != nil || cp.Generation != 1 {
			t.Errorf("%s's checkpoint names generation %d (%v), want 1, the live one", name, cp.Generation, err)
		}
		if a, _ := base.Alias(ctx, coll); a != coll+"_g1" {
			t.Errorf("%s reads %s, want %s_g1", coll, a, coll)
		}
	}
}
