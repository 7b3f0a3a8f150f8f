package appview_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

const subject = "applicant-erase-1"

// journey is one application's events as the write side would append them,
// with personal data in every place the contract has it: the form, a
// correction of the surname and the address, answers, a renewal with a new
// residence document, an address change, and finally the erasure.
func journey(t0 time.Time) []schema.Event {
	form := schema.Form{
		Applicant: schema.Applicant{LastName: "Каримов", FirstName: "Алишер", LatinName: "KARIMOV ALISHER",
			BirthDate: "1990-05-14", BirthPlace: "Ташкент", Citizenship: "UZB", Sex: "male"},
		IdentityDocument:  schema.IdentityDocument{Type: schema.IdentityForeignPassport, Series: "FA", Number: "1234567", IssuedAt: "2020-01-01", IssuedBy: "МВД", ExpiresAt: "2030-01-01"},
		ResidenceDocument: schema.ResidenceDocument{Type: schema.ResidenceRVP, Number: "5553331", IssuedAt: "2025-01-10", ExpiresAt: "2028-01-10"},
		Address:           schema.Address{Region: "77", City: "Москва", Street: "ул. Тверская", House: "7", PostalCode: "125009"},
		Contacts:          schema.Contacts{Phone: "+79161234567", Email: "alisher@example.com"},
		Documents:         []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: "d1", SHA256: strings.Repeat("a", 64)}},
		Consent:           true,
	}
	at := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	newName := form.Applicant
	newName.LastName, newName.MiddleName = "Каримов-Ли", "Бахтиёрович"
	newAddr := form.Address
	newAddr.Street = "ул. Арбат"
	return []schema.Event{
		schema.ApplicationSubmitted{ApplicationID: "app-1", ApplicantID: subject, SubmittedAt: at(0), Form: form,
			ConsentDocument: &schema.ConsentDocument{Version: "2025-09-01", TextSHA256: strings.Repeat("b", 64), Method: schema.ConsentSignedOnPaper, DocumentID: "d3", SignedAt: at(0)}},
		schema.ApplicationClaimed{ApplicationID: "app-1", ReviewerID: "rev-1", ClaimedAt: at(1)},
		schema.InfoRequested{ApplicationID: "app-1", ReviewerID: "rev-1", RequestedAt: at(2), Questions: []schema.Question{{ID: "1.1", Text: "Фамилия?"}, {ID: "1.2", Text: "Адрес?"}}},
		schema.InfoProvided{ApplicationID: "app-1", ProvidedAt: at(3), Answers: []schema.Answer{{QuestionID: "1.1", Text: "Двойная фамилия Каримов-Ли"}},
			Corrections: schema.Corrections{Applicant: &newName, Address: &newAddr}, Documents: form.Documents},
		schema.ApplicationApproved{ApplicationID: "app-1", ReviewerID: "rev-1", ApprovedAt: at(4)},
		schema.PolicyIssued{ApplicationID: "app-1", ApplicantID: subject, ENP: "1234567890123452", ValidFrom: "2020-01-10", ValidTo: "2021-01-09", Region: "77", IssuedAt: at(4),
			Document: schema.PolicyDocument{Number: "1234567890123452-01", Version: 1, IssuedAt: "2020-01-10"}},
		schema.AddressChanged{ApplicationID: "app-1", Address: schema.Address{Region: "50", City: "Химки", Street: "Ленинградская", House: "1", PostalCode: "141400"}, ChangedAt: at(5), ENP: "1234567890123452",
			ValidFrom: "2020-01-10", ValidTo: "2021-01-09", Document: schema.PolicyDocument{Number: "1234567890123452-02", Version: 2, IssuedAt: "2020-01-15"}},
		schema.PolicyRenewed{ApplicationID: "app-1", ENP: "1234567890123452", ValidFrom: "2021-01-10", ValidTo: "2022-01-09",
			ResidenceDocument: schema.ResidenceDocument{Type: schema.ResidenceVNZh, Number: "99 1234567", IssuedAt: "2021-01-01"}, RenewedAt: at(6),
			Document: schema.PolicyDocument{Number: "1234567890123452-03", Version: 3, IssuedAt: "2021-01-10"}},
		schema.PolicyExpired{ApplicationID: "app-1", ENP: "1234567890123452", ValidTo: "2022-01-09", ExpiredAt: at(7)},
		schema.ConsentWithdrawn{ApplicationID: "app-1", WithdrawnAt: at(8), Reason: "Переезжаю к Каримовым в Ташкент", RetainUntil: "2027-01-09"},
		schema.ApplicantDataErased{ApplicationID: "app-1", ApplicantID: subject, Basis: schema.EraseRetentionEnded, ErasedAt: at(9)},
	}
}

