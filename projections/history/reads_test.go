package history_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
)

// entryReads counts the runner's store reads of audit entries. Embedding
// the SQLite store keeps its atomic flushes; opaqueStore hides them.
type entryReads struct {
	*sqlitestore.Store
	n atomic.Int64
}

func (r *entryReads) GetPhysical(ctx context.Context, physical, id string) (readstore.Doc, error) {
	if strings.HasPrefix(physical, history.Entries+"_g") {
		r.n.Add(1)
	}
	return r.Store.GetPhysical(ctx, physical, id)
}

type opaqueStore struct{ readstore.Store }

// Live events look up their audit entry in the store only where a crash
// can have left it there ahead of the view: on a store without atomic
// flushes. On SQLite an event past the checkpoint has written nothing.
func TestEntriesAreLookedUpOnlyWhereTheyCanExist(t *testing.T) {
	for _, tc := range []struct {
		name   string
		atomic bool
	}{{"atomic store", true}, {"store without atomic flushes", false}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t)
			counter := &entryReads{Store: g.store.(*sqlitestore.Store)}
			var store readstore.Store = counter
			if !tc.atomic {
				store = opaqueStore{counter}
			}
			sub := eventstore.NewSubscriber(g.events, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(g.store)})
			r, err := runner.New(context.Background(), runner.Options{Store: store, Subscriber: sub, Events: g.events, FlushInterval: time.Millisecond}, history.Projection{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go r.Run(ctx)
			<-r.Running()
			g.runner = r
			t.Cleanup(func() { cancel(); r.Close() })

			appID := uuid.NewString()
			stream := schema.ApplicationStream(appID)
			rev := events.Actor{ID: "rev-1", Role: events.RoleReviewer}
			g.append(stream, events.Actor{ID: "alice", Role: events.RoleApplicant}, submitted(appID, "alice"))
			g.catchUp() // the next events find the view in the store or the cache, not in the batch
			g.append(stream, rev, schema.ApplicationClaimed{ApplicationID: appID, ReviewerID: "rev-1", ClaimedAt: g.at})
			g.append(stream, rev, schema.ApplicationApproved{ApplicationID: appID, ReviewerID: "rev-1", ApprovedAt: g.at})
			g.catchUp()

			got := counter.n.Load()
			if tc.atomic && got != 0 {
				t.Fatalf("%d store reads of audit entries, want none", got)
			}
			if !tc.atomic && got != 3 {
				t.Fatalf("%d store reads of audit entries, want one per event (3)", got)
			}
			entries, err := g.store.List(context.Background(), readstore.ListQuery{Collection: history.Entries, Prefix: appID + "/", Limit: 10})
			if err != nil || len(entries) != 3 {
				t.Fatalf("%d entries (%v), want 3", len(entries), err)
			}
		})
	}
}
