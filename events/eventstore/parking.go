package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
)

// Parked-message event types.
const (
	TypeMessageParked   = "MessageParked"
	TypeParkedReplayed  = "ParkedMessageReplayed"
	ParkedStream        = "parked-projections"
	parkedSchemaVersion = 1
)

// ParkedMessage is a message a projection could not apply, kept with the
// reason so it can be inspected and re-applied after a fix.
type ParkedMessage struct {
	UUID     string            `json:"uuid"`
	Payload  json.RawMessage   `json:"payload"`
	Metadata map[string]string `json:"metadata"`
	ParkedAt time.Time         `json:"parkedAt"`
}

// ParkedReplayed marks a parked message as re-applied.
type ParkedReplayed struct {
	ParkedEventID string    `json:"parkedEventId"`
	ReplayedAt    time.Time `json:"replayedAt"`
}

// Publisher is a watermill Publisher that appends messages to an event
// store stream named by the topic. Projections' PoisonQueue middleware uses
// it, so parked messages live in the event store: durable, and shared by
// every omsd node.
type Publisher struct{ store *Store }

// NewPublisher returns a Publisher writing to store.
func NewPublisher(store *Store) *Publisher { return &Publisher{store: store} }

var _ message.Publisher = (*Publisher)(nil)

// Publish appends every message to the stream topic.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	ctx := context.Background()
	if len(msgs) > 0 && msgs[0].Context() != nil {
		ctx = context.WithoutCancel(msgs[0].Context())
	}
	evs := make([]NewEvent, 0, len(msgs))
	for _, m := range msgs {
		payload := json.RawMessage(m.Payload)
		// The message carries the event opened; the parked copy must not
		// keep personal data in the clear, so it takes the event as stored
		// (sealed), and ToMessage opens it again at replay.
		md := map[string]string{}
		for k, v := range m.Metadata {
			md[k] = v
		}
		if stored, env, ok, err := p.store.storedEvent(ctx, m); err != nil {
			return fmt.Errorf("eventstore: park message %s: %w", m.UUID, err)
		} else if ok {
			payload = stored
			if md[MetaEnvelope] == "" && len(env) > 0 {
				md[MetaEnvelope] = string(env) // a FanOut message carries it decoded only
			}
		}
		if !json.Valid(payload) {
			b, _ := json.Marshal(string(m.Payload)) // a string always marshals
			payload = b
		}
		evs = append(evs, NewEvent{Type: TypeMessageParked, SchemaVersion: parkedSchemaVersion, Data: ParkedMessage{
			UUID: m.UUID, Payload: payload, Metadata: md, ParkedAt: p.store.now().UTC(),
		}})
	}
	_, err := p.store.Append(ctx, topic, Any, events.Metadata{Actor: events.Actor{ID: "projections", Role: events.RoleSystem}}, evs...)
	if err != nil {
		return fmt.Errorf("eventstore: park %d messages in %s: %w", len(msgs), topic, err)
	}
	return nil
}

// Close implements message.Publisher.
func (p *Publisher) Close() error { return nil }

// Parked is a parked message still waiting to be replayed.
type Parked struct {
	EventID  string
	Revision uint64
	Message  ParkedMessage
}

// Handler is the projection that parked it.
func (p Parked) Handler() string { return p.Message.Metadata["handler_poisoned"] }

// Reason is the error that parked it.
func (p Parked) Reason() string { return p.Message.Metadata["reason_poisoned"] }

// ToMessage rebuilds the original watermill message, with its personal
// data opened (or marked erased) as the subscriber would have delivered it.
func (s *Store) ToMessage(ctx context.Context, p Parked) (*message.Message, error) {
	payload, err := s.open(ctx, p.Message.Metadata[MetaType], p.Message.Payload)
	if err != nil {
		return nil, fmt.Errorf("eventstore: parked %s: %w", p.EventID, err)
	}
	m := message.NewMessage(p.Message.UUID, payload)
	for k, v := range p.Message.Metadata {
		m.Metadata.Set(k, v)
	}
	return m, nil
}

