// Package email sends the applicant's inbox notifications by e-mail. A
// watermill handler follows the application events on $all; for each event
// that put a notification in the cabinet's inbox it sends that same
// notification (same id, same texts) to the e-mail address in the
// application, with retries.
//
// # Exactly once
//
// Every notification has a ledger stream "email-<notificationId>" in the
// event store. The handler
//
//  1. claims the notification by appending EmailSending to the ledger with
//     an expected revision (NoStream for the first attempt), so of two omsd
//     nodes only one sends;
//  2. sends the message, whose Message-ID is derived from the notification
//     id;
//  3. appends EmailSent (or EmailFailed) at the claim's revision;
//  4. only then acknowledges the message and advances its checkpoint.
//
// A redelivered event (a restart, a retry, a second node) reads the ledger
// first and does nothing once EmailSent is there. The crash windows:
//
//   - before the claim: nothing was sent or recorded; the event is
//     redelivered and sent once;
//   - after the claim, before the server accepted the message: the claim
//     goes stale after Lease and the next attempt sends it, once;
//   - after the server accepted it, before EmailSent is durable: the next
//     attempt sends it again, with the same Message-ID. This window is a
//     single event-store append long, and mail systems that deduplicate by
//     Message-ID drop the copy;
//   - after EmailSent: nothing is sent again.
//
// The alternative, recording "sent" before sending, has no duplicate but
// loses the letter in the second window, silently. A lost "more
// information is needed" costs an applicant their deadline; a recognisable
// duplicate costs nothing, so this package chooses at-least-once in that one
// window and exactly once everywhere else. A clean restart (Close waits for
// the handler) never sends twice.
//
// # Parked events
//
// A letter is made from the cabinet's notice and the application's
// address. When the cabinet or the history parked the event (or an
// earlier one of its stream), one of them is missing: the event is held,
// that is skipped with a warning, so that the letters behind it still go.
// The projection's replay of the parked event appends a marker to the
// parked stream, which the mailer follows too, and mails the notice then.
package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
)

// Ledger event types.
const (
	TypeEmailSending = "EmailSending"
	TypeEmailSent    = "EmailSent"
	TypeEmailFailed  = "EmailFailed"
)

// LedgerStream is the stream that records a notification's e-mail.
func LedgerStream(notificationID string) string { return "email-" + notificationID }

// checkpointName is the mailer's checkpoint in the read-model store.
const checkpointName = "mailer"

// EmailSending claims a notification for sending.
type EmailSending struct {
	NotificationID string    `json:"notificationId"`
	ApplicationID  string    `json:"applicationId"`
	MessageID      string    `json:"messageId"`
	Attempt        int       `json:"attempt"`
	Instance       string    `json:"instance"`
	At             time.Time `json:"at"`
}

// EmailSent records that the SMTP server accepted the message.
type EmailSent struct {
	NotificationID string    `json:"notificationId"`
	MessageID      string    `json:"messageId"`
	Attempt        int       `json:"attempt"`
	At             time.Time `json:"at"`
}

// EmailFailed records a failed attempt; a permanent one ends the tries.
type EmailFailed struct {
	NotificationID string    `json:"notificationId"`
	Attempt        int       `json:"attempt"`
	Permanent      bool      `json:"permanent"`
	Error          string    `json:"error"`
	At             time.Time `json:"at"`
}

// Waiter waits until a projection has caught up with a position.
type Waiter interface {
	WaitFor(ctx context.Context, projection string, pos uint64) error
}

// Options configure a Mailer.
type Options struct {
	Events *eventstore.Store
	Store  readstore.Store
	Waiter Waiter
	Sender Sender
	// From is the sender address, e.g. "ОМС онлайн <noreply@oms.example>".
	From string
	// CabinetURL is linked from every letter.
	CabinetURL string
	Logger     *slog.Logger
	// Retries are the immediate retries of one delivery (backing off);
	// after them the event is redelivered and tried again.
	Retries int
	// MaxAttempts ends the tries of one notification for good.
	MaxAttempts int
	// Lease is how long a claim by another attempt is respected before it
	// is taken over as the claim of a crashed sender.
	Lease time.Duration
	// MaxAge skips notifications older than this, so turning e-mail on
	// for an existing service does not mail its whole history.
	MaxAge time.Duration
	// MaxReplayAge skips a notice whose event is older than this when a
	// replay of the parked event brings it back (default 7 days): by then
	// the application has moved on, and the cabinet shows it anyway.
	MaxReplayAge time.Duration
	Now          func() time.Time
}

