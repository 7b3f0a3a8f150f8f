package esdbserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
)

// next waits for the next subscription message of interest.
func next(t *testing.T, sub *esdb.Subscription) *esdb.SubscriptionEvent {
	t.Helper()
	ch := make(chan *esdb.SubscriptionEvent, 1)
	go func() { ch <- sub.Recv() }()
	select {
	case e := <-ch:
		if e.SubscriptionDropped != nil {
			t.Fatalf("subscription dropped: %v", e.SubscriptionDropped.Error)
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription message within 10s")
		return nil
	}
}

func TestSubscribeToAllCatchUpThenLive(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	for i := 0; i < 5; i++ {
		if _, err := c.AppendToStream(ctx(t), fmt.Sprintf("sub-%d", i), esdb.AppendToStreamOptions{}, ev("Old", `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var got []string
	for len(got) < 5 {
		e := next(t, sub)
		if e.CaughtUp != nil {
			t.Fatalf("caught up after %d of 5 events", len(got))
		}
		if e.EventAppeared != nil {
			got = append(got, e.EventAppeared.OriginalEvent().StreamID)
		}
	}
	if e := next(t, sub); e.CaughtUp == nil {
		t.Fatalf("want caught_up after catch-up, got %+v", e)
	}
	r, err := c.AppendToStream(ctx(t), "live-1", esdb.AppendToStreamOptions{}, ev("New", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, sub)
	if e.EventAppeared == nil || e.EventAppeared.OriginalEvent().StreamID != "live-1" || e.EventAppeared.OriginalEvent().Position.Commit != r.CommitPosition {
		t.Fatalf("live event: %+v", e)
	}

	// From a position is exclusive.
	sub2, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Position{Commit: r.CommitPosition, Prepare: r.CommitPosition}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	if e := next(t, sub2); e.CaughtUp == nil {
		t.Fatalf("subscription from the last position should be caught up at once, got %+v", e)
	}
}

func TestSubscribeToAllFilters(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	for i := 0; i < 40; i++ {
		stream := fmt.Sprintf("other-%d", i)
		typ := "Noise"
		if i%10 == 0 {
			stream, typ = fmt.Sprintf("application-%d", i), "ApplicationSubmitted"
		}
		if _, err := c.AppendToStream(ctx(t), stream, esdb.AppendToStreamOptions{}, ev(typ, `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	// A system event in a user stream's metastream.
	if _, err := c.SetStreamMetadata(ctx(t), "application-0", esdb.AppendToStreamOptions{}, esdb.StreamMetadata{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		filter *esdb.SubscriptionFilter
	}{
		{"stream prefix", &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"application-"}}},
		{"stream regex", &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: "^application-[0-9]+$"}},
		{"event type prefix", &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"Application"}}},
		{"event type regex", &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "Submitted$"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: tc.filter, MaxSearchWindow: 5, CheckpointInterval: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			var streams []string
			checkpoints := 0
			for {
				e := next(t, sub)
				if e.EventAppeared != nil {
					streams = append(streams, e.EventAppeared.OriginalEvent().StreamID)
				}
				if e.CheckPointReached != nil {
					checkpoints++
				}
				if e.CaughtUp != nil {
					break
				}
			}
			if got := strings.Join(streams, ","); got != "application-0,application-10,application-20,application-30" {
				t.Fatalf("filtered events: %s", got)
			}
			// 41 records scanned with a checkpoint every 5*2=10, plus one at the end.
			if checkpoints != 5 {
				t.Fatalf("want 5 checkpoints, got %d", checkpoints)
			}
		})
	}
	t.Run("exclude system events", func(t *testing.T) {
		sub, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		n := 0
		for {
			e := next(t, sub)
			if e.EventAppeared != nil {
				if strings.HasPrefix(e.EventAppeared.OriginalEvent().EventType, "$") {
					t.Fatalf("system event delivered: %+v", e.EventAppeared.OriginalEvent())
				}
				n++
			}
			if e.CaughtUp != nil {
				break
			}
		}
		if n != 40 {
			t.Fatalf("want 40 user events, got %d", n)
		}
	})
}

