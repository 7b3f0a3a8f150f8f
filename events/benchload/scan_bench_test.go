package benchload_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// BenchmarkCatchUpTypes is what an erasure pays to find an applicant's
// uploads (service.uploadsOf): a read of the whole log for one event type,
// filtered by the server, with the owner of each upload decoded. The log
// holds OMS_BENCH_EVENTS application events (default 120k) and half as many
// uploads besides (three per application of six events), so a third of
// what it holds is sent back.
//
//	OMS_BENCH_EVENTS=1000000 go test -run '^$' -bench CatchUpTypes -benchtime 3x ./events/benchload/
func BenchmarkCatchUpTypes(b *testing.B) {
	n := benchEvents()
	uploads := n / 2
	ctx := context.Background()
	es := esdbtest.Store(b, eventstore.Options{})
	if err := benchload.Fill(ctx, es, n, 32, nil); err != nil {
		b.Fatal(err)
	}
	if err := fillUploads(ctx, es, uploads); err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	for b.Loop() {
		start := time.Now()
		found, mine := 0, 0
		err := es.CatchUpTypes(ctx, nil, []string{schema.TypeDocumentUploaded}, func(r eventstore.Recorded) error {
			var d struct {
				OwnerID string `json:"ownerId"`
				SHA256  string `json:"sha256"`
			}
			if err := json.Unmarshal(r.Data, &d); err != nil {
				return err
			}
			found++
			if d.OwnerID == "owner-7" {
				mine++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		if found != uploads || mine != 3 {
			b.Fatalf("found %d uploads, %d of owner-7; want %d and 3", found, mine, uploads)
		}
	}
	b.ReportMetric(float64(n+uploads)*float64(b.N)/took.Seconds(), "events-scanned/s")
	b.ReportMetric(took.Seconds()/float64(b.N), "s/scan")
}

// fillUploads appends n DocumentUploaded events, three per owner.
func fillUploads(ctx context.Context, es *eventstore.Store, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	at := time.Now().UTC()
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				up := schema.DocumentUploaded{DocumentID: uuid.NewString(), OwnerID: fmt.Sprintf("owner-%d", i/3), Kind: schema.DocumentPassport,
					SHA256: fmt.Sprintf("%064x", i), Size: 1000, ContentType: "application/pdf", UploadedAt: at}
				typ, v, data, err := schema.Encode(up)
				if err == nil {
					_, err = es.Append(ctx, schema.DocumentStream(up.DocumentID), eventstore.NoStream, events.Metadata{},
						eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