// TestEraseMatchesErasedFold checks the rule every projection relies on:
// folding the events while the key exists and then applying the erasure
// (Erase on the view, EraseChanges on the history) gives exactly what
// folding the same stored events gives once the key is gone, which is what
// a rebuild after the erasure sees.
func TestEraseMatchesErasedFold(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	keys, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: make([]byte, 32), Vault: store})
	if err != nil {
		t.Fatal(err)
	}
	sealer := piicrypt.NewSealer(keys, piicrypt.Personal{Sections: schema.PersonalSections, Clear: schema.PersonalClearKeys})

	t0 := time.Date(2020, 1, 1, 9, 0, 0, 0, time.UTC)
	var stored []eventstore.Recorded
	for i, e := range journey(t0) {
		typ, v, data, err := schema.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := sealer.Seal(ctx, subject, typ, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"Каримов", "1234567", "Тверская", "alisher@", "Ташкент"} {
			if strings.Contains(string(sealed), secret) && typ != schema.TypePolicyIssued && typ != schema.TypeAddressChanged && typ != schema.TypePolicyRenewed && typ != schema.TypePolicyExpired {
				t.Fatalf("%s stored with %q in the clear: %s", typ, secret, sealed)
			}
		}
		stored = append(stored, eventstore.Recorded{Stream: "application-app-1", Revision: uint64(i), Position: uint64(100 + i),
			Data: sealed, Envelope: events.Envelope{Type: typ, SchemaVersion: v, EventID: typ, Actor: events.Actor{ID: "x", Role: events.RoleApplicant}, OccurredAt: t0}})
	}
	fold := func(evs []eventstore.Recorded, eraseBefore bool) (appview.View, [][]appview.Change) {
		var v appview.View
		var diffs [][]appview.Change
		for _, r := range evs {
			opened, err := sealer.Open(ctx, r.Envelope.Type, r.Data)
			if err != nil {
				t.Fatal(err)
			}
			r.Data = opened
			before := v
			if err := appview.Apply(&v, r); err != nil {
				t.Fatal(err)
			}
			if eraseBefore && r.Envelope.Type == schema.TypeApplicantDataErased {
				appview.Erase(&before)
			}
			d, _ := appview.Diff(before, v)
			diffs = append(diffs, d)
		}
		return v, diffs
	}
	live, liveDiffs := fold(stored, true)
	if live.Form.Applicant.LastName != piicrypt.Marker || live.Erased == nil {
		t.Fatalf("erasure left %+v", live.Form.Applicant)
	}
	// What the history projection does to the entries before the erasure.
	for i := range liveDiffs[:len(liveDiffs)-1] {
		if liveDiffs[i], err = appview.EraseChanges(liveDiffs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := keys.Erase(ctx, subject); err != nil {
		t.Fatal(err)
	}
	erased, erasedDiffs := fold(stored, false)

	if a, b := asJSON(t, live), asJSON(t, erased); !reflect.DeepEqual(a, b) {
		t.Fatalf("view after live erasure differs from the erased fold:\nlive   %v\nerased %v", a, b)
	}
	for i := range liveDiffs {
		if a, b := asJSON(t, liveDiffs[i]), asJSON(t, erasedDiffs[i]); !reflect.DeepEqual(a, b) {
			t.Errorf("history entry %d (%s):\nlive   %v\nerased %v", i, stored[i].Envelope.Type, a, b)
		}
	}
	all, _ := json.Marshal([]any{live, liveDiffs, erased, erasedDiffs})
	for _, secret := range []string{"Каримов", "Алишер", "KARIMOV", "1234567\"", "Тверская", "Арбат", "alisher@", "+7916", "Ташкент", "Химки", "Бахтиёрович", "5553331", "99 1234567"} {
		if i := strings.Index(string(all), secret); i >= 0 {
			t.Errorf("%q survived the erasure: …%s…", secret, all[max(0, i-200):i+20])
		}
	}
	// Codes the read side filters on stay.
	if erased.Form.Address.Region != "50" || erased.Form.IdentityDocument.Type != schema.IdentityForeignPassport || erased.Policy.ENP != "1234567890123452" {
		t.Errorf("clear codes lost: %+v %+v", erased.Form.Address, erased.Policy)
	}
}

// asJSON is v as the runner stores it (go-json, which writes zero times
// that encoding/json's omitzero would leave out) and reads it back.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := gojson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The owner's view leaves the staff's ids out altogether: not as empty
// members ("askedBy": "", "by": ""), which read as something withheld.
func TestOwnerViewHasNoEmptyStaffMembers(t *testing.T) {
	v := appview.View{
		Questions: []appview.Question{{AskedBy: "rev-1"}},
		Decision:  &appview.Decision{Outcome: "rejected", By: "rev-1"},
		Erased:    &appview.Erasure{Basis: "subject_request", By: "admin-1"},
	}
	b, err := json.Marshal(appview.ForOwner(v))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{`"askedBy"`, `"by"`, "rev-1", "admin-1"} {
		if strings.Contains(string(b), m) {
			t.Errorf("the owner's view has %s: %s", m, b)
		}
	}
}

// A diff still in memory holds Go values, not JSON ones (an erasure that
// follows its event within one batch reads the entry before the store
// does): their personal data go too, and the value the diff shares with
// the view is left as it was.
func TestEraseChangesOfGoValues(t *testing.T) {
	w := &appview.Withdrawal{At: time.Date(2026, 11, 28, 0, 16, 0, 0, time.UTC), Reason: "Переезжаю в Ташкент"}
	out, err := appview.EraseChanges([]appview.Change{{Path: "/withdrawn", Op: "add", To: w}})
	if err != nil {
		t.Fatal(err)
	}
	to, _ := json.Marshal(out[0].To)
	if strings.Contains(string(to), "Ташкент") || !strings.Contains(string(to), piicrypt.Marker) {
		t.Errorf("the erased change is %s", to)
	}
	if w.Reason != "Переезжаю в Ташкент" {
		t.Errorf("the shared value was changed: %+v", w)
	}
}