// Mailer is the running e-mail handler.
type Mailer struct {
	o        Options
	router   *message.Router
	sub      *eventstore.Subscriber
	instance string
	log      *slog.Logger

	// parked are the cabinet's and the history's parked messages read so
	// far whose marker is not handled yet, by event id; parkedNext is the
	// parked stream's revision to read from next. Each message is read
	// once, however many markers a replay or a rebuild appends.
	parkedMu   sync.Mutex
	parked     map[string]eventstore.Parked
	parkedNext uint64
}

// New prepares a Mailer; Run starts it.
func New(o Options) (*Mailer, error) {
	if o.Events == nil || o.Store == nil || o.Waiter == nil || o.Sender == nil {
		return nil, errors.New("email: Events, Store, Waiter and Sender are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retries <= 0 {
		o.Retries = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 20
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.MaxReplayAge <= 0 {
		o.MaxReplayAge = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.From == "" {
		o.From = "ОМС онлайн <noreply@oms.local>"
	}
	m := &Mailer{o: o, instance: uuid.NewString(), log: o.Logger.With("component", "email"), parked: map[string]eventstore.Parked{}}
	m.sub = eventstore.NewSubscriber(o.Events, eventstore.SubscriberOptions{
		StartFrom: func(ctx context.Context, _ string) (uint64, bool, error) {
			cp, err := o.Store.LoadCheckpoint(ctx, checkpointName)
			if errors.Is(err, readstore.ErrNotFound) {
				return 0, false, nil
			}
			if err != nil {
				return 0, false, err
			}
			return cp.Position, cp.Position > 0, nil
		},
		// The parked stream's replay markers bring back the notices of
		// events the cabinet or the history could not apply at first.
		StreamPrefixes: []string{"application-", "visit-", eventstore.ParkedStream},
		NackDelay:      time.Second,
		Logger:         o.Logger,
	})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 15 * time.Second}, watermill.NewSlogLogger(o.Logger))
	if err != nil {
		return nil, fmt.Errorf("email: router: %w", err)
	}
	router.AddMiddleware(middleware.Retry{
		MaxRetries: o.Retries, InitialInterval: 200 * time.Millisecond, MaxInterval: 10 * time.Second, Multiplier: 2,
		Logger: watermill.NewSlogLogger(o.Logger),
	}.Middleware, middleware.Recoverer)
	router.AddConsumerHandler("email", checkpointName, m.sub, m.handle)
	m.router = router
	return m, nil
}

// Run runs until ctx ends or Close.
func (m *Mailer) Run(ctx context.Context) error { return m.router.Run(ctx) }

// Running is closed once the handler runs.
func (m *Mailer) Running() chan struct{} { return m.router.Running() }

// Close stops the handler, waiting for a delivery in flight to finish.
func (m *Mailer) Close() error {
	err := m.router.Close()
	return errors.Join(err, m.sub.Close())
}

func (m *Mailer) handle(msg *message.Message) error {
	ev, err := eventstore.FromMessage(msg)
	if err != nil {
		return err
	}
	ctx := msg.Context()
	if err := m.process(ctx, ev); err != nil {
		return err
	}
	// The checkpoint only saves re-reading: the ledger is what prevents a
	// second send, so it may lag or be lost.
	if err := m.o.Store.Flush(ctx, nil, readstore.Checkpoint{Projection: checkpointName, Position: ev.Position, Generation: 1}); err != nil {
		m.log.Warn("email: checkpoint not saved", "err", err)
	}
	return nil
}

func (m *Mailer) process(ctx context.Context, ev eventstore.Recorded) error {
	if ev.Stream == eventstore.ParkedStream {
		return m.replayed(ctx, ev)
	}
	return m.mail(ctx, ev, ev.Envelope.OccurredAt)
}

// replayed mails the notice of a parked event that a projection the
// letter is made from has now applied. When the event first came by, the
// notice or the address was missing and the mailer held it (see mail);
// the ledger keeps a notice mailed already from going out twice.
func (m *Mailer) replayed(ctx context.Context, marker eventstore.Recorded) error {
	if marker.Envelope.Type != eventstore.TypeParkedReplayed {
		return nil
	}
	var r eventstore.ParkedReplayed
	if err := json.Unmarshal(marker.Data, &r); err != nil {
		m.log.Error("email: unreadable replay marker", "stream", marker.Stream, "revision", marker.Revision, "err", err)
		return nil
	}
	p, ok, err := m.findParked(ctx, marker, r.ParkedEventID)
	if err != nil || !ok {
		return err // not ok: another projection's, or a second marker
	}
	if err := m.mailParked(ctx, marker, p); err != nil {
		return err // retried, the message still known
	}
	m.parkedMu.Lock()
	delete(m.parked, p.EventID)
	m.parkedMu.Unlock()
	return nil
}

// mailParked mails the notice of parked message p brought back by marker.
func (m *Mailer) mailParked(ctx context.Context, marker eventstore.Recorded, p eventstore.Parked) error {
	msg, err := m.o.Events.ToMessage(ctx, p)
	if err != nil {
		return fmt.Errorf("email: parked event %s: %w", p.EventID, err)
	}
	ev, err := eventstore.FromMessage(msg)
	if err != nil {
		return fmt.Errorf("email: parked event %s: %w", p.EventID, err)
	}
	if m.o.Now().Sub(ev.Envelope.OccurredAt) > m.o.MaxReplayAge {
		m.log.Info("email: a parked event brought back too late to mail", "stream", ev.Stream, "revision", ev.Revision)
		return nil
	}
	// MaxAge counts from the replay: it is there to keep a mailer turned
	// on late from mailing the past, and a notice held back by a fault is
	// news to its applicant when the fault is mended.
	return m.mail(ctx, ev, marker.Envelope.OccurredAt)
}

// findParked finds the cabinet's or the history's parked message id,
// brought back by marker, reading the parked stream on from where it last
// stopped. It keeps what it reads until the message's marker is handled
// (mailParked succeeded), and drops a message whose marker it has passed
// already: after a restart, reading from the start, it meets every
// message ever parked.
func (m *Mailer) findParked(ctx context.Context, marker eventstore.Recorded, id string) (eventstore.Parked, bool, error) {
	m.parkedMu.Lock()
	defer m.parkedMu.Unlock()
	if _, ok := m.parked[id]; !ok {
		ps, markers, next, err := m.o.Events.ParkedFrom(ctx, marker.Stream, m.parkedNext)
		if err != nil {
			return eventstore.Parked{}, false, fmt.Errorf("email: read %s: %w", marker.Stream, err)
		}
		for _, p := range ps {
			if h := p.Handler(); h == "cabinet" || h == "history" {
				m.parked[p.EventID] = p
			}
		}
		for _, mk := range markers {
			if mk.Position < marker.Position {
				delete(m.parked, mk.ParkedEventID)
			}
		}
		m.parkedNext = next
	}
	p, ok := m.parked[id]
	return p, ok, nil
}

// mail sends the notice ev put in its applicant's inbox, if any. at is
// when the notice became news, for MaxAge.
//
// A projection that could not apply ev (or an earlier event of its
// stream) parked it and went on, so the notice or the address may not be
// there. Such an event is held: skipped, with a log line, since retrying
// it would stop every letter behind it until someone replays the parked
// event, and that replay's marker brings it back here (see replayed).
func (m *Mailer) mail(ctx context.Context, ev eventstore.Recorded, at time.Time) error {
	appID, ok := strings.CutPrefix(ev.Stream, "application-")
	applicant, visit := strings.CutPrefix(ev.Stream, "visit-")
	if !ok && !(visit && ev.Envelope.Type == schema.TypeVisitOpened) {
		return nil
	}
	if m.o.Now().Sub(at) > m.o.MaxAge {
		return nil
	}
	// The inbox and the application view must include this event before
	// they can say what the notification is and where it goes.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, p := range []string{"cabinet", "history"} {
		if err := m.o.Waiter.WaitFor(wctx, p, ev.Position); err != nil {
			return fmt.Errorf("email: waiting for %s: %w", p, err)
		}
	}
	var v appview.View
	if !visit {
		if found, err := m.getJSON(ctx, history.Applications, appID, &v); err != nil || !found {
			return m.held(ev, "history", err)
		}
		applicant = v.ApplicantID
	}
	var doc cabinet.Doc
	if found, err := m.getJSON(ctx, cabinet.Collection, applicant, &doc); err != nil || !found {
		return m.held(ev, "cabinet", err)
	}
	var note *cabinet.Notification
	for i := range doc.Inbox {
		if doc.Inbox[i].ID == ev.Envelope.EventID {
			note = &doc.Inbox[i]
		}
	}
	if note == nil {
		// A visit's opening always notifies; an application's event
		// notifies nobody if the cabinet has the application at its
		// revision or later and no notice of it.
		if visit || !cabinetHas(doc, appID, ev.Revision) {
			return m.held(ev, "cabinet", nil)
		}
		return nil
	}
	if visit {
		// A visit is the person's, not an application's: it goes to the
		// address of their newest application, if they have one. One the
		// history parked has no address there yet; the replay brings back
		// the application's event, not this one, so the next newest
		// serves.
		apps := slices.Clone(doc.Applications)
		slices.SortStableFunc(apps, func(a, b cabinet.Application) int { return b.SubmittedAt.Compare(a.SubmittedAt) })
		found := false
		for _, a := range apps {
			var err error
			if found, err = m.getJSON(ctx, history.Applications, a.ApplicationID, &v); err != nil {
				return err
			}
			if found {
				break
			}
		}
		if !found {
			m.log.Info("email: no address for a notification", "notification", note.ID)
			return nil
		}
	}
	to := v.Form.Contacts.Email
	if v.Erased != nil {
		// The address went with the rest of the personal data.
		m.log.Info("email: the applicant's data are erased; nothing to send to", "notification", note.ID)
		return nil
	}
	if to == "" {
		m.log.Info("email: no address for a notification", "notification", note.ID)
		return nil
	}
	return m.deliver(ctx, *note, to)
}

