package esdbserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events/esdbserver/esdbtest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func ev(typ, data string) esdb.EventData {
	return esdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: esdb.ContentTypeJson, Data: []byte(data)}
}

func readAll(t *testing.T, s *esdb.ReadStream) []*esdb.ResolvedEvent {
	t.Helper()
	defer s.Close()
	var out []*esdb.ResolvedEvent
	for {
		e, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		out = append(out, e)
	}
}

func readStream(t *testing.T, c *esdb.Client, name string, opts esdb.ReadStreamOptions, n uint64) ([]*esdb.ResolvedEvent, error) {
	t.Helper()
	s, err := c.ReadStream(ctx(t), name, opts, n)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out []*esdb.ResolvedEvent
	for {
		e, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func revisions(evs []*esdb.ResolvedEvent) []uint64 {
	var r []uint64
	for _, e := range evs {
		r = append(r, e.OriginalEvent().EventNumber)
	}
	return r
}

func wantCode(t *testing.T, err error, code esdb.ErrorCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %v, got nil", code)
	}
	var e *esdb.Error
	if !errors.As(err, &e) {
		t.Fatalf("want error %v, got %v (not an esdb error)", code, err)
	}
	if e.Code() != code {
		t.Fatalf("want error code %v, got %v: %v", code, e.Code(), err)
	}
}

func TestAppendExpectedRevision(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	s := "app-" + uuid.NewString()

	_, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.StreamExists{}}, ev("A", `{}`))
	wantCode(t, err, esdb.ErrorCodeWrongExpectedVersion)
	if !strings.Contains(err.Error(), "got 'no_stream'") {
		t.Fatalf("wrong expected version should carry no_stream: %v", err)
	}
	_, err = c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(0)}, ev("A", `{}`))
	wantCode(t, err, esdb.ErrorCodeWrongExpectedVersion)

	r, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, ev("A", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.NextExpectedVersion != 0 || r.CommitPosition == 0 || r.PreparePosition != r.CommitPosition {
		t.Fatalf("first append: %+v", r)
	}
	_, err = c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, ev("A", `{}`))
	wantCode(t, err, esdb.ErrorCodeWrongExpectedVersion)
	if !strings.Contains(err.Error(), "got '0'") {
		t.Fatalf("wrong expected version should carry current revision 0: %v", err)
	}
	r2, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(0)}, ev("B", `{}`), ev("C", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if r2.NextExpectedVersion != 2 || r2.CommitPosition <= r.CommitPosition {
		t.Fatalf("second append: %+v after %+v", r2, r)
	}
	_, err = c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, ev("D", `{}`))
	wantCode(t, err, esdb.ErrorCodeWrongExpectedVersion)
	if !strings.Contains(err.Error(), "expecting '1' but got '2'") {
		t.Fatalf("wrong expected version message: %v", err)
	}
	if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.StreamExists{}}, ev("E", `{}`)); err != nil {
		t.Fatal(err)
	}
	r3, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, ev("F", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if r3.NextExpectedVersion != 4 {
		t.Fatalf("any append: %+v", r3)
	}
	evs, err := readStream(t, c, s, esdb.ReadStreamOptions{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(revisions(evs)); got != "[0 1 2 3 4]" {
		t.Fatalf("revisions %s", got)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.OriginalEvent().EventType)
	}
	if got := strings.Join(types, ""); got != "ABCEF" {
		t.Fatalf("types %s", got)
	}
}

func TestIdempotentAppend(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	s := "idem-" + uuid.NewString()
	a, b := ev("A", `{"n":1}`), ev("B", `{"n":2}`)
	r1, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	// Same ids, same expectation: the original result, nothing new.
	r2, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, a, b)
	if err != nil {
		t.Fatalf("idempotent repeat failed: %v", err)
	}
	if *r1 != *r2 {
		t.Fatalf("repeat result %+v differs from %+v", r2, r1)
	}
	if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, a, b); err != nil {
		t.Fatalf("idempotent repeat with any failed: %v", err)
	}
	c2 := ev("C", `{}`)
	if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, c2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, c2); err != nil {
		t.Fatalf("idempotent repeat at revision failed: %v", err)
	}
	// A partial match is not idempotent.
	_, err = c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, a, ev("X", `{}`))
	wantCode(t, err, esdb.ErrorCodeWrongExpectedVersion)
	evs, err := readStream(t, c, s, esdb.ReadStreamOptions{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("want 3 events after repeats, got %d", len(evs))
	}
}

