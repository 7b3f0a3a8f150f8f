package esdbserver

import (
	"context"
	"errors"
	"io"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omsonline/oms/events/esdbserver/streamdb"
)

// subscriptionPage bounds how many events a live subscription reads per pass,
// so one subscriber cannot hold a scan open forever.
const subscriptionPage = 4096

func (s *streamsService) Read(req *api.ReadReq, srv api.Streams_ReadServer) error {
	o := req.GetOptions()
	if o == nil {
		return status.Error(codes.InvalidArgument, "read options are required")
	}
	structured := o.GetUuidOption().GetStructured() != nil
	backwards := o.GetReadDirection() == api.ReadReq_Options_Backwards
	f, err := newFilter(o.GetFilter())
	if err != nil {
		return err
	}
	send := func(e *streamdb.Event) error { return srv.SendMsg(encodeReadEvent(e, structured)) }
	subscribe := o.GetSubscription() != nil

	switch so := o.GetStreamOption().(type) {
	case *api.ReadReq_Options_Stream:
		name := string(so.Stream.GetStreamIdentifier().GetStreamName())
		from := streamdb.From{}
		switch rv := so.Stream.GetRevisionOption().(type) {
		case *api.ReadReq_Options_StreamOptions_Start:
			from.Start = true
		case *api.ReadReq_Options_StreamOptions_End:
			from.End = true
		case *api.ReadReq_Options_StreamOptions_Revision:
			from.Value = rv.Revision
		default:
			from.Start = true
		}
		if subscribe {
			return s.subscribeStream(srv, name, from, send)
		}
		err := s.db.ReadStream(name, from, backwards, o.GetCount(), send)
		if errors.Is(err, streamdb.ErrStreamNotFound) {
			return srv.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)},
			}}})
		}
		return mapErr(srv.Context(), name, err)

	case *api.ReadReq_Options_All:
		from := streamdb.From{}
		switch av := so.All.GetAllOption().(type) {
		case *api.ReadReq_Options_AllOptions_Start:
			from.Start = true
		case *api.ReadReq_Options_AllOptions_End:
			from.End = true
		case *api.ReadReq_Options_AllOptions_Position:
			from.Value = av.Position.GetCommitPosition()
		default:
			from.Start = true
		}
		if subscribe {
			return s.subscribeAll(srv, from, f, send)
		}
		count := o.GetCount()
		err := s.db.ReadAll(from, backwards, ^uint64(0), func(e *streamdb.Event) error {
			if count == 0 {
				return errStop
			}
			if !f.match(e) {
				return nil
			}
			count--
			return send(e)
		})
		if errors.Is(err, errStop) {
			err = nil
		}
		return mapErr(srv.Context(), "$all", err)
	default:
		return status.Error(codes.InvalidArgument, "read needs a stream or $all")
	}
}

var errStop = errors.New("stop")

func confirm(srv api.Streams_ReadServer) error {
	return srv.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString(),
	}}})
}

func caughtUp(srv api.Streams_ReadServer) error {
	return srv.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}})
}

// wait blocks until the log grows, the client goes away or the server stops.
func (s *streamsService) wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return status.Error(codes.Unavailable, "server is shutting down")
	}
}

