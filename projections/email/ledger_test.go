package email

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/cabinet"
)

type fakeSender struct {
	mu   sync.Mutex
	sent []string
	err  error
}

func (f *fakeSender) Send(_ context.Context, _, to string, _ []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, to)
	return nil
}

func newTestMailer(t *testing.T, now *time.Time) (*Mailer, *fakeSender) {
	store := esdbtest.Store(t, eventstore.Options{Now: func() time.Time { return *now }})
	s := &fakeSender{}
	m := &Mailer{o: Options{Events: store, Sender: s, From: "ОМС <noreply@oms.example>", Lease: time.Minute, MaxAttempts: 3,
		Now: func() time.Time { return *now }}, instance: "test", log: slog.New(slog.DiscardHandler)}
	return m, s
}

func note(id string) cabinet.Notification {
	return cabinet.Notification{ID: id, Kind: "InfoRequested", ApplicationID: "app-1",
		Title: cabinet.Text{RU: "Нужны сведения", EN: "Info needed"}, Body: cabinet.Text{RU: "Ответьте", EN: "Answer"}}
}

// TestLedgerCrashWindows replays the crash windows the package comment
// describes, by writing the ledger a crashed sender would have left.
func TestLedgerCrashWindows(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m, s := newTestMailer(t, &now)
	ctx := context.Background()
	n := note("0b9f0d7e-1111-4c1a-8d1e-000000000001")

	// Delivered once; a redelivery sends nothing.
	if err := m.deliver(ctx, n, "a@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := m.deliver(ctx, n, "a@example.org"); err != nil || len(s.sent) != 1 {
		t.Fatalf("redelivery sent again: %d %v", len(s.sent), err)
	}

	// A claim left by a crashed sender is respected for the lease...
	n2 := note("0b9f0d7e-1111-4c1a-8d1e-000000000002")
	if _, err := m.append(ctx, n2.ID, eventstore.NoStream, TypeEmailSending, EmailSending{NotificationID: n2.ID, Attempt: 1, Instance: "crashed"}); err != nil {
		t.Fatal(err)
	}
	if err := m.deliver(ctx, n2, "b@example.org"); !errors.Is(err, errLeased) || len(s.sent) != 1 {
		t.Fatalf("a fresh claim of another sender was not respected: %v, %d sent", err, len(s.sent))
	}
	// ...and taken over after it: sent exactly once more.
	now = now.Add(2 * time.Minute)
	if err := m.deliver(ctx, n2, "b@example.org"); err != nil || len(s.sent) != 2 {
		t.Fatalf("stale claim not taken over: %v, %d sent", err, len(s.sent))
	}
	if err := m.deliver(ctx, n2, "b@example.org"); err != nil || len(s.sent) != 2 {
		t.Fatalf("sent again after the takeover: %v, %d sent", err, len(s.sent))
	}

	// A failing server is retried (the claim is released), a 5xx ends it.
	n3 := note("0b9f0d7e-1111-4c1a-8d1e-000000000003")
	s.err = errors.New("connection refused")
	if err := m.deliver(ctx, n3, "c@example.org"); err == nil {
		t.Fatal("a transient failure must be retried")
	}
	s.err = nil
	if err := m.deliver(ctx, n3, "c@example.org"); err != nil || len(s.sent) != 3 {
		t.Fatalf("retry after a transient failure: %v, %d sent", err, len(s.sent))
	}
	n4 := note("0b9f0d7e-1111-4c1a-8d1e-000000000004")
	s.err = &PermanentError{Err: errors.New("550 no such mailbox")}
	if err := m.deliver(ctx, n4, "d@example.org"); err != nil {
		t.Fatalf("a permanent failure is final, not retried: %v", err)
	}
	s.err = nil
	if err := m.deliver(ctx, n4, "d@example.org"); err != nil || len(s.sent) != 3 {
		t.Fatalf("sent after a permanent failure: %v, %d sent", err, len(s.sent))
	}
}

func TestComposeHeaders(t *testing.T) {
	raw, err := Compose(Letter{NotificationID: "n-1", From: "ОМС <noreply@oms.example>", To: "a@example.org",
		TitleRU: "Полис оформлен", TitleEN: "Policy issued", BodyRU: "Текст", BodyEN: "Text", Date: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Message-ID: <notification-n-1@oms.example>", "Content-Type: text/plain; charset=utf-8", "Auto-Submitted: auto-generated"} {
		if !contains(raw, want) {
			t.Errorf("missing %q in\n%s", want, raw)
		}
	}
	if _, err := Compose(Letter{NotificationID: "n", From: "x@y", To: "a@b\r\nBcc: evil@x"}); err == nil {
		t.Fatal("a header injection in the address was accepted")
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
