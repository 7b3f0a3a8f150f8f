package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

// keysAndBlobs counts what an erasure destroyed.
type keysAndBlobs struct{ keys, blobs int }

func (k *keysAndBlobs) Erase(context.Context, string) error         { k.keys++; return nil }
func (k *keysAndBlobs) DeleteBlob(context.Context, string) error    { k.blobs++; return nil }
func (k *keysAndBlobs) Known(context.Context, string) (bool, error) { return true, nil }

// OpenBlob finds no blob: these tests store none.
func (k *keysAndBlobs) OpenBlob(_ context.Context, sum string) (io.ReadCloser, readstore.BlobInfo, error) {
	return nil, readstore.BlobInfo{}, fmt.Errorf("blob %s: %w", sum, readstore.ErrNotFound)
}

// TestEraseBadBasisNamesNoApplication: an unknown basis is a 422 about the
// request (/basis), whose message does not name one of the applicant's
// applications as if that application were at fault, and nothing is
// destroyed. A refusal that is about an application still names it.
func TestEraseBadBasisNamesNoApplication(t *testing.T) {
	destroyed := &keysAndBlobs{}
	s, _ := newService(t, func(o *Options) { o.Keys, o.Blobs = destroyed, destroyed })
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N1234567"))
	if err != nil {
		t.Fatal(err)
	}
	admin := Request{Meta: events.Metadata{Actor: events.Actor{ID: "admin-1", Role: events.RoleAdmin}}}
	for _, basis := range []string{"x", ""} {
		_, err = s.EraseApplicant(ctx, admin, applicant.Actor.ID, basis, []string{res.ApplicationID})
		e, ok := cmderr.As(err)
		if !ok || e.Kind != cmderr.Validation || len(e.Fields) != 1 || e.Fields[0].Field != "/basis" {
			t.Fatalf("basis %q: %v, want a 422 on /basis", basis, err)
		}
		if want := cmderr.Invalid(nil).Message; e.Message != want {
			t.Errorf("basis %q: message %+v, want %+v", basis, e.Message, want)
		}
	}
	if *destroyed != (keysAndBlobs{}) {
		t.Fatalf("a refused erasure destroyed %+v", *destroyed)
	}
	// The application is still being processed: that refusal is about it.
	_, err = s.EraseApplicant(ctx, admin, applicant.Actor.ID, "subject_request", []string{res.ApplicationID})
	if e, ok := cmderr.As(err); !ok || e.Code != "erase_while_open" || !strings.Contains(e.Message.RU, res.ApplicationID) || !strings.Contains(e.Message.EN, res.ApplicationID) {
		t.Fatalf("open application: %v", err)
	}
}

// An empty list from a cabinet that lags behind is not taken for "scans
// only": the account's own reservations show the application, and the key
// stays.
func TestEraseWithAnEmptyListChecksTheAccount(t *testing.T) {
	destroyed := &keysAndBlobs{}
	s, _ := newService(t, func(o *Options) { o.Keys, o.Blobs = destroyed, destroyed })
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N7654321"))
	if err != nil {
		t.Fatal(err)
	}
	admin := Request{Meta: events.Metadata{Actor: events.Actor{ID: "admin-1", Role: events.RoleAdmin}}}
	_, err = s.EraseApplicant(ctx, admin, applicant.Actor.ID, "subject_request", nil)
	if e, ok := cmderr.As(err); !ok || e.Code != "applications_not_listed" || !strings.Contains(e.Message.EN, res.ApplicationID) {
		t.Fatalf("erasure with the application missing from the list: %v", err)
	}
	if *destroyed != (keysAndBlobs{}) {
		t.Fatalf("the refused erasure destroyed %+v", *destroyed)
	}
	// A list that names some applications but not all is refused alike.
	if _, err := s.Handle(ctx, Request{Meta: applicant}, res.ApplicationID, application.Withdraw{}); err != nil {
		t.Fatal(err)
	}
	second, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N7654322"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.EraseApplicant(ctx, admin, applicant.Actor.ID, "subject_request", []string{res.ApplicationID})
	if e, ok := cmderr.As(err); !ok || e.Code != "applications_not_listed" || !strings.Contains(e.Message.EN, second.ApplicationID) || strings.Contains(e.Message.EN, res.ApplicationID) {
		t.Fatalf("erasure with one of two applications listed: %v", err)
	}
	if *destroyed != (keysAndBlobs{}) {
		t.Fatalf("the refused erasure destroyed %+v", *destroyed)
	}
	// Someone with no account reservations at all: the key goes.
	out, err := s.EraseApplicant(ctx, admin, "scans-only", "subject_request", nil)
	if err != nil || !out.KeyDestroyed || destroyed.keys != 1 {
		t.Fatalf("scans-only erasure: %+v %v (destroyed %+v)", out, err, *destroyed)
	}
}