// subscribeStream delivers a stream's events after from (exclusive, as
// EventStoreDB subscriptions are), then goes live.
func (s *streamsService) subscribeStream(srv api.Streams_ReadServer, name string, from streamdb.From, send func(*streamdb.Event) error) error {
	ctx := srv.Context()
	if err := confirm(srv); err != nil {
		return err
	}
	next := uint64(0) // next revision to send
	switch {
	case from.End:
		last, ok, err := s.db.LastRevision(name)
		if err != nil && !errors.Is(err, streamdb.ErrStreamNotFound) {
			return mapErr(ctx, name, err)
		}
		if ok {
			next = last + 1
		}
	case !from.Start:
		next = from.Value + 1
	}
	sentCaughtUp := false
	for {
		ch := s.db.Changed()
		last, ok, err := s.db.LastRevision(name)
		if err != nil && !errors.Is(err, streamdb.ErrStreamNotFound) {
			return mapErr(ctx, name, err)
		}
		if ok && last >= next {
			err := s.db.ReadStream(name, streamdb.From{Value: next}, false, subscriptionPage, func(e *streamdb.Event) error {
				next = e.Revision + 1
				return send(e)
			})
			if err != nil && !errors.Is(err, streamdb.ErrStreamNotFound) {
				return mapErr(ctx, name, err)
			}
			continue
		}
		if !sentCaughtUp {
			if err := caughtUp(srv); err != nil {
				return err
			}
			sentCaughtUp = true
		}
		if err := s.wait(ctx, ch); err != nil {
			return err
		}
	}
}

// subscribeAll delivers $all after from (exclusive), filtered, with
// checkpoints for filtered subscriptions so that a consumer whose filter
// matches rarely can still move its stored position forward.
func (s *streamsService) subscribeAll(srv api.Streams_ReadServer, from streamdb.From, f *filter, send func(*streamdb.Event) error) error {
	ctx := srv.Context()
	if err := confirm(srv); err != nil {
		return err
	}
	var pos uint64
	switch {
	case from.Start:
		pos = s.db.Start()
	case from.End:
		pos = s.db.End()
	default:
		var err error
		if pos, err = s.db.After(from.Value); err != nil {
			return status.Errorf(codes.Internal, "subscribe to $all: %v", err)
		}
	}
	var scanned, lastPos uint64
	checkpoint := func() error {
		scanned = 0
		return srv.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
			CommitPosition: lastPos, PreparePosition: lastPos,
		}}})
	}
	sentCaughtUp := false
	for {
		ch := s.db.Changed()
		limit := s.db.Durable()
		if pos < limit {
			before := pos
			err := s.db.ScanAll(pos, limit, subscriptionPage, func(e *streamdb.Event) error {
				pos = e.Next
				lastPos = e.Position
				if f.match(e) {
					if err := send(e); err != nil {
						return err
					}
				}
				if f != nil {
					scanned++
					if scanned >= f.interval {
						return checkpoint()
					}
				}
				return nil
			})
			if err != nil {
				return mapErr(ctx, "$all", err)
			}
			if pos == before {
				return status.Errorf(codes.Internal, "$all scan made no progress at %d", pos)
			}
			continue
		}
		if f != nil && scanned > 0 {
			if err := checkpoint(); err != nil {
				return err
			}
		}
		if !sentCaughtUp {
			if err := caughtUp(srv); err != nil {
				return err
			}
			sentCaughtUp = true
		}
		if err := s.wait(ctx, ch); err != nil {
			return err
		}
	}
}

// --- batch append ---

func (s *streamsService) BatchAppend(srv api.Streams_BatchAppendServer) error {
	ctx := srv.Context()
	type pending struct {
		opts   *api.BatchAppendReq_Options
		events []streamdb.Proposed
	}
	open := map[string]*pending{}
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		cid := req.GetCorrelationId()
		key := cid.String()
		p := open[key]
		if p == nil {
			p = &pending{}
			open[key] = p
		}
		if req.GetOptions() != nil {
			p.opts = req.GetOptions()
		}
		var perr error
		for _, m := range req.GetProposedMessages() {
			ev, err := proposed(m.GetId(), m.GetMetadata(), m.GetCustomMetadata(), m.GetData())
			if err != nil {
				perr = err
				break
			}
			p.events = append(p.events, ev)
		}
		if !req.GetIsFinal() && perr == nil {
			continue
		}
		delete(open, key)
		resp := s.batchAppendOne(ctx, cid, p.opts, p.events, perr)
		if err := srv.Send(resp); err != nil {
			return err
		}
	}
}
