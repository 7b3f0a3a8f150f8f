package esdbserver

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/omsonline/oms/events/esdbserver/streamdb"
)

// generatedReadEvent is e as the generated structs build it, the oracle
// for the server's own encoding.
func generatedReadEvent(e *streamdb.Event, structured bool) *api.ReadResp {
	id := &shared.UUID{Value: &shared.UUID_String_{String_: uuid.UUID(e.ID).String()}}
	if structured {
		id = &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
			MostSignificantBits:  int64(binary.BigEndian.Uint64(e.ID[:8])),
			LeastSignificantBits: int64(binary.BigEndian.Uint64(e.ID[8:])),
		}}}
	}
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               id,
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.Stream)},
			StreamRevision:   e.Revision,
			PreparePosition:  e.Position,
			CommitPosition:   e.Position,
			Metadata: map[string]string{
				"type":         e.Type,
				"content-type": e.ContentType,
				"created":      strconv.FormatInt(e.Created, 10),
			},
			CustomMetadata: e.Metadata,
			Data:           e.Data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.Position},
	}}}
}

// TestReadEventWire holds the server's hand-written encoding of an event
// to protobuf-go's deterministic marshalling of the generated message, byte
// for byte, across the fields' empty, zero, negative and multi-byte cases.
func TestReadEventWire(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70_000) // a length prefix of three bytes
	ids := [][16]byte{{}, uuid.MustParse("0196a3c4-7b1e-7f00-8a2b-3c4d5e6f7a8b"), uuid.MustParse("ffffffff-ffff-ffff-ffff-ffffffffffff")}
	events := []streamdb.Event{
		{},
		{Stream: "application-1", Revision: 0, Position: 0, Type: "ApplicationSubmitted", ContentType: "application/json", Created: 17_000_000_000_000_000, Data: []byte(`{"a":1}`)},
		{Stream: "s", Revision: 1<<63 - 1, Position: 1 << 40, Type: "$metadata", ContentType: "application/octet-stream", Created: -5, Metadata: []byte(`{"m":"ы"}`), Data: big},
		{Stream: "поток-с-юникодом", Revision: 127, Position: 128, Type: "t", Created: 1, Metadata: big[:300]},
	}
	for _, structured := range []bool{false, true} {
		for _, id := range ids {
			for i, e := range events {
				e.ID = id
				want, err := proto.MarshalOptions{Deterministic: true}.Marshal(generatedReadEvent(&e, structured))
				if err != nil {
					t.Fatal(err)
				}
				m := encodeReadEvent(&e, structured)
				got := m.data.Materialize()
				m.data.Free()
				if !bytes.Equal(got, want) {
					t.Fatalf("event %d, id %s, structured %v: encoded\n%x\nwant\n%x", i, uuid.UUID(id), structured, got[:min(len(got), 200)], want[:min(len(want), 200)])
				}
				// And it decodes to the message the client expects.
				var back api.ReadResp
				if err := proto.Unmarshal(got, &back); err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(&back, generatedReadEvent(&e, structured)) {
					t.Fatalf("event %d decodes to %v", i, &back)
				}
			}
		}
	}
}

// TestWireCodecPassesOtherMessagesToProtobuf: everything but an event is
// the standard codec's.
func TestWireCodecPassesOtherMessagesToProtobuf(t *testing.T) {
	c := newWireCodec()
	msg := &api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}
	data, err := c.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(msg)
	if got := data.Materialize(); !bytes.Equal(got, want) {
		t.Fatalf("marshal = %x, want %x", got, want)
	}
	var back api.ReadResp
	if err := c.Unmarshal(data, &back); err != nil || back.GetCaughtUp() == nil {
		t.Fatalf("unmarshal = %v, %v", &back, err)
	}
}