// A store that cannot list the applicant's uploads in time refuses the
// erasure (503) before anything is destroyed.
func TestEraseRefusedWhenTheUploadScanTimesOut(t *testing.T) {
	destroyed := &keysAndBlobs{}
	s, _ := newService(t, func(o *Options) {
		o.Keys, o.Blobs = destroyed, destroyed
		o.UploadScanTimeout = time.Nanosecond
	})
	admin := Request{Meta: events.Metadata{Actor: events.Actor{ID: "admin-1", Role: events.RoleAdmin}}}
	_, err := s.EraseApplicant(context.Background(), admin, "scans-only", "subject_request", nil)
	if e, ok := cmderr.As(err); !ok || e.Kind != cmderr.Unavailable || e.Code != "upload_scan_timeout" ||
		!strings.Contains(e.Message.RU, "OMS_ERASURE_SCAN_TIMEOUT") || !strings.Contains(e.Message.EN, "nothing was erased") {
		t.Fatalf("erasure with a scan past its time: %v, want 503 upload_scan_timeout", err)
	}
	if *destroyed != (keysAndBlobs{}) {
		t.Fatalf("the refused erasure destroyed %+v", *destroyed)
	}
}

// A repeated erasure lists the applications it covers, with the revision
// and position of their erasure, as the first did: an empty list read as
// "nothing of theirs was erased".
func TestRepeatedErasureListsItsApplications(t *testing.T) {
	keys := &keysAndBlobs{}
	s, _ := newService(t, func(o *Options) { o.Keys, o.Blobs = keys, keys })
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N7654323"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ctx, Request{Meta: applicant}, res.ApplicationID, application.Withdraw{}); err != nil {
		t.Fatal(err)
	}
	admin := Request{Meta: events.Metadata{Actor: events.Actor{ID: "admin-1", Role: events.RoleAdmin}}}
	first, err := s.EraseApplicant(ctx, admin, applicant.Actor.ID, "subject_request", []string{res.ApplicationID})
	if err != nil || len(first.Applications) != 1 {
		t.Fatalf("first erasure: %+v %v", first, err)
	}
	again, err := s.EraseApplicant(ctx, admin, applicant.Actor.ID, "subject_request", []string{res.ApplicationID})
	if err != nil || len(again.Applications) != 1 || again.Applications[0] != first.Applications[0] {
		t.Fatalf("repeated erasure: %+v %v, want the first's %+v", again, err, first.Applications)
	}
	if first.RecordedNow != 1 || again.RecordedNow != 0 {
		t.Fatalf("recorded now: first %d, repeat %d; want 1 and 0", first.RecordedNow, again.RecordedNow)
	}
}

// sealingService is a service whose events are sealed under keys in a real
// vault, so that erasing an applicant makes the store refuse their events.
func sealingService(t *testing.T) *Service {
	t.Helper()
	return sealingServiceWith(t, func(k Eraser) Eraser { return k })
}

