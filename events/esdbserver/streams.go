package esdbserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/omsonline/oms/events/esdbserver/streamdb"
)

type streamsService struct {
	api.UnimplementedStreamsServer
	db     *streamdb.DB
	logger *slog.Logger
	done   <-chan struct{}
}

func registerStreams(g *grpc.Server, s *streamsService) { api.RegisterStreamsServer(g, s) }

type featuresService struct {
	serverfeatures.UnimplementedServerFeaturesServer
}

func registerFeatures(g *grpc.Server) {
	serverfeatures.RegisterServerFeaturesServer(g, featuresService{})
}

func (featuresService) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const streams = "event_store.client.streams.streams"
	const features = "event_store.client.server_features.serverfeatures"
	m := func(svc, name string) *serverfeatures.SupportedMethod {
		return &serverfeatures.SupportedMethod{ServiceName: svc, MethodName: name}
	}
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: Version,
		Methods: []*serverfeatures.SupportedMethod{
			m(streams, "read"), m(streams, "append"), m(streams, "delete"),
			m(streams, "tombstone"), m(streams, "batchappend"),
			m(features, "getsupportedmethods"),
		},
	}, nil
}

// --- errors ---

func streamDeletedErr(ctx context.Context, name string) error {
	_ = grpc.SetTrailer(ctx, metadata.Pairs("exception", "stream-deleted", "stream-name", name))
	return status.Errorf(codes.FailedPrecondition, "Event stream '%s' is deleted.", name)
}

func wrongVersionErr(ctx context.Context, w *streamdb.WrongExpectedVersion) error {
	actual := "-1"
	if !w.NoStream {
		actual = strconv.FormatUint(w.Current, 10)
	}
	_ = grpc.SetTrailer(ctx, metadata.Pairs("exception", "wrong-expected-version",
		"expected-version", expectedString(w.Expected), "actual-version", actual))
	return status.Errorf(codes.FailedPrecondition, "Append failed due to WrongExpectedVersion. Expected version: %s. Actual version: %s.", expectedString(w.Expected), actual)
}

func expectedString(e streamdb.Expected) string {
	switch e.Kind {
	case streamdb.ExpectNoStream:
		return "-1"
	case streamdb.ExpectAny:
		return "-2"
	case streamdb.ExpectStreamExists:
		return "-4"
	default:
		return strconv.FormatUint(e.Revision, 10)
	}
}

// mapErr turns store errors into protocol errors for unary-style calls.
func mapErr(ctx context.Context, stream string, err error) error {
	var wrong *streamdb.WrongExpectedVersion
	switch {
	case err == nil:
		return nil
	case errors.Is(err, streamdb.ErrStreamDeleted):
		return streamDeletedErr(ctx, stream)
	case errors.As(err, &wrong):
		return wrongVersionErr(ctx, wrong)
	case errors.Is(err, streamdb.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	default:
		return status.Error(codes.Unavailable, err.Error())
	}
}

// --- ids and events ---

func idFromProto(u *shared.UUID) ([16]byte, error) {
	switch v := u.GetValue().(type) {
	case *shared.UUID_Structured_:
		var id [16]byte
		binary.BigEndian.PutUint64(id[:8], uint64(v.Structured.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(id[8:], uint64(v.Structured.GetLeastSignificantBits()))
		return id, nil
	case *shared.UUID_String_:
		id, err := uuid.Parse(v.String_)
		if err != nil {
			return [16]byte{}, fmt.Errorf("%w: event id %q: %v", streamdb.ErrInvalid, v.String_, err)
		}
		return id, nil
	default:
		return [16]byte{}, fmt.Errorf("%w: event id missing", streamdb.ErrInvalid)
	}
}

func proposed(id *shared.UUID, md map[string]string, custom, data []byte) (streamdb.Proposed, error) {
	eid, err := idFromProto(id)
	if err != nil {
		return streamdb.Proposed{}, err
	}
	typ, ok := md["type"]
	if !ok || typ == "" {
		return streamdb.Proposed{}, fmt.Errorf("%w: event %s has no type", streamdb.ErrInvalid, uuid.UUID(eid))
	}
	ct, ok := md["content-type"]
	if !ok {
		return streamdb.Proposed{}, fmt.Errorf("%w: event %s has no content-type", streamdb.ErrInvalid, uuid.UUID(eid))
	}
	if data == nil {
		data = []byte{}
	}
	return streamdb.Proposed{ID: eid, Type: typ, ContentType: ct, Metadata: custom, Data: data}, nil
}

// --- append ---

func expectedFromAppend(o *api.AppendReq_Options) streamdb.Expected {
	switch v := o.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Revision:
		return streamdb.Expected{Kind: streamdb.ExpectRevision, Revision: v.Revision}
	case *api.AppendReq_Options_NoStream:
		return streamdb.Expected{Kind: streamdb.ExpectNoStream}
	case *api.AppendReq_Options_StreamExists:
		return streamdb.Expected{Kind: streamdb.ExpectStreamExists}
	default:
		return streamdb.Expected{Kind: streamdb.ExpectAny}
	}
}

func (s *streamsService) Append(srv api.Streams_AppendServer) error {
	ctx := srv.Context()
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first append message must carry options")
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	var events []streamdb.Proposed
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		m := req.GetProposedMessage()
		if m == nil {
			return status.Error(codes.InvalidArgument, "expected a proposed message")
		}
		p, err := proposed(m.GetId(), m.GetMetadata(), m.GetCustomMetadata(), m.GetData())
		if err != nil {
			return mapErr(ctx, name, err)
		}
		events = append(events, p)
	}
	exp := expectedFromAppend(opts)
	res, err := s.db.Append(ctx, name, exp, events)
	var wrong *streamdb.WrongExpectedVersion
	if errors.As(err, &wrong) {
		return srv.SendAndClose(&api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wrongVersionReply(wrong)}})
	}
	if err != nil {
		return mapErr(ctx, name, err)
	}
	succ := &api.AppendResp_Success{}
	if len(events) == 0 && res.Position == 0 && exp.Kind != streamdb.ExpectRevision {
		succ.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
		succ.PositionOption = &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
	} else {
		succ.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: res.Revision}
		if res.Position == 0 {
			succ.PositionOption = &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
		} else {
			succ.PositionOption = &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{CommitPosition: res.Position, PreparePosition: res.Position}}
		}
	}
	return srv.SendAndClose(&api.AppendResp{Result: &api.AppendResp_Success_{Success: succ}})
}