func TestReadStream(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	s := "read-" + uuid.NewString()
	before := time.Now().Add(-time.Second)
	var sent []esdb.EventData
	for i := 0; i < 10; i++ {
		e := ev(fmt.Sprintf("T%d", i), fmt.Sprintf(`{"i":%d}`, i))
		e.Metadata = []byte(fmt.Sprintf(`{"m":%d}`, i))
		sent = append(sent, e)
	}
	if _, err := c.AppendToStream(ctx(t), s, esdb.AppendToStreamOptions{}, sent...); err != nil {
		t.Fatal(err)
	}
	all, err := readStream(t, c, s, esdb.ReadStreamOptions{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range all {
		o := e.OriginalEvent()
		if o.EventID != sent[i].EventID || o.EventType != sent[i].EventType || string(o.Data) != string(sent[i].Data) ||
			string(o.UserMetadata) != string(sent[i].Metadata) || o.ContentType != "application/json" || o.StreamID != s {
			t.Fatalf("event %d round trip: %+v", i, o)
		}
		if o.CreatedDate.Before(before) || o.CreatedDate.After(time.Now().Add(time.Second)) {
			t.Fatalf("created %v out of range", o.CreatedDate)
		}
		if o.SystemMetadata["created"] == "" {
			t.Fatal("created metadata missing")
		}
	}
	cases := []struct {
		name string
		opts esdb.ReadStreamOptions
		n    uint64
		want string
	}{
		{"forwards from start", esdb.ReadStreamOptions{From: esdb.Start{}}, 3, "[0 1 2]"},
		{"forwards from revision", esdb.ReadStreamOptions{From: esdb.Revision(7)}, 10, "[7 8 9]"},
		{"forwards from end", esdb.ReadStreamOptions{From: esdb.End{}}, 10, "[]"},
		{"backwards from end", esdb.ReadStreamOptions{From: esdb.End{}, Direction: esdb.Backwards}, 3, "[9 8 7]"},
		{"backwards from revision", esdb.ReadStreamOptions{From: esdb.Revision(2), Direction: esdb.Backwards}, 10, "[2 1 0]"},
		{"backwards from start", esdb.ReadStreamOptions{From: esdb.Start{}, Direction: esdb.Backwards}, 10, "[0]"},
		{"past the end", esdb.ReadStreamOptions{From: esdb.Revision(50)}, 10, "[]"},
	}
	for _, tc := range cases {
		got, err := readStream(t, c, s, tc.opts, tc.n)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r := fmt.Sprint(revisions(got)); r != tc.want && !(tc.want == "[]" && r == "[]") {
			t.Fatalf("%s: got %s want %s", tc.name, r, tc.want)
		}
	}
	_, err = readStream(t, c, "missing-"+uuid.NewString(), esdb.ReadStreamOptions{}, 1)
	wantCode(t, err, esdb.ErrorCodeResourceNotFound)
}

func TestReadAll(t *testing.T) {
	c := esdbtest.Client(t, esdbtest.Start(t))
	var positions []uint64
	for i := 0; i < 6; i++ {
		r, err := c.AppendToStream(ctx(t), fmt.Sprintf("s-%d", i%2), esdb.AppendToStreamOptions{}, ev("T", fmt.Sprintf(`{"i":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, r.CommitPosition)
	}
	pos := func(evs []*esdb.ResolvedEvent) []uint64 {
		var out []uint64
		for _, e := range evs {
			if e.Commit == nil || *e.Commit != e.OriginalEvent().Position.Commit {
				t.Fatalf("read event without matching commit position: %+v", e)
			}
			out = append(out, e.OriginalEvent().Position.Commit)
		}
		return out
	}
	read := func(o esdb.ReadAllOptions, n uint64) []uint64 {
		s, err := c.ReadAll(ctx(t), o, n)
		if err != nil {
			t.Fatal(err)
		}
		return pos(readAll(t, s))
	}
	if got, want := fmt.Sprint(read(esdb.ReadAllOptions{}, 100)), fmt.Sprint(positions); got != want {
		t.Fatalf("forwards from start: %s want %s", got, want)
	}
	p2 := esdb.Position{Commit: positions[2], Prepare: positions[2]}
	if got, want := fmt.Sprint(read(esdb.ReadAllOptions{From: p2}, 2)), fmt.Sprint(positions[2:4]); got != want {
		t.Fatalf("forwards from a position is inclusive: %s want %s", got, want)
	}
	if got, want := fmt.Sprint(read(esdb.ReadAllOptions{From: p2, Direction: esdb.Backwards}, 10)), fmt.Sprint([]uint64{positions[1], positions[0]}); got != want {
		t.Fatalf("backwards from a position is exclusive: %s want %s", got, want)
	}
	if got, want := fmt.Sprint(read(esdb.ReadAllOptions{From: esdb.End{}, Direction: esdb.Backwards}, 2)), fmt.Sprint([]uint64{positions[5], positions[4]}); got != want {
		t.Fatalf("backwards from end: %s want %s", got, want)
	}
	if got := read(esdb.ReadAllOptions{From: esdb.End{}}, 10); len(got) != 0 {
		t.Fatalf("forwards from end: %v", got)
	}
}