// sealingServiceWith is sealingService with the erasure's keyring wrapped.
func sealingServiceWith(t *testing.T, wrap func(Eraser) Eraser) *Service {
	t.Helper()
	ctx := context.Background()
	vault, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vault.Close() })
	keys, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: make([]byte, 32), Vault: vault})
	if err != nil {
		t.Fatal(err)
	}
	sealer := piicrypt.NewSealer(keys, piicrypt.Personal{Sections: schema.PersonalSections, Clear: schema.PersonalClearKeys})
	st := esdbtest.Store(t, eventstore.Options{Sealer: sealer})
	s, err := New(Options{Store: st, Documents: uploads{}, Keys: wrap(keys), Blobs: vault, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A submission refused because its applicant was erased gives back the
// person and the account it reserved: held for the grace, they made a
// repeat erasure answer "applications not listed" about an application
// that never existed, and kept the person's next account out.
func TestRefusedSubmissionOfAnErasedApplicantFreesThePerson(t *testing.T) {
	s := sealingService(t)
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N7200001"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ctx, Request{Meta: applicant}, res.ApplicationID, application.Withdraw{}); err != nil {
		t.Fatal(err)
	}
	admin := Request{Meta: events.Metadata{Actor: events.Actor{ID: "admin-1", Role: events.RoleAdmin}}}
	if _, err := s.EraseApplicant(ctx, admin, applicant.Actor.ID, "subject_request", []string{res.ApplicationID}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Submit(ctx, Request{Meta: applicant}, validForm("N7200001"))
	if e, ok := cmderr.As(err); !ok || e.Code != "applicant_erased" {
		t.Fatalf("submission after the erasure: %v, want applicant_erased", err)
	}
	again, err := s.EraseApplicant(ctx, admin, applicant.Actor.ID, "subject_request", []string{res.ApplicationID})
	if err != nil || again.RecordedNow != 0 {
		t.Fatalf("repeat erasure: %+v %v", again, err)
	}
	// The same person under a new account, well within the grace.
	if _, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N7200001")); err != nil {
		t.Fatalf("the person's new account: %v", err)
	}
}

// slowBlobs holds blobs in memory and takes its time to open one, as a
// store under load does, which is when two erasures overlap.
type slowBlobs struct {
	mu      sync.Mutex
	present map[string]bool
}

func (b *slowBlobs) OpenBlob(_ context.Context, sum string) (io.ReadCloser, readstore.BlobInfo, error) {
	time.Sleep(5 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.present[sum] {
		return nil, readstore.BlobInfo{}, fmt.Errorf("blob %s: %w", sum, readstore.ErrNotFound)
	}
	return io.NopCloser(strings.NewReader("scan")), readstore.BlobInfo{SHA256: sum}, nil
}

func (b *slowBlobs) DeleteBlob(_ context.Context, sum string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.present, sum)
	return nil
}

// Erasures of one applicant sent at once (an administrator's double
// click) record the erasure once between them and count each scan once:
// each had answered recordedNow 1 and counted the scans it found present.
func TestConcurrentErasuresCountOnce(t *testing.T) {
	blobs := &slowBlobs{present: map[string]bool{"ab": true}} // uploads{} gives every scan the blob "ab"
	s, _ := newService(t, func(o *Options) { o.Keys, o.Blobs = &keysAndBlobs{}, blobs })
	ctx := context.Background()
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N7200002"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ctx, Request{Meta: applicant}, res.ApplicationID, application.Withdraw{}); err != nil {
		t.Fatal(err)
	}
	admin := Request{Meta: events.Metadata{Actor: events.Actor{ID: "admin-1", Role: events.RoleAdmin}}}
	const n = 3
	outs := make([]Erasure, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			outs[i], errs[i] = s.EraseApplicant(ctx, admin, applicant.Actor.ID, "subject_request", []string{res.ApplicationID})
		})
	}
	wg.Wait()
	recorded, deleted := 0, 0
	for i := range n {
		if errs[i] != nil || len(outs[i].Applications) != 1 {
			t.Fatalf("erasure %d: %+v %v", i, outs[i], errs[i])
		}
		recorded += outs[i].RecordedNow
		deleted += outs[i].ScansDeleted
	}
	if recorded != 1 || deleted != 1 {
		t.Fatalf("between them the erasures recorded %d and deleted %d scans; want 1 and 1: %+v", recorded, deleted, outs)
	}
}

