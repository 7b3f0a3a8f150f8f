package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/omsonline/oms/events/storedjson"
)

// Message metadata keys set on every message the Subscriber produces.
const (
	MetaStream   = "esdb_stream"
	MetaRevision = "esdb_revision"
	MetaPosition = "esdb_position"
	MetaType     = "esdb_type"
	MetaEnvelope = "esdb_envelope"
	MetaCreated  = "esdb_created"
)

// SubscriberOptions configure a Subscriber.
type SubscriberOptions struct {
	// StartFrom returns the $all position a topic resumes after (exclusive);
	// ok=false starts from the beginning. Projections answer with their
	// stored checkpoint.
	StartFrom func(ctx context.Context, topic string) (pos uint64, ok bool, err error)
	// StreamPrefixes filters $all by stream name; empty means every
	// non-system event.
	StreamPrefixes []string
	// OnCaughtUp and OnCheckpoint, if set, observe the subscription's
	// progress: a filtered subscription still moves past events it skips.
	OnCaughtUp   func(topic string)
	OnCheckpoint func(topic string, pos uint64)
	// NackDelay is the pause before a nacked message is redelivered.
	NackDelay time.Duration
	// Reconnect is the pause before a dropped subscription is resumed.
	Reconnect time.Duration
	Logger    *slog.Logger
}

// Subscriber is a watermill message.Subscriber over the $all stream. Each
// topic is an independent catch-up subscription; messages are delivered one
// at a time and in $all order, the next only after the previous is acked,
// which is what a projection needs.
type Subscriber struct {
	store *Store
	opts  SubscriberOptions

	mu     sync.Mutex
	closed bool
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

// NewSubscriber returns a Subscriber reading from store.
func NewSubscriber(store *Store, opts SubscriberOptions) *Subscriber {
	return &Subscriber{store: store, opts: opts.withDefaults(store)}
}

// withDefaults fills the options left zero; a Subscriber and a FanOut
// share them.
func (o SubscriberOptions) withDefaults(store *Store) SubscriberOptions {
	if o.Logger == nil {
		o.Logger = store.logger
	}
	if o.NackDelay == 0 {
		o.NackDelay = 100 * time.Millisecond
	}
	if o.Reconnect == 0 {
		o.Reconnect = 500 * time.Millisecond
	}
	return o
}

var _ message.Subscriber = (*Subscriber)(nil)

// Subscribe starts a subscription for topic.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("eventstore: subscriber is closed")
	}
	var start uint64
	var hasStart bool
	if s.opts.StartFrom != nil {
		var err error
		start, hasStart, err = s.opts.StartFrom(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("eventstore: start position of %s: %w", topic, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = append(s.cancel, cancel)
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		s.run(ctx, topic, start, hasStart, out)
	}()
	return out, nil
}

func (s *Subscriber) run(ctx context.Context, topic string, pos uint64, hasPos bool, out chan<- *message.Message) {
	filter := esdb.ExcludeSystemEventsFilter()
	if len(s.opts.StreamPrefixes) > 0 {
		filter = &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: s.opts.StreamPrefixes}
	}
	h := followHooks{
		event: func(rec *esdb.RecordedEvent) error { return s.deliver(ctx, rec, out) },
	}
	if s.opts.OnCaughtUp != nil {
		h.caughtUp = func() { s.opts.OnCaughtUp(topic) }
	}
	if s.opts.OnCheckpoint != nil {
		h.checkpoint = func(p uint64) { s.opts.OnCheckpoint(topic, p) }
	}
	s.store.follow(ctx, filter, pos, hasPos, s.opts.Reconnect, s.opts.Logger.With("topic", topic), h)
}

// followHooks are what follow does with what $all sends.
type followHooks struct {
	event      func(*esdb.RecordedEvent) error
	caughtUp   func()
	checkpoint func(pos uint64)
}

// follow reads $all after pos (from the start unless hasPos) until ctx
// ends, resuming after the last event handled whenever the subscription
// drops or h.event fails (the event is then read again).
func (s *Store) follow(ctx context.Context, filter *esdb.SubscriptionFilter, pos uint64, hasPos bool, reconnect time.Duration, log *slog.Logger, h followHooks) {
	for ctx.Err() == nil {
		err := s.followOnce(ctx, filter, &pos, &hasPos, h)
		if ctx.Err() != nil {
			return
		}
		log.Warn("eventstore: subscription dropped; resuming", "err", err, "after", pos)
		select {
		case <-ctx.Done():
			return
		case <-time.After(reconnect):
		}
	}
}