func TestSubscribeToStream(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	s := "stream-sub-" + uuid.NewString()
	for i := 0; i < 3; i++ {
		if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{}, ev("T", `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := c.SubscribeToStream(ctx(t), s, esdb.SubscribeToStreamOptions{From: esdb.Revision(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var revs []uint64
	for {
		e := next(t, sub)
		if e.EventAppeared != nil {
			revs = append(revs, e.EventAppeared.OriginalEvent().EventNumber)
		}
		if e.CaughtUp != nil {
			break
		}
	}
	if fmt.Sprint(revs) != "[1 2]" {
		t.Fatalf("from revision 0 is exclusive: got %v", revs)
	}
	if _, err := c.AppendToStream(ctx(t), "unrelated", esdb.AppendToStreamOptions{}, ev("T", `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{}, ev("Live", `{}`)); err != nil {
		t.Fatal(err)
	}
	e := next(t, sub)
	if e.EventAppeared == nil || e.EventAppeared.OriginalEvent().EventNumber != 3 || e.EventAppeared.OriginalEvent().EventType != "Live" {
		t.Fatalf("live stream event: %+v", e)
	}
}

func TestSoftDeleteAndRecreate(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	s := "soft-" + uuid.NewString()
	if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{}, ev("A", `{}`), ev("B", `{}`)); err != nil {
		t.Fatal(err)
	}
	_, err := c.DeleteStream(ctx(t), s, esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(0)})
	if err == nil || !strings.Contains(err.Error(), "WrongExpectedVersion") {
		t.Fatalf("delete with a stale revision: want WrongExpectedVersion, got %v", err)
	}
	d, err := c.DeleteStream(ctx(t), s, esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(1)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Position.Commit == 0 {
		t.Fatal("delete should report a position")
	}
	_, err = readStream(t, c, s, esdb.ReadStreamOptions{}, 10)
	wantCode(t, err, esdb.ErrorCodeResourceNotFound)

	r, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, ev("C", `{}`))
	if err != nil {
		t.Fatalf("recreate after soft delete: %v", err)
	}
	if r.NextExpectedVersion != 2 {
		t.Fatalf("revisions continue after soft delete: got %d", r.NextExpectedVersion)
	}
	evs, err := readStream(t, c, s, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].OriginalEvent().EventNumber != 2 || evs[0].OriginalEvent().EventType != "C" {
		t.Fatalf("only the new event is visible: %v", revisions(evs))
	}
}

func TestTombstone(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	s := "tomb-" + uuid.NewString()
	if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{}, ev("A", `{}`)); err != nil {
		t.Fatal(err)
	}
	_, err := c.TombstoneStream(ctx(t), s, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Revision(5)})
	if err == nil {
		t.Fatal("tombstone with a wrong expected revision must fail")
	}
	if _, err := c.TombstoneStream(ctx(t), s, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Revision(0)}); err != nil {
		t.Fatal(err)
	}
	_, err = readStream(t, c, s, esdb.ReadStreamOptions{}, 10)
	wantCode(t, err, esdb.ErrorCodeStreamDeleted)
	_, err = c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{}, ev("B", `{}`))
	wantCode(t, err, esdb.ErrorCodeStreamDeleted)
	_, err = c.DeleteStream(ctx(t), s, esdb.DeleteStreamOptions{})
	wantCode(t, err, esdb.ErrorCodeStreamDeleted)
}

