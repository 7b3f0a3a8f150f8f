package esdbserver

import (
	"context"
	"errors"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/omsonline/oms/events/esdbserver/streamdb"
)

func (s *streamsService) batchAppendOne(ctx context.Context, cid *shared.UUID, o *api.BatchAppendReq_Options, events []streamdb.Proposed, perr error) *api.BatchAppendResp {
	resp := &api.BatchAppendResp{CorrelationId: cid}
	if o == nil {
		resp.Result = &api.BatchAppendResp_Error{Error: &rpcstatus.Status{Code: int32(code.Code_INVALID_ARGUMENT), Message: "batch append needs options"}}
		return resp
	}
	name := string(o.GetStreamIdentifier().GetStreamName())
	resp.StreamIdentifier = o.GetStreamIdentifier()
	var exp streamdb.Expected
	switch v := o.GetExpectedStreamPosition().(type) {
	case *api.BatchAppendReq_Options_StreamPosition:
		exp = streamdb.Expected{Kind: streamdb.ExpectRevision, Revision: v.StreamPosition}
		resp.ExpectedStreamPosition = &api.BatchAppendResp_StreamPosition{StreamPosition: v.StreamPosition}
	case *api.BatchAppendReq_Options_NoStream:
		exp = streamdb.Expected{Kind: streamdb.ExpectNoStream}
		resp.ExpectedStreamPosition = &api.BatchAppendResp_NoStream{NoStream: &emptypb.Empty{}}
	case *api.BatchAppendReq_Options_StreamExists:
		exp = streamdb.Expected{Kind: streamdb.ExpectStreamExists}
		resp.ExpectedStreamPosition = &api.BatchAppendResp_StreamExists{StreamExists: &emptypb.Empty{}}
	default:
		exp = streamdb.Expected{Kind: streamdb.ExpectAny}
		resp.ExpectedStreamPosition = &api.BatchAppendResp_Any{Any: &emptypb.Empty{}}
	}
	if perr != nil {
		resp.Result = &api.BatchAppendResp_Error{Error: &rpcstatus.Status{Code: int32(code.Code_INVALID_ARGUMENT), Message: perr.Error()}}
		return resp
	}
	res, err := s.db.Append(ctx, name, exp, events)
	var wrong *streamdb.WrongExpectedVersion
	switch {
	case err == nil:
		succ := &api.BatchAppendResp_Success{
			CurrentRevisionOption: &api.BatchAppendResp_Success_CurrentRevision{CurrentRevision: res.Revision},
			PositionOption: &api.BatchAppendResp_Success_Position{Position: &shared.AllStreamPosition{
				CommitPosition: res.Position, PreparePosition: res.Position,
			}},
		}
		resp.Result = &api.BatchAppendResp_Success_{Success: succ}
	case errors.As(err, &wrong):
		d := &shared.WrongExpectedVersion{}
		if wrong.NoStream {
			d.CurrentStreamRevisionOption = &shared.WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &emptypb.Empty{}}
		} else {
			d.CurrentStreamRevisionOption = &shared.WrongExpectedVersion_CurrentStreamRevision{CurrentStreamRevision: wrong.Current}
		}
		switch exp.Kind {
		case streamdb.ExpectAny:
			d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedAny{ExpectedAny: &emptypb.Empty{}}
		case streamdb.ExpectNoStream:
			d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &emptypb.Empty{}}
		case streamdb.ExpectStreamExists:
			d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &emptypb.Empty{}}
		default:
			d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedStreamPosition{ExpectedStreamPosition: exp.Revision}
		}
		resp.Result = &api.BatchAppendResp_Error{Error: statusWith(code.Code_FAILED_PRECONDITION, err.Error(), d)}
	case errors.Is(err, streamdb.ErrStreamDeleted):
		resp.Result = &api.BatchAppendResp_Error{Error: statusWith(code.Code_FAILED_PRECONDITION, "stream deleted",
			&shared.StreamDeleted{StreamIdentifier: o.GetStreamIdentifier()})}
	default:
		resp.Result = &api.BatchAppendResp_Error{Error: &rpcstatus.Status{Code: int32(code.Code_UNAVAILABLE), Message: err.Error()}}
	}
	return resp
}

func statusWith(c code.Code, msg string, detail proto.Message) *rpcstatus.Status {
	st := &rpcstatus.Status{Code: int32(c), Message: msg}
	if a, err := anypb.New(detail); err == nil {
		st.Details = []*anypb.Any{a}
	}
	return st
}