// held skips an event whose notice or address a projection does not have
// yet (see mail); an error reading them is retried instead.
func (m *Mailer) held(ev eventstore.Recorded, projection string, err error) error {
	if err != nil {
		return err
	}
	m.log.Warn("email: held until the projection's parked event is replayed", "projection", projection,
		"stream", ev.Stream, "revision", ev.Revision, "event", ev.Envelope.EventID)
	return nil
}

// cabinetHas says whether the cabinet has applied an application's event
// of revision rev (or a later one).
func cabinetHas(doc cabinet.Doc, appID string, rev uint64) bool {
	for _, a := range doc.Applications {
		if a.ApplicationID == appID {
			return a.Revision >= rev
		}
	}
	return false
}

// getJSON reads a document; found is false if there is none.
func (m *Mailer) getJSON(ctx context.Context, coll, id string, v any) (found bool, err error) {
	d, err := m.o.Store.Get(ctx, coll, id)
	if errors.Is(err, readstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("email: read %s/%s: %w", coll, id, err)
	}
	if err := json.Unmarshal(d.Body, v); err != nil {
		return false, fmt.Errorf("email: decode %s/%s: %w", coll, id, err)
	}
	return true, nil
}

// ledgerState is what the ledger says about a notification.
type ledgerState struct {
	exists   bool
	last     eventstore.Recorded
	attempts int
	done     bool
}