func (s *Store) followOnce(ctx context.Context, filter *esdb.SubscriptionFilter, pos *uint64, hasPos *bool, h followHooks) error {
	o := esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: filter}
	if *hasPos {
		o.From = esdb.Position{Commit: *pos, Prepare: *pos}
	}
	sub, err := s.subscribe(ctx, o)
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		ev := sub.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			return ev.SubscriptionDropped.Error
		case ev.CaughtUp != nil:
			if h.caughtUp != nil {
				h.caughtUp()
			}
		case ev.CheckPointReached != nil:
			if h.checkpoint != nil {
				h.checkpoint(ev.CheckPointReached.Commit)
			}
		case ev.EventAppeared != nil:
			rec := ev.EventAppeared.OriginalEvent()
			if err := h.event(rec); err != nil {
				return err
			}
			*pos, *hasPos = rec.Position.Commit, true
		}
	}
}

// deliver hands one event to the router and waits for its ack, redelivering
// after a nack.
func (s *Subscriber) deliver(ctx context.Context, rec *esdb.RecordedEvent, out chan<- *message.Message) error {
	data, err := s.store.open(ctx, rec.EventType, rec.Data)
	if err != nil {
		// The vault is unreachable or the key is missing: stop here
		// rather than deliver the event without its data; the
		// subscription restarts from the last position.
		return fmt.Errorf("eventstore: %s@%d: %w", rec.StreamID, rec.EventNumber, err)
	}
	return handOver(ctx, out, s.opts.NackDelay, func() *message.Message {
		msg := message.NewMessage(rec.EventID.String(), data)
		msg.Metadata.Set(MetaStream, rec.StreamID)
		msg.Metadata.Set(MetaRevision, strconv.FormatUint(rec.EventNumber, 10))
		msg.Metadata.Set(MetaPosition, strconv.FormatUint(rec.Position.Commit, 10))
		msg.Metadata.Set(MetaType, rec.EventType)
		msg.Metadata.Set(MetaCreated, rec.CreatedDate.UTC().Format(time.RFC3339Nano))
		if len(rec.UserMetadata) > 0 {
			msg.Metadata.Set(MetaEnvelope, string(rec.UserMetadata))
		}
		msg.SetContext(ctx)
		return msg
	})
}

// handOver gives a handler one message and waits for its ack; after a nack
// it waits nackDelay and gives it a fresh copy (newMsg makes one per try).
func handOver(ctx context.Context, out chan<- *message.Message, nackDelay time.Duration, newMsg func() *message.Message) error {
	for {
		msg := newMsg()
		msgCtx, cancel := context.WithCancel(msg.Context())
		msg.SetContext(msgCtx)
		select {
		case out <- msg:
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
		select {
		case <-msg.Acked():
			cancel()
			return nil
		case <-msg.Nacked():
			cancel()
			select {
			case <-time.After(nackDelay):
			case <-ctx.Done():
				return ctx.Err()
			}
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
	}
}

// Close ends every subscription and waits for their goroutines.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, c := range s.cancel {
		c()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// FromMessage decodes a message produced by the Subscriber.
func FromMessage(msg *message.Message) (Recorded, error) {
	// A FanOut message carries the event decoded once for every topic.
	if r, ok := msg.Context().Value(recordedKey{}).(Recorded); ok && r.Envelope.EventID == msg.UUID {
		return r, nil
	}
	r := Recorded{Data: json.RawMessage(msg.Payload), Stream: msg.Metadata.Get(MetaStream), payload: &payloadMemo{}}
	var err error
	if r.Revision, err = strconv.ParseUint(msg.Metadata.Get(MetaRevision), 10, 64); err != nil {
		return Recorded{}, fmt.Errorf("eventstore: message %s: revision: %w", msg.UUID, err)
	}
	if r.Position, err = strconv.ParseUint(msg.Metadata.Get(MetaPosition), 10, 64); err != nil {
		return Recorded{}, fmt.Errorf("eventstore: message %s: position: %w", msg.UUID, err)
	}
	r.Created, _ = time.Parse(time.RFC3339Nano, msg.Metadata.Get(MetaCreated))
	if env := msg.Metadata.Get(MetaEnvelope); env != "" {
		if err := storedjson.Unmarshal([]byte(env), &r.Envelope); err != nil {
			return Recorded{}, fmt.Errorf("eventstore: message %s: envelope: %w", msg.UUID, err)
		}
	}
	if r.Envelope.Type == "" {
		r.Envelope.Type = msg.Metadata.Get(MetaType)
	}
	if r.Envelope.EventID == "" {
		r.Envelope.EventID = msg.UUID
	}
	if r.Envelope.SchemaVersion == 0 {
		r.Envelope.SchemaVersion = 1
	}
	if r.Envelope.OccurredAt.IsZero() {
		r.Envelope.OccurredAt = r.Created
	}
	return r, nil
}
