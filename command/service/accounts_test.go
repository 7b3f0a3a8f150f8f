package service

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// Applications written before the account reservation existed get it from
// the migration: an open one blocks its applicant's next submission, a
// closed one does not, two open ones of one account are reported, and the
// migration runs once.
func TestReserveAccountsCoversOlderApplications(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	legacy := func(applicant string, owner int, number string, closed bool) string {
		t.Helper()
		id := uuid.NewString()
		evs := []schema.Event{schema.ApplicationSubmitted{ApplicationID: id, ApplicantID: applicant, SubmittedAt: now, Form: formOf(owner, number)}}
		if closed {
			evs = append(evs, schema.ApplicationWithdrawn{ApplicationID: id, WithdrawnAt: now})
		}
		var out []eventstore.NewEvent
		for _, e := range evs {
			typ, v, data, err := schema.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data, Subject: applicant})
		}
		// Straight to the store, as the service before the account rule
		// left them: no account reservation.
		if _, err := st.Append(ctx, schema.ApplicationStream(id), eventstore.NoStream, events.Metadata{Actor: events.Actor{ID: applicant, Role: events.RoleApplicant}}, out...); err != nil {
			t.Fatal(err)
		}
		return id
	}
	open1 := legacy("user-1", 1, "N1000001", false)
	legacy("user-2", 2, "N2000001", true)
	legacy("user-3", 3, "N3000001", false)
	legacy("user-3", 3, "N3000002", false) // one account, two open: a conflict

	// Before the migration the rule cannot see them.
	res, err := s.ReserveAccounts(ctx)
	if err != nil || !res.Ran || res.Changed != 2 || res.Conflicts != 1 {
		t.Fatalf("migration: %+v %v, want 2 reserved and 1 conflict", res, err)
	}
	_, err = s.Submit(ctx, Request{Meta: applicant}, formOf(1, "N1000002"))
	if e, ok := cmderr.As(err); !ok || e.Code != "duplicate_application" || e.ExistingApplicationID != open1 {
		t.Fatalf("user-1's second application after the migration: %v", err)
	}
	if _, err := s.Submit(ctx, Request{Meta: another}, formOf(2, "N2000002")); err != nil {
		t.Fatalf("user-2, whose older application is closed: %v", err)
	}
	if again, err := s.ReserveAccounts(ctx); err != nil || again.Ran {
		t.Fatalf("second run: %+v %v, want nothing done", again, err)
	}
}
