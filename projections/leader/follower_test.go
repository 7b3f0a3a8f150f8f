package leader_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/leader"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/mongostore"
	"github.com/omsonline/oms/projections/readstore/mongostore/mongotest"
	"github.com/omsonline/oms/projections/runner"
	"github.com/omsonline/oms/projections/runner/runnertest"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

// counter counts "Tick" events per stream: a projection whose documents
// say which events reached them.
type counter struct{}

func (counter) Name() string { return "counter" }
func (counter) Collections() []runner.Collection {
	return []runner.Collection{{Name: "counts", Kind: readstore.KindDocs}}
}

type count struct {
	N int `json:"n"`
}

func (counter) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	if ev.Envelope.Type != "Tick" {
		return nil
	}
	var doc count
	_, fresh, err := tx.GetJSON("counts", ev.Stream, &doc)
	if err != nil || !fresh {
		return err
	}
	return tx.Put("counts", ev.Stream, count{N: doc.N + 1}, nil)
}

// Read-your-writes on a node that does not hold the lease (MongoDB, shared
// by the nodes): its wait ends when the stored checkpoint passed the
// position, and the read that follows goes through the aliases. Right
// after a rebuild's switch that node's cached aliases still name the old
// generation, which no longer receives writes: the read misses the write
// it waited for.
func TestFollowerReadAfterWaitSeesTheWriteAcrossASwitch(t *testing.T) {
	ctx := context.Background()
	uri := mongotest.URI(t)
	db := mongotest.Database(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() *mongostore.Store {
		s, err := mongostore.Open(ctx, mongostore.Options{URI: uri, Database: db, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Cleanup(func() { mongotest.DropDatabase(t, uri, db) })
	leaderStore, followerStore := open(), open()
	es := esdbtest.Store(t, eventstore.Options{})
	r := runnertest.Start(t, es, leaderStore, runner.Options{FlushInterval: 5 * time.Millisecond}, counter{})
	follower := leader.New(leader.Options{Store: followerStore, Events: es}) // holds no lease

	tick := func() uint64 {
		res, err := es.Append(ctx, "s", eventstore.Any, events.Metadata{Actor: events.Actor{ID: "t", Role: "system"}},
			eventstore.NewEvent{Type: "Tick", Data: map[string]bool{}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	readAfter := func(pos uint64) int {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := follower.WaitFor(wctx, "counter", pos); err != nil {
			t.Fatal(err)
		}
		d, err := followerStore.Get(ctx, "counts", "s")
		if err != nil {
			t.Fatal(err)
		}
		var c count
		if err := json.Unmarshal(d.Body, &c); err != nil {
			t.Fatal(err)
		}
		return c.N
	}
	if n := readAfter(tick()); n != 1 {
		t.Fatalf("first read: %d", n)
	}
	if _, err := r.Rebuild(ctx, "counter", runner.RebuildOptions{DropDelay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if n := readAfter(tick()); n != 2 {
		t.Fatalf("a read after waiting for the second tick counts %d, want 2", n)
	}
}
