// Package benchload fills an event store with realistic application
// histories for benchmarks: each application goes through submit, claim,
// an information round, approval and issue — six events, as in the seed's
// journey — written with the real event contract.
package benchload

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// EventsPerApplication is the length of one generated history.
const EventsPerApplication = 6

// Journey returns the events of one application's history.
func Journey(appID, applicantID string, i int, at time.Time) []schema.Event {
	form := schema.Form{
		Applicant: schema.Applicant{LastName: "Каримов", FirstName: "Бахтиёр", LatinName: "KARIMOV BAKHTIYOR", BirthDate: "1990-04-12",
			BirthPlace: "Ташкент", Citizenship: "UZB", Sex: "male"},
		IdentityDocument:  schema.IdentityDocument{Type: schema.IdentityForeignPassport, Series: "FA", Number: fmt.Sprintf("%07d", i), IssuedAt: "2019-05-20", IssuedBy: "MIA", ExpiresAt: "2031-05-19"},
		ResidenceDocument: schema.ResidenceDocument{Type: schema.ResidenceVNZh, Series: "82", Number: fmt.Sprintf("%07d", i%10_000_000), IssuedAt: "2024-03-01", ExpiresAt: "2031-03-01"},
		Address:           schema.Address{Region: fmt.Sprintf("%02d", 1+i%89), City: "Москва", Street: "ул. Тверская", House: "7", PostalCode: "125009"},
		Contacts:          schema.Contacts{Phone: "+79161234567", Email: "user@example.org"},
		Documents: []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: uuid.NewString(), SHA256: "ab", Size: 1000, ContentType: "application/pdf"},
			{Kind: schema.DocumentResidence, ID: uuid.NewString(), SHA256: "cd", Size: 1000, ContentType: "application/pdf"},
			{Kind: schema.DocumentConsent, ID: uuid.NewString(), SHA256: "ef", Size: 1000, ContentType: "application/pdf"}},
		Consent: true,
	}
	enp := fmt.Sprintf("9%015d", i)
	return []schema.Event{
		schema.ApplicationSubmitted{ApplicationID: appID, ApplicantID: applicantID, SubmittedAt: at, Form: form},
		schema.ApplicationClaimed{ApplicationID: appID, ReviewerID: "rev-1", ClaimedAt: at},
		schema.InfoRequested{ApplicationID: appID, ReviewerID: "rev-1", RequestedAt: at, Questions: []schema.Question{{ID: "1.1", Text: "Уточните адрес", Field: "/address/street"}}},
		schema.InfoProvided{ApplicationID: appID, ProvidedAt: at, Answers: []schema.Answer{{QuestionID: "1.1", Text: "Тверская, 7"}}, Documents: form.Documents},
		schema.ApplicationApproved{ApplicationID: appID, ReviewerID: "rev-1", ApprovedAt: at},
		schema.PolicyIssued{ApplicationID: appID, ApplicantID: applicantID, ENP: enp, ValidFrom: "2026-11-26", ValidTo: "2027-11-25",
			Document: schema.PolicyDocument{Number: enp + "-01", Version: 1, IssuedAt: "2026-11-26"}, Region: form.Address.Region, IssuedAt: at},
	}
}

// Fill appends n events (rounded up to whole histories) with the given
// concurrency and reports progress after every application.
func Fill(ctx context.Context, store *eventstore.Store, n, concurrency int, progress func(done int)) error {
	apps := (n + EventsPerApplication - 1) / EventsPerApplication
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	at := time.Now().UTC()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= apps || ctx.Err() != nil {
					return
				}
				// The same id scheme as the command side (UUIDv7, see
				// command/service): ids that grow with time keep the read
				// models' inserts near the end of their indexes.
				id, err := uuid.NewV7()
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				appID := id.String()
				applicantID := fmt.Sprintf("applicant-%d", i)
				evs := Journey(appID, applicantID, i, at)
				out := make([]eventstore.NewEvent, len(evs))
				for j, e := range evs {
					typ, v, data, err := schema.Encode(e)
					if err != nil {
						once.Do(func() { firstErr = err })
						return
					}
					// The subject seals the personal data when the store
					// has a sealer, as omsd's always has.
					out[j] = eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data, Subject: applicantID}
				}
				meta := events.Metadata{Actor: events.Actor{ID: "bench", Role: events.RoleSystem}, CorrelationID: appID}
				if _, err := store.Append(ctx, schema.ApplicationStream(appID), eventstore.NoStream, meta, out...); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				if progress != nil {
					progress(EventsPerApplication)
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
