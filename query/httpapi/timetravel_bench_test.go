package httpapi_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/query/httpapi"
)

// BenchmarkTimeTravel loads a 200-event application stream from the
// embedded event store through the v4 client and folds it with the
// per-step diffs, as GET /applications/:id/state does.
func BenchmarkTimeTravel(b *testing.B) {
	srv := esdbtest.Start(b)
	store, err := eventstore.Open(eventstore.Options{URL: esdbtest.URL(srv)})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	appID := uuid.NewString()
	at := time.Now().UTC()
	// A long-lived application: three information rounds before the
	// decision, then years of address changes, reminders and renewals.
	j := benchload.Journey(appID, "alice", 1, at)
	evs := []schema.Event{j[0], j[1], j[2], j[3], j[2], j[3], j[2], j[3], j[4], j[5]}
	issued := j[5].(schema.PolicyIssued)
	for v := 2; len(evs) < 200; v++ {
		doc := schema.PolicyDocument{Number: fmt.Sprintf("%s-%02d", issued.ENP, v), Version: v, IssuedAt: "2027-01-01"}
		addr := schema.Address{Region: fmt.Sprintf("%02d", 1+v%89), City: "Казань", Street: "ул. Баумана", House: strconv.Itoa(v), PostalCode: "420111"}
		switch v % 3 {
		case 0:
			evs = append(evs, schema.AddressChanged{ApplicationID: appID, Address: addr, ChangedAt: at, ENP: issued.ENP, ValidFrom: issued.ValidFrom, ValidTo: issued.ValidTo, Document: doc})
		case 1:
			evs = append(evs, schema.RenewalDue{ApplicationID: appID, ENP: issued.ENP, ValidTo: issued.ValidTo, RemindedAt: at})
		default:
			evs = append(evs, schema.PolicyRenewed{ApplicationID: appID, ENP: issued.ENP, ValidFrom: "2027-11-26", ValidTo: "2028-11-25", Document: doc, RenewedAt: at})
		}
	}
	var out []eventstore.NewEvent
	for _, e := range evs {
		typ, v, data, err := schema.Encode(e)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
	}
	if _, err := store.Append(ctx, schema.ApplicationStream(appID), eventstore.NoStream, events.Metadata{Actor: events.Actor{ID: "r", Role: "reviewer"}}, out...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs, err := store.Load(ctx, schema.ApplicationStream(appID))
		if err != nil {
			b.Fatal(err)
		}
		st, err := httpapi.Replay(appID, recs, ^uint64(0), time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Steps) != 200 || st.State.Status != "policy_active" {
			b.Fatalf("replayed %d steps to %s", len(st.Steps), st.State.Status)
		}
	}
}