// storedEvent reads the payload and envelope of the event a subscriber
// message came from, exactly as stored. ok is false for messages that did
// not come from a Subscriber or a FanOut.
func (s *Store) storedEvent(ctx context.Context, m *message.Message) (payload, envelope json.RawMessage, ok bool, err error) {
	stream := m.Metadata.Get(MetaStream)
	rev, perr := strconv.ParseUint(m.Metadata.Get(MetaRevision), 10, 64)
	if stream == "" || perr != nil {
		return nil, nil, false, nil
	}
	h, err := s.hold()
	if err != nil {
		return nil, nil, false, err
	}
	defer h.release()
	raw, err := await(ctx, h, func() ([]*esdb.RecordedEvent, error) { return s.readStream(ctx, stream, rev, 1) }, nil)
	if err != nil {
		return nil, nil, false, fmt.Errorf("read %s@%d: %w", stream, rev, err)
	}
	if len(raw) == 0 {
		return nil, nil, false, fmt.Errorf("read %s@%d: no such event", stream, rev)
	}
	if o := raw[0]; o.EventNumber == rev && o.StreamID == stream {
		return o.Data, o.UserMetadata, true, nil
	}
	return nil, nil, false, nil
}

// ListParked returns the parked messages of a stream not yet replayed, in
// the order they were parked.
func (s *Store) ListParked(ctx context.Context, stream string) ([]Parked, error) {
	evs, err := s.Load(ctx, stream)
	if err != nil {
		return nil, err
	}
	replayed := map[string]bool{}
	for _, e := range evs {
		if e.Envelope.Type == TypeParkedReplayed {
			var r ParkedReplayed
			if err := json.Unmarshal(e.Data, &r); err != nil {
				return nil, fmt.Errorf("eventstore: %s@%d: %w", stream, e.Revision, err)
			}
			replayed[r.ParkedEventID] = true
		}
	}
	var out []Parked
	for _, e := range evs {
		if e.Envelope.Type != TypeMessageParked || replayed[e.Envelope.EventID] {
			continue
		}
		p, err := parkedOf(stream, e)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Marker is a replay marker as ParkedFrom reads it: which parked message
// was brought back, and where in $all the marker is.
type Marker struct {
	ParkedEventID string
	Position      uint64
}

// ParkedFrom returns the messages parked in stream from revision from on,
// replayed or not, the replay markers among them, and the revision to read
// from next: for a follower of the markers, which reads each record once
// however many markers come.
func (s *Store) ParkedFrom(ctx context.Context, stream string, from uint64) ([]Parked, []Marker, uint64, error) {
	evs, err := s.LoadFrom(ctx, stream, from, ^uint64(0))
	if err != nil {
		return nil, nil, from, err
	}
	var parked []Parked
	var markers []Marker
	next := from
	for _, e := range evs {
		next = e.Revision + 1
		switch e.Envelope.Type {
		case TypeMessageParked:
			p, err := parkedOf(stream, e)
			if err != nil {
				return nil, nil, from, err
			}
			parked = append(parked, p)
		case TypeParkedReplayed:
			var r ParkedReplayed
			if err := json.Unmarshal(e.Data, &r); err != nil {
				return nil, nil, from, fmt.Errorf("eventstore: %s@%d: %w", stream, e.Revision, err)
			}
			markers = append(markers, Marker{ParkedEventID: r.ParkedEventID, Position: e.Position})
		}
	}
	return parked, markers, next, nil
}

func parkedOf(stream string, e Recorded) (Parked, error) {
	var m ParkedMessage
	if err := json.Unmarshal(e.Data, &m); err != nil {
		return Parked{}, fmt.Errorf("eventstore: %s@%d: %w", stream, e.Revision, err)
	}
	return Parked{EventID: e.Envelope.EventID, Revision: e.Revision, Message: m}, nil
}

// MarkReplayed records that a parked message was re-applied. The marker's
// id is derived from the parked event's, so marking twice records once.
func (s *Store) MarkReplayed(ctx context.Context, stream, parkedEventID string, md events.Metadata) error {
	id := uuid.NewSHA1(uuid.NameSpaceOID, []byte("replayed:"+parkedEventID))
	_, err := s.Append(ctx, stream, Any, md, NewEvent{ID: id, Type: TypeParkedReplayed, Data: ParkedReplayed{ParkedEventID: parkedEventID, ReplayedAt: s.now().UTC()}})
	return err
}
