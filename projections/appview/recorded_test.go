package appview_test

import (
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// recorded is event i of one application's stream as the store hands it
// out, occurred at at.
func recorded(tb testing.TB, i int, e schema.Event, at time.Time) eventstore.Recorded {
	tb.Helper()
	typ, ver, data, err := schema.Encode(e)
	if err != nil {
		tb.Fatal(err)
	}
	return eventstore.Recorded{Stream: "application-x", Revision: uint64(i), Position: uint64(10 + i), Data: data,
		Envelope: events.Envelope{Type: typ, SchemaVersion: ver, EventID: typ, Actor: events.Actor{ID: "x", Role: events.RoleApplicant}, OccurredAt: at}}
}