// One applicant's erasure waits for another's of the same applicant only,
// and stops waiting when its context ends.
func TestErasureLocksAreByApplicant(t *testing.T) {
	var l keyedLocks
	ctx := context.Background()
	unlockA, err := l.lock(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	unlockB, err := l.lock(ctx, "bob") // not behind alice's
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(short, "alice"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second alice: %v, want to wait until its context ended", err)
	}
	unlockA()
	unlockB()
	again, err := l.lock(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	again()
	if len(l.m) != 0 {
		t.Fatalf("%d locks kept after everyone left", len(l.m))
	}
}

// beforeErase runs a hook between an erasure's checks and the
// destruction of the key.
type beforeErase struct {
	Eraser
	hook func()
}

func (b beforeErase) Erase(ctx context.Context, subject string) error {
	b.hook()
	return b.Eraser.Erase(ctx, subject)
}

// A command of the applicant's sent while their erasure runs waits for it
// and is then refused: run between the erasure's checks and the key's
// destruction, a new application (or a renewal signing the consent anew)
// was written, then made unreadable by an erasure that had not counted it
// and recorded nothing for it.
func TestCommandsWaitForAnErasureInProgress(t *testing.T) {
	ctx := context.Background()
	var (
		late    Result
		lateErr error
		lateRan = make(chan struct{})
	)
	var s *Service
	s = sealingServiceWith(t, func(k Eraser) Eraser {
		return beforeErase{Eraser: k, hook: func() {
			go func() {
				defer close(lateRan)
				late, lateErr = s.Submit(ctx, Request{Meta: applicant}, validForm("N7200004"))
			}()
			// Long enough for the submission to land, had it not waited.
			select {
			case <-lateRan:
			case <-time.After(time.Second):
			}
		}}
	})
	res, err := s.Submit(ctx, Request{Meta: applicant}, validForm("N7200003"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ctx, Request{Meta: applicant}, res.ApplicationID, application.WithdrawConsent{}); err != nil {
		t.Fatal(err)
	}
	admin := Request{Meta: events.Metadata{Actor: events.Actor{ID: "admin-1", Role: events.RoleAdmin}}}
	out, err := s.EraseApplicant(ctx, admin, applicant.Actor.ID, schema.EraseConsentWithdrawn, []string{res.ApplicationID})
	if err != nil || out.RecordedNow != 1 {
		t.Fatalf("erasure: %+v %v", out, err)
	}
	<-lateRan
	if e, ok := cmderr.As(lateErr); !ok || e.Code != "applicant_erased" {
		t.Fatalf("a submission sent during the erasure: %+v %v; want it to wait and be refused as applicant_erased", late, lateErr)
	}
}

// Sharers of a key hold it together; one lock holds it alone, and is
// waited for by sharers that come after it.
func TestSharedAndExclusiveLocks(t *testing.T) {
	var l keyedLocks
	ctx := context.Background()
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	a, err := l.share(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.share(short(), "alice")
	if err != nil {
		t.Fatalf("a second sharer: %v", err)
	}
	if _, err := l.lock(short(), "alice"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a lock while shared: %v, want to wait", err)
	}
	a()
	b()
	unlock, err := l.lock(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.share(short(), "alice"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a sharer while locked: %v, want to wait", err)
	}
	if c, err := l.share(short(), "bob"); err != nil {
		t.Fatalf("another key: %v", err)
	} else {
		c()
	}
	unlock()
	if len(l.m) != 0 {
		t.Fatalf("locks left after everyone let go: %v", l.m)
	}
}
