package sweeper_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/command/sweeper"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/events/testclock"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

// fixture is a document service and two sweeping nodes on real stores.
// attached stands for the history projection's scan index: the test
// attaches a scan as a submission's read model would.
type fixture struct {
	events   *eventstore.Store
	blobs    *sqlitestore.Store
	docs     *document.Service
	clk      *testclock.Clock
	mu       sync.Mutex
	attached map[string]bool
	lookups  int
	waited   []uint64
	a, b     *sweeper.Sweeper
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{events: esdbtest.Store(t, eventstore.Options{}), clk: testclock.New(time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)), attached: map[string]bool{}}
	var err error
	if f.blobs, err = sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.blobs.Close() })
	keys, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: make([]byte, 32), Vault: f.blobs})
	if err != nil {
		t.Fatal(err)
	}
	if f.docs, err = document.New(document.Options{Store: f.events, Blobs: f.blobs, Keys: keys, Now: f.clk.Now}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []**sweeper.Sweeper{&f.a, &f.b} {
		sw, err := sweeper.New(sweeper.Options{
			Store: f.events, DeleteBlob: f.blobs.DeleteBlob, Now: f.clk.Now, Index: "history",
			Attached: func(_ context.Context, id string) (bool, error) {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.lookups++
				return f.attached[id], nil
			},
			WaitHistory: func(_ context.Context, pos uint64) error {
				f.mu.Lock()
				f.waited = append(f.waited, pos)
				f.mu.Unlock()
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		*s = sw
	}
	return f
}

func (f *fixture) upload(t *testing.T, owner string) document.Scan {
	t.Helper()
	md := events.Metadata{Actor: events.Actor{ID: owner, Role: events.RoleApplicant}}
	sc, err := f.docs.Upload(context.Background(), md, schema.DocumentPassport, strings.NewReader("%PDF-1.7\n% "+owner+"\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func (f *fixture) attach(id string) {
	f.mu.Lock()
	f.attached[id] = true
	f.mu.Unlock()
}

func (f *fixture) sweep(t *testing.T, s *sweeper.Sweeper) sweeper.Result {
	t.Helper()
	res, err := s.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// usable says whether a submission would take the scan.
func (f *fixture) usable(t *testing.T, id string) bool {
	t.Helper()
	_, ok, err := f.docs.Lookup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (f *fixture) blobExists(t *testing.T, sum string) bool {
	t.Helper()
	rc, _, err := f.blobs.OpenBlob(context.Background(), sum)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	return true
}

func TestUnattachedScansGoAfterTheRetentionAttachedOnesStay(t *testing.T) {
	f := newFixture(t)
	given := f.upload(t, "alice")     // attached to an application
	forgotten := f.upload(t, "alice") // uploaded and given up on
	late := f.upload(t, "bob")        // attached while it was being marked
	f.attach(given.DocumentID)
	f.clk.Advance(10 * 24 * time.Hour)
	young := f.upload(t, "carol") // too young to touch at the first sweep

	// Nothing is old enough yet.
	if res := f.sweep(t, f.a); res != (sweeper.Result{}) {
		t.Fatalf("a sweep before the retention: %+v", res)
	}
	// Remembered by the node that took the uploads: the sweep must win
	// over that memory.
	for _, sc := range []document.Scan{given, forgotten, late, young} {
		if !f.usable(t, sc.DocumentID) {
			t.Fatalf("%s not usable before any sweep", sc.DocumentID)
		}
	}

	f.clk.Advance(document.UnattachedRetention - 10*24*time.Hour + time.Minute)
	if res := f.sweep(t, f.a); res.Marked != 2 || res.Discarded != 0 {
		t.Fatalf("the first sweep past the retention: %+v, want the two unattached scans marked", res)
	}
	// Marked: no new submission takes them, though their bytes are there.
	if f.usable(t, forgotten.DocumentID) || f.usable(t, late.DocumentID) || !f.usable(t, given.DocumentID) || !f.usable(t, young.DocumentID) {
		t.Fatal("after the marks, a marked scan is usable or an unmarked one is not")
	}
	if !f.blobExists(t, forgotten.SHA256) {
		t.Fatal("a mark deleted the bytes before the grace")
	}
	// A submission begun before the mark attaches one of them.
	f.attach(late.DocumentID)
	// Within the grace nothing is settled, on either node.
	if res := f.sweep(t, f.b); res != (sweeper.Result{}) {
		t.Fatalf("a sweep within the grace: %+v", res)
	}

	f.clk.Advance(sweeper.DefaultGrace)
	res := f.sweep(t, f.b)
	if res.Discarded != 1 || res.Kept != 1 {
		t.Fatalf("the sweep after the grace: %+v, want one discarded and one kept", res)
	}
	if f.blobExists(t, forgotten.SHA256) || f.usable(t, forgotten.DocumentID) {
		t.Fatal("the forgotten scan outlived its settlement")
	}
	if !f.blobExists(t, late.SHA256) || !f.usable(t, late.DocumentID) || !f.blobExists(t, given.SHA256) || !f.blobExists(t, young.SHA256) {
		t.Fatal("a kept, attached or young scan lost its bytes")
	}
	// The history read model was waited for up to the log's end before
	// "unattached" was believed.
	head, err := f.events.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.waited) == 0 || f.waited[len(f.waited)-1] == 0 || f.waited[len(f.waited)-1] > head {
		t.Fatalf("waited for history at %v (head %d)", f.waited, head)
	}

	// The other node, and later sweeps, find nothing more to do: the
	// progress is shared, and every step is once.
	for _, s := range []*sweeper.Sweeper{f.a, f.b, f.a} {
		if res := f.sweep(t, s); res != (sweeper.Result{}) {
			t.Fatalf("a repeated sweep: %+v", res)
		}
	}
	// The young scan's turn comes in its own time.
	f.clk.Advance(10 * 24 * time.Hour)
	if res := f.sweep(t, f.b); res.Marked != 1 {
		t.Fatalf("the young scan's sweep: %+v", res)
	}
	f.clk.Advance(sweeper.DefaultGrace)
	if res := f.sweep(t, f.a); res.Discarded != 1 || f.blobExists(t, young.SHA256) {
		t.Fatalf("the young scan's settlement: %+v", res)
	}
	// The scan's stream tells what happened, for the audit.
	recs, err := f.events.Load(context.Background(), schema.DocumentStream(forgotten.DocumentID))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range recs {
		types = append(types, r.Envelope.Type)
	}
	if strings.Join(types, ",") != "DocumentUploaded,DocumentDiscarding,DocumentDiscarded" {
		t.Fatalf("the forgotten scan's stream: %v", types)
	}
}

// Two nodes sweeping at once mark and settle each scan once.
func TestConcurrentSweepsActOnce(t *testing.T) {
	f := newFixture(t)
	const n = 6
	for i := range n {
		f.upload(t, "p"+string(rune('a'+i)))
	}
	f.clk.Advance(document.UnattachedRetention + time.Minute)
	var wg sync.WaitGroup
	results := make([]sweeper.Result, 2)
	sweepBoth := func() {
		for i, s := range []*sweeper.Sweeper{f.a, f.b} {
			wg.Go(func() {
				res, err := s.Sweep(context.Background())
				if err != nil {
					t.Error(err)
				}
				results[i] = res
			})
		}
		wg.Wait()
	}
	sweepBoth()
	if got := results[0].Marked + results[1].Marked; got != n {
		t.Fatalf("%d marks by two nodes (%+v), want %d", got, results, n)
	}
	f.clk.Advance(sweeper.DefaultGrace)
	sweepBoth()
	if got := results[0].Discarded + results[1].Discarded; got != n {
		t.Fatalf("%d settlements by two nodes (%+v), want %d", got, results, n)
	}
}

// A sweep that looked at uploads records how far it read, even when all
// of them were attached: the next one does not look at them again (QA:
// each hourly sweep re-read a day of attached uploads).
func TestQuietSweepsDoNotLookAgain(t *testing.T) {
	f := newFixture(t)
	const n = 5
	for i := range n {
		f.attach(f.upload(t, "p"+string(rune('a'+i))).DocumentID)
	}
	f.sweep(t, f.a) // the first record of progress
	// Recorded again an hour before the uploads come of age (a day since
	// the last record): the one that looks at them is within the day.
	f.clk.Advance(document.UnattachedRetention - time.Hour)
	if res := f.sweep(t, f.a); res != (sweeper.Result{}) || f.lookups != 0 {
		t.Fatalf("a sweep before the retention: %+v, %d look-ups", res, f.lookups)
	}
	f.clk.Advance(time.Hour + time.Minute)
	if res := f.sweep(t, f.a); res != (sweeper.Result{}) || f.lookups != n {
		t.Fatalf("the sweep past the retention: %+v with %d look-ups, want none marked and %d look-ups", res, f.lookups, n)
	}
	for _, s := range []*sweeper.Sweeper{f.b, f.a} {
		f.clk.Advance(sweeper.DefaultInterval)
		f.sweep(t, s)
	}
	if f.lookups != n {
		t.Fatalf("%d look-ups after two more sweeps, want still %d", f.lookups, n)
	}
}

// A sweep marks at most MaxPerSweep scans; the next goes on from there.
func TestASweepIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads MaxPerSweep+1 scans")
	}
	f := newFixture(t)
	for range sweeper.MaxPerSweep + 1 {
		f.upload(t, "many")
	}
	f.clk.Advance(document.UnattachedRetention + time.Minute)
	if res := f.sweep(t, f.a); res.Marked != sweeper.MaxPerSweep {
		t.Fatalf("the first sweep marked %d, want %d", res.Marked, sweeper.MaxPerSweep)
	}
	if res := f.sweep(t, f.b); res.Marked != 1 {
		t.Fatalf("the second sweep marked %d, want the one left", res.Marked)
	}
}