func wrongVersionReply(w *streamdb.WrongExpectedVersion) *api.AppendResp_WrongExpectedVersion {
	r := &api.AppendResp_WrongExpectedVersion{}
	if w.NoStream {
		r.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		r.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		r.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: w.Current}
		r.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: w.Current}
	}
	switch w.Expected.Kind {
	case streamdb.ExpectAny:
		r.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		r.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	case streamdb.ExpectNoStream:
		r.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case streamdb.ExpectStreamExists:
		r.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		r.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	default:
		r.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: w.Expected.Revision}
		r.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: w.Expected.Revision}
	}
	return r
}

// --- delete and tombstone ---

type expectedOneof interface {
	GetRevision() uint64
	GetNoStream() *shared.Empty
	GetAny() *shared.Empty
	GetStreamExists() *shared.Empty
}

func expectedFrom(o expectedOneof) streamdb.Expected {
	switch {
	case o.GetNoStream() != nil:
		return streamdb.Expected{Kind: streamdb.ExpectNoStream}
	case o.GetAny() != nil:
		return streamdb.Expected{Kind: streamdb.ExpectAny}
	case o.GetStreamExists() != nil:
		return streamdb.Expected{Kind: streamdb.ExpectStreamExists}
	default:
		return streamdb.Expected{Kind: streamdb.ExpectRevision, Revision: o.GetRevision()}
	}
}

func (s *streamsService) Delete(ctx context.Context, req *api.DeleteReq) (*api.DeleteResp, error) {
	o := req.GetOptions()
	name := string(o.GetStreamIdentifier().GetStreamName())
	pos, err := s.db.Delete(ctx, name, expectedFrom(o))
	if err != nil {
		return nil, mapErr(ctx, name, err)
	}
	return &api.DeleteResp{PositionOption: &api.DeleteResp_Position_{Position: &api.DeleteResp_Position{CommitPosition: pos, PreparePosition: pos}}}, nil
}

func (s *streamsService) Tombstone(ctx context.Context, req *api.TombstoneReq) (*api.TombstoneResp, error) {
	o := req.GetOptions()
	name := string(o.GetStreamIdentifier().GetStreamName())
	pos, err := s.db.Tombstone(ctx, name, expectedFrom(o))
	if err != nil {
		return nil, mapErr(ctx, name, err)
	}
	return &api.TombstoneResp{PositionOption: &api.TombstoneResp_Position_{Position: &api.TombstoneResp_Position{CommitPosition: pos, PreparePosition: pos}}}, nil
}

// --- filters ---

// filter is a server-side $all filter on stream name or event type.
type filter struct {
	onType   bool
	prefixes []string
	re       *regexp.Regexp
	// system reports whether the filter asks for $-prefixed names itself;
	// otherwise system events are left out, as EventStoreDB does.
	system   bool
	interval uint64 // checkpoint every this many scanned events
}

func newFilter(o *api.ReadReq_Options_FilterOptions) (*filter, error) {
	if o == nil {
		return nil, nil
	}
	f := &filter{}
	var expr *api.ReadReq_Options_FilterOptions_Expression
	switch v := o.GetFilter().(type) {
	case *api.ReadReq_Options_FilterOptions_EventType:
		f.onType, expr = true, v.EventType
	case *api.ReadReq_Options_FilterOptions_StreamIdentifier:
		expr = v.StreamIdentifier
	default:
		return nil, status.Error(codes.InvalidArgument, "filter needs an event type or stream expression")
	}
	f.prefixes = expr.GetPrefix()
	if r := expr.GetRegex(); r != "" {
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad filter regex: %v", err)
		}
		f.re = re
		f.system = strings.HasPrefix(r, "^\\$") || strings.HasPrefix(r, "\\$") || strings.HasPrefix(r, "$$")
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(p, "$") {
			f.system = true
		}
	}
	window := uint64(32)
	if m := o.GetMax(); m > 0 {
		window = uint64(m)
	}
	mult := uint64(o.GetCheckpointIntervalMultiplier())
	if mult == 0 {
		mult = 1
	}
	f.interval = window * mult
	return f, nil
}

func (f *filter) match(e *streamdb.Event) bool {
	if f == nil {
		return true
	}
	if !f.system && strings.HasPrefix(e.Type, "$") {
		return false
	}
	v := e.Stream
	if f.onType {
		v = e.Type
	}
	if f.re != nil {
		return f.re.MatchString(v)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return len(f.prefixes) == 0
}