func TestStreamMetadata(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	s := "meta-" + uuid.NewString()
	for i := 0; i < 5; i++ {
		if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{}, ev("T", `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	m := esdb.StreamMetadata{}
	m.SetMaxCount(2)
	acl := esdb.Acl{}
	acl.AddReadRoles("admin")
	m.SetAcl(acl)
	if _, err := c.SetStreamMetadata(ctx(t), s, esdb.AppendToStreamOptions{}, m); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetStreamMetadata(ctx(t), s, esdb.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*got) != fmt.Sprint(m) {
		t.Fatalf("metadata round trip: %+v want %+v", *got, m)
	}
	evs, err := readStream(t, c, s, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(revisions(evs)) != "[3 4]" {
		t.Fatalf("$maxCount 2: %v", revisions(evs))
	}

	m2 := esdb.StreamMetadata{}
	m2.SetTruncateBefore(1)
	if _, err := c.SetStreamMetadata(ctx(t), s, esdb.AppendToStreamOptions{}, m2); err != nil {
		t.Fatal(err)
	}
	evs, _ = readStream(t, c, s, esdb.ReadStreamOptions{}, 10)
	if fmt.Sprint(revisions(evs)) != "[1 2 3 4]" {
		t.Fatalf("$tb 1 (and $maxCount gone): %v", revisions(evs))
	}
	// The metastream keeps only its latest event.
	meta, err := readStream(t, c, "$$"+s, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta) != 1 || meta[0].OriginalEvent().EventNumber != 1 || meta[0].OriginalEvent().EventType != "$metadata" {
		t.Fatalf("metastream: %v", revisions(meta))
	}

	old := "age-" + uuid.NewString()
	if _, err := c.AppendToStream(ctx(t), old, esdb.AppendToStreamOptions{}, ev("Old", `{}`)); err != nil {
		t.Fatal(err)
	}
	ma := esdb.StreamMetadata{}
	ma.SetMaxAge(1 * time.Second)
	if _, err := c.SetStreamMetadata(ctx(t), old, esdb.AppendToStreamOptions{}, ma); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := c.AppendToStream(ctx(t), old, esdb.AppendToStreamOptions{}, ev("Young", `{}`)); err != nil {
		t.Fatal(err)
	}
	evs, err = readStream(t, c, old, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].OriginalEvent().EventType != "Young" {
		t.Fatalf("$maxAge hides old events: %v", revisions(evs))
	}
}

func TestServerVersion(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	v, err := c.GetServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.Major != 24 || v.Minor != 10 || v.Patch != 0 {
		t.Fatalf("version %+v", v)
	}
}

// A subscription on an empty store must idle, not spin, and still see the
// first event.
func TestSubscribeOnEmptyStore(t *testing.T) {
	srv := esdbtest.Start(t)
	c := esdbtest.Client(t, srv)
	sub, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if e := next(t, sub); e.CaughtUp == nil {
		t.Fatalf("want caught_up on an empty store, got %+v", e)
	}
	if _, err := c.AppendToStream(ctx(t), "first", esdb.AppendToStreamOptions{}, ev("T", `{}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, sub); e.EventAppeared == nil || e.EventAppeared.OriginalEvent().StreamID != "first" {
		t.Fatalf("first event: %+v", e)
	}
}

// Live subscriptions hold their streams for as long as they last. More of
// them than there are stream workers must not keep appends, reads or the
// subscriptions themselves from being served.
func TestMoreLiveSubscriptionsThanStreamWorkers(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	n := 3 * esdbserver.StreamWorkers
	subs := make([]*esdb.Subscription, n)
	for i := range subs {
		sub, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.End{}})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if e := next(t, sub); e.CaughtUp == nil {
			t.Fatalf("subscription %d: want caught_up first, got %+v", i, e)
		}
		subs[i] = sub
	}
	r, err := c.AppendToStream(ctx(t), "busy-workers", esdb.AppendToStreamOptions{}, ev("Tick", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.ReadStream(ctx(t), "busy-workers", esdb.ReadStreamOptions{From: esdb.Start{}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := rs.Recv(); err != nil || e.OriginalEvent().EventType != "Tick" {
		t.Fatalf("read with %d live subscriptions: %v %v", n, e, err)
	}
	rs.Close()
	for i, sub := range subs {
		e := next(t, sub)
		if e.EventAppeared == nil || e.EventAppeared.OriginalEvent().Position.Commit != r.CommitPosition {
			t.Fatalf("subscription %d: want the append, got %+v", i, e)
		}
	}
}
