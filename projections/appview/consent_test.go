package appview_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// The view's consent is the latest signed: an answer or a renewal that
// brings a new consent scan moves it to that paper, and one without leaves
// it where it was.
func TestConsentFollowsTheLatestSignedScan(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	evs := benchload.Journey(uuid.NewString(), "alice", 3, t0)
	sub := evs[0].(schema.ApplicationSubmitted)
	sub.ConsentDocument = &schema.ConsentDocument{Version: "2025-09-01", TextSHA256: "ab", Method: schema.ConsentSignedOnPaper, DocumentID: "consent-1", SignedAt: t0}
	evs[0] = sub
	signed2 := t0.Add(time.Hour)
	provided := evs[3].(schema.InfoProvided)
	plain := provided // an answer without a new consent scan
	provided.ConsentDocument = &schema.ConsentDocument{Version: "2025-09-01", TextSHA256: "ab", Method: schema.ConsentSignedOnPaper, DocumentID: "consent-2", SignedAt: signed2}

	fold := func(all ...schema.Event) appview.View {
		t.Helper()
		var v appview.View
		for i, e := range all {
			if err := appview.Apply(&v, recorded(t, i, e, t0)); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	if v := fold(evs[0], evs[1], evs[2], plain); v.Consent == nil || v.Consent.DocumentID != "consent-1" || !v.Consent.SignedAt.Equal(t0) {
		t.Fatalf("after an answer without a consent scan: %+v", v.Consent)
	}
	if v := fold(evs[0], evs[1], evs[2], provided); v.Consent == nil || v.Consent.DocumentID != "consent-2" || !v.Consent.SignedAt.Equal(signed2) {
		t.Fatalf("after an answer with a new consent scan: %+v", v.Consent)
	}
	issued := evs[5].(schema.PolicyIssued)
	renewed := schema.PolicyRenewed{ApplicationID: issued.ApplicationID, ENP: issued.ENP, ValidFrom: "2027-11-26", ValidTo: "2028-11-25",
		Document: schema.PolicyDocument{Number: issued.ENP + "-02", Version: 2, IssuedAt: "2027-11-01"}, RenewedAt: t0.AddDate(1, 0, 0),
		ConsentDocument: &schema.ConsentDocument{Version: "2025-09-01", Method: schema.ConsentSignedOnPaper, DocumentID: "consent-3", SignedAt: t0.AddDate(1, 0, 0)}}
	if v := fold(append(evs[:3:3], plain, evs[4], evs[5], renewed)...); v.Consent == nil || v.Consent.DocumentID != "consent-3" {
		t.Fatalf("after a renewal with a new consent scan: %+v", v.Consent)
	}
}
