package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/ThreeDotsLabs/watermill/message"
)

// FanOut is a watermill message.Subscriber that serves a fixed set of
// topics from one $all subscription. With a Subscriber, every projection
// has a subscription of its own, and every event crosses gRPC, is opened
// (personal data) and decoded once per projection; a FanOut reads, opens and
// decodes it once and hands each topic its own message of it, with its own
// acknowledgement. Each topic has a bounded queue, so a projection that is
// busy flushing holds the others back only once its queue is full.
type FanOut struct {
	store  *Store
	opts   SubscriberOptions
	topics []string
	queue  int

	mu      sync.Mutex
	subs    map[string]*fanTopic
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type fanTopic struct {
	name string
	// after is the topic's own start: it is not sent events at or before
	// it (unless hasAfter is false).
	after    uint64
	hasAfter bool
	in       chan Recorded
	out      chan *message.Message
}

// recordedKey carries the decoded event in a FanOut message's context, so
// that FromMessage hands every topic the same Recorded (and one decode of
// its payload).
type recordedKey struct{}

// FanOutQueue is the default number of events a topic may lag behind the
// reader.
const FanOutQueue = 4096

// NewFanOut returns a FanOut for exactly these topics; it starts reading
// once every one of them has subscribed.
func NewFanOut(store *Store, topics []string, opts SubscriberOptions) *FanOut {
	return &FanOut{store: store, opts: opts.withDefaults(store), topics: slices.Clone(topics), queue: FanOutQueue, subs: map[string]*fanTopic{}}
}

var _ message.Subscriber = (*FanOut)(nil)

// Subscribe implements message.Subscriber.
func (f *FanOut) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return nil, errors.New("eventstore: fan-out is closed")
	case !slices.Contains(f.topics, topic):
		return nil, fmt.Errorf("eventstore: fan-out serves %v, not %q", f.topics, topic)
	case f.subs[topic] != nil:
		return nil, fmt.Errorf("eventstore: %q is already subscribed", topic)
	}
	t := &fanTopic{name: topic, in: make(chan Recorded, f.queue), out: make(chan *message.Message)}
	if f.opts.StartFrom != nil {
		var err error
		if t.after, t.hasAfter, err = f.opts.StartFrom(ctx, topic); err != nil {
			return nil, fmt.Errorf("eventstore: start position of %s: %w", topic, err)
		}
	}
	f.subs[topic] = t
	if len(f.subs) == len(f.topics) && !f.started {
		f.start()
	}
	return t.out, nil
}

// start runs the reader and one deliverer per topic; f.mu is held.
func (f *FanOut) start() {
	f.started = true
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	// Read from the earliest topic's start: the others skip what they
	// already have.
	var from uint64
	hasFrom := true
	for _, t := range f.subs {
		if !t.hasAfter {
			hasFrom = false
		} else if from == 0 || t.after < from {
			from = t.after
		}
	}
	subs := make([]*fanTopic, 0, len(f.subs))
	for _, name := range f.topics {
		subs = append(subs, f.subs[name])
	}
	f.wg.Add(1 + len(subs))
	go func() {
		defer f.wg.Done()
		defer func() {
			for _, t := range subs {
				close(t.in)
			}
		}()
		f.read(ctx, subs, from, hasFrom)
	}()
	for _, t := range subs {
		go func() {
			defer f.wg.Done()
			defer close(t.out)
			f.deliverAll(ctx, t)
		}()
	}
}

// read follows $all and queues each event for the topics that want it.
func (f *FanOut) read(ctx context.Context, subs []*fanTopic, pos uint64, hasPos bool) {
	f.store.follow(ctx, esdb.ExcludeSystemEventsFilter(), pos, hasPos, f.opts.Reconnect, f.opts.Logger.With("fanout", f.topics), followHooks{
		event: func(rec *esdb.RecordedEvent) error {
			// A vault that cannot be reached or a missing key stops here:
			// the event is read again after the resume, never skipped.
			r, err := f.store.decode(ctx, rec)
			if err != nil {
				return err
			}
			for _, t := range subs {
				if t.hasAfter && r.Position <= t.after {
					continue
				}
				select {
				case t.in <- r:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		},
	})
}

// deliverAll hands the topic's queued events to its handler one at a time,
// each after the previous was acked, redelivering after a nack.
func (f *FanOut) deliverAll(ctx context.Context, t *fanTopic) {
	for r := range t.in {
		if err := f.deliver(ctx, t, r); err != nil {
			return
		}
	}
}

func (f *FanOut) deliver(ctx context.Context, t *fanTopic, r Recorded) error {
	return handOver(ctx, t.out, f.opts.NackDelay, func() *message.Message { return NewMessage(ctx, r) })
}

// NewMessage is the watermill message of an event read and decoded
// already: what FanOut delivers, and what a rebuild parks. FromMessage
// gives r back from it without decoding again, and Publisher parks the
// event as stored.
func NewMessage(ctx context.Context, r Recorded) *message.Message {
	msg := message.NewMessage(r.Envelope.EventID, []byte(r.Data))
	msg.Metadata.Set(MetaStream, r.Stream)
	msg.Metadata.Set(MetaRevision, strconv.FormatUint(r.Revision, 10))
	msg.Metadata.Set(MetaPosition, strconv.FormatUint(r.Position, 10))
	msg.Metadata.Set(MetaType, r.Envelope.Type)
	msg.Metadata.Set(MetaCreated, r.Created.UTC().Format(time.RFC3339Nano))
	msg.SetContext(context.WithValue(ctx, recordedKey{}, r))
	return msg
}

// Close stops reading and delivering.
func (f *FanOut) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	if f.cancel != nil {
		f.cancel()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}