func (m *Mailer) readLedger(ctx context.Context, id string) (ledgerState, error) {
	recs, err := m.o.Events.Load(ctx, LedgerStream(id))
	if err != nil {
		return ledgerState{}, err
	}
	var st ledgerState
	for _, r := range recs {
		st.exists, st.last = true, r
		switch r.Envelope.Type {
		case TypeEmailSending:
			st.attempts++
		case TypeEmailSent:
			st.done = true
		case TypeEmailFailed:
			var f EmailFailed
			if json.Unmarshal(r.Data, &f) == nil && f.Permanent {
				st.done = true
			}
		}
	}
	return st, nil
}

var errLeased = errors.New("email: another attempt holds the claim; trying later")

var system = events.Metadata{Actor: events.Actor{ID: "mailer", Role: events.RoleSystem}}

func (m *Mailer) append(ctx context.Context, id string, exp eventstore.Expected, typ string, data any) (uint64, error) {
	res, err := m.o.Events.Append(ctx, LedgerStream(id), exp, system, eventstore.NewEvent{Type: typ, Data: data})
	return res.Revision, err
}

func (m *Mailer) deliver(ctx context.Context, n cabinet.Notification, to string) error {
	st, err := m.readLedger(ctx, n.ID)
	if err != nil {
		return err
	}
	if st.done {
		return nil
	}
	now := m.o.Now().UTC()
	exp := eventstore.NoStream
	if st.exists {
		exp = eventstore.AtRevision(st.last.Revision)
		if st.last.Envelope.Type == TypeEmailSending && now.Sub(st.last.Envelope.OccurredAt) < m.o.Lease {
			return errLeased
		}
	}
	attempt := st.attempts + 1
	msgID := MessageID(n.ID, m.o.From)
	if attempt > m.o.MaxAttempts {
		_, err := m.append(ctx, n.ID, exp, TypeEmailFailed, EmailFailed{NotificationID: n.ID, Attempt: attempt, Permanent: true, Error: "too many attempts", At: now})
		m.log.Error("email: giving up on a notification", "notification", n.ID, "attempts", st.attempts)
		return err
	}
	claimRev, err := m.append(ctx, n.ID, exp, TypeEmailSending, EmailSending{NotificationID: n.ID, ApplicationID: n.ApplicationID, MessageID: msgID, Attempt: attempt, Instance: m.instance, At: now})
	if errors.Is(err, eventstore.ErrConflict) {
		return errLeased // someone else moved first; look again on the retry
	}
	if err != nil {
		return fmt.Errorf("email: claim %s: %w", n.ID, err)
	}
	raw, err := Compose(Letter{NotificationID: n.ID, From: m.o.From, To: to, TitleRU: n.Title.RU, TitleEN: n.Title.EN,
		BodyRU: n.Body.RU, BodyEN: n.Body.EN, Link: m.o.CabinetURL, Date: now})
	if err == nil {
		err = m.o.Sender.Send(ctx, addressOf(m.o.From), to, raw)
	}
	if err != nil {
		var perm *PermanentError
		permanent := errors.As(err, &perm) || strings.HasPrefix(err.Error(), "email: recipient address")
		if _, aerr := m.append(ctx, n.ID, eventstore.AtRevision(claimRev), TypeEmailFailed, EmailFailed{NotificationID: n.ID, Attempt: attempt, Permanent: permanent, Error: err.Error(), At: m.o.Now().UTC()}); aerr != nil {
			m.log.Warn("email: failure not recorded", "notification", n.ID, "err", aerr)
		}
		if permanent {
			m.log.Error("email: notification cannot be delivered", "notification", n.ID, "err", err)
			return nil
		}
		return fmt.Errorf("email: send %s: %w", n.ID, err)
	}
	if _, err := m.append(ctx, n.ID, eventstore.AtRevision(claimRev), TypeEmailSent, EmailSent{NotificationID: n.ID, MessageID: msgID, Attempt: attempt, At: m.o.Now().UTC()}); err != nil {
		if errors.Is(err, eventstore.ErrConflict) {
			// Our claim was taken over (we were slower than the lease):
			// the other attempt sends the same Message-ID.
			m.log.Warn("email: claim was taken over while sending", "notification", n.ID)
			return nil
		}
		return fmt.Errorf("email: record sent %s: %w", n.ID, err)
	}
	m.log.Info("email: notification sent", "notification", n.ID, "kind", n.Kind, "attempt", attempt)
	return nil
}

func addressOf(from string) string {
	if i := strings.LastIndex(from, "<"); i >= 0 {
		return strings.TrimSuffix(from[i+1:], ">")
	}
	return from
}
