package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// samples has one populated payload per registered type.
func samples() []schema.Event {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	doc := schema.PolicyDocument{Number: "1234567890123452-01", Version: 1, IssuedAt: "2026-03-01"}
	return []schema.Event{
		schema.ApplicationSubmitted{ApplicationID: "a", ApplicantID: "u", SubmittedAt: at, Form: schema.Form{
			Applicant: schema.Applicant{LastName: "Иванов", FirstName: "Иван", BirthDate: "1990-01-02", Citizenship: "UZB", Sex: "male"},
			Address:   schema.Address{Region: "77", City: "Москва", PostalCode: "101000"},
			Documents: []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: "d", SHA256: "ab", Size: 3, ContentType: "image/png"}},
			Consent:   true,
		}},
		schema.ApplicationClaimed{ApplicationID: "a", ReviewerID: "r", ClaimedAt: at},
		schema.ClaimReleased{ApplicationID: "a", ReviewerID: "r", ReleasedBy: "admin-1", ReleasedAt: at, Reason: "on leave"},
		schema.InfoRequested{ApplicationID: "a", ReviewerID: "r", RequestedAt: at, Questions: []schema.Question{{ID: "1.1", Text: "?", Field: "/address/city"}}},
		schema.InfoProvided{ApplicationID: "a", ProvidedAt: at, Answers: []schema.Answer{{QuestionID: "1.1", Text: "!"}}, Corrections: schema.Corrections{Address: &schema.Address{City: "Тверь"}}},
		schema.ApplicationApproved{ApplicationID: "a", ReviewerID: "r", ApprovedAt: at},
		schema.ApplicationRejected{ApplicationID: "a", ReviewerID: "r", RejectedAt: at, ReasonCode: schema.RejectOther, Reason: "x"},
		schema.PolicyIssued{ApplicationID: "a", ApplicantID: "u", ENP: "1234567890123452", ValidFrom: "2026-03-01", ValidTo: "2027-02-28", Document: doc, Region: "77", IssuedAt: at},
		schema.AddressChanged{ApplicationID: "a", Address: schema.Address{Region: "78"}, ChangedAt: at, ENP: "1234567890123452", Document: doc},
		schema.PolicyRenewed{ApplicationID: "a", ENP: "1234567890123452", ValidFrom: "2027-03-01", ValidTo: "2028-02-29", Document: doc, RenewedAt: at},
		schema.ApplicationWithdrawn{ApplicationID: "a", WithdrawnAt: at, Reason: "moved"},
		schema.PolicyExpired{ApplicationID: "a", ENP: "1234567890123452", ValidTo: "2027-02-28", ExpiredAt: at},
		schema.RenewalDue{ApplicationID: "a", ENP: "1234567890123452", ValidTo: "2027-02-28", RemindedAt: at},
		schema.ConsentWithdrawn{ApplicationID: "a", WithdrawnAt: at, Reason: "moving", ClosedApplication: true, RetainUntil: "2031-02-28"},
		schema.ApplicantDataErased{ApplicationID: "a", ApplicantID: "u", Basis: schema.EraseOnRequest, ErasedAt: at, ScansDeleted: 3},
		schema.DocumentUploaded{DocumentID: "d", OwnerID: "u", Kind: schema.DocumentConsent, SHA256: "ab", Size: 3, ContentType: "application/pdf", UploadedAt: at},
		schema.PersonReserved{ApplicationID: "a", PersonKey: "k", ReservedAt: at},
		schema.MigrationCompleted{Name: "account-reservations", Changed: 3, Conflicts: 1, CompletedAt: at},
		schema.ENPReserved{ENP: "1234567890123452", ApplicationID: "a", ReservedAt: at},
		schema.IdempotencyClaimed{Fingerprint: "f", Command: "Approve", ApplicationID: "a", CommandID: "c", ClaimedAt: at},
		schema.IdempotencyCompleted{Fingerprint: "f", Result: schema.CommandResult{ApplicationID: "a", Revision: 3, Position: 99}, CompletedAt: at},
		schema.IdempotencyReleased{Reason: "validation", ReleasedAt: at},
		schema.SessionEnded{SessionID: "s", ExpiresAt: at.Add(time.Hour), EndedAt: at},
		schema.VisitCodeIssued{CodeDigest: "c", IssuedAt: at, ExpiresAt: at.Add(15 * time.Minute)},
		schema.VisitCodeRefused{OperatorID: "op", RefusedAt: at},
		schema.VisitOpened{OperatorID: "op", OpenedAt: at, Until: at.Add(4 * time.Hour), CodeDigest: "c", CodeExpiresAt: at.Add(10 * time.Minute)},
		schema.VisitClosed{OperatorID: "op", ClosedAt: at},
		schema.DocumentDiscarding{DocumentID: "d", UploadedAt: at.Add(-30 * 24 * time.Hour), MarkedAt: at},
		schema.DocumentKept{DocumentID: "d", KeptAt: at},
		schema.DocumentDiscarded{DocumentID: "d", DiscardedAt: at},
		schema.UploadsSwept{UploadsThrough: 10, MarksThrough: 5, SweptAt: at},
		schema.PersonalDataAccessed{ApplicationIDs: []string{"a"}, ApplicantID: "u", DocumentID: "d", What: schema.AccessDocument + schema.DocumentPassport, Route: "GET /api/v1/documents/:id", AccessedAt: at},
	}
}

func TestEveryTypeRoundTrips(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range samples() {
		typ, v, data, err := schema.Encode(e)
		if err != nil {
			t.Fatalf("encode %T: %v", e, err)
		}
		seen[typ] = true
		got, err := schema.Decode(typ, v, data)
		if err != nil {
			t.Fatalf("decode %s: %v", typ, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%s round trip:\n got %#v\nwant %#v", typ, got, e)
		}
	}
	for _, typ := range schema.Types() {
		if !seen[typ] {
			t.Errorf("registered type %s has no sample", typ)
		}
	}
}

// TestPayloadFieldsAreLowerCamelCase guards the contract rule that every
// payload field has an explicit lowerCamelCase json tag.
func TestPayloadFieldsAreLowerCamelCase(t *testing.T) {
	var check func(reflect.Type, string)
	check = func(rt reflect.Type, path string) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || rt == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range rt.NumField() {
			f := rt.Field(i)
			if f.Anonymous {
				check(f.Type, path)
				continue
			}
			tag := f.Tag.Get("json")
			name := tag
			for j, c := range tag {
				if c == ',' {
					name = tag[:j]
					break
				}
			}
			if name == "" || name[0] < 'a' || name[0] > 'z' {
				t.Errorf("%s.%s: json tag %q is not lowerCamelCase", path, f.Name, tag)
			}
			check(f.Type, path+"."+f.Name)
		}
	}
	for _, e := range samples() {
		check(reflect.TypeOf(e), e.EventType())
	}
}

func TestDecodeUnknownAndFutureVersions(t *testing.T) {
	if _, err := schema.Decode("NoSuchEvent", 1, json.RawMessage(`{}`)); !errors.Is(err, schema.ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := schema.Decode(schema.TypeApplicationSubmitted, 3, json.RawMessage(`{}`)); !errors.Is(err, schema.ErrUnsupportedVersion) {
		t.Errorf("future version: %v", err)
	}
	// Readers tolerate fields they do not know yet.
	e, err := schema.Decode(schema.TypeApplicationClaimed, 1, json.RawMessage(`{"applicationId":"a","reviewerId":"r","newField":1}`))
	if err != nil || e.(schema.ApplicationClaimed).ReviewerID != "r" {
		t.Errorf("unknown field: %v %v", e, err)
	}
}

const submittedV1 = `{
  "applicationId": "0b9f2d1e-6c1a-4d7e-9a51-3f2a8e7c4b10",
  "applicantId": "user-1",
  "submittedAt": "2025-05-01T10:00:00Z",
  "applicant": {"fullName": "Рахимов  Алишер Бахтиёр угли", "birthDate": "1990-04-05", "citizenship": "UZB", "sex": "male"},
  "address": {"region": "77", "city": "Москва", "street": "Тверская", "house": "1", "postalCode": "125009"},
  "consent": true
}`

func TestUpcastSubmittedV1SplitsFullName(t *testing.T) {
	e, err := schema.Decode(schema.TypeApplicationSubmitted, 1, json.RawMessage(submittedV1))
	if err != nil {
		t.Fatal(err)
	}
	s := e.(schema.ApplicationSubmitted)
	a := s.Applicant
	if a.LastName != "Рахимов" || a.FirstName != "Алишер" || a.MiddleName != "Бахтиёр угли" {
		t.Errorf("split: %+v", a)
	}
	if a.BirthDate != "1990-04-05" || s.Address.City != "Москва" || s.ApplicantID != "user-1" || !s.Consent {
		t.Errorf("other fields lost: %+v", s)
	}
	raw, _ := schema.Upcast(schema.TypeApplicationSubmitted, 1, json.RawMessage(submittedV1))
	var m map[string]map[string]any
	_ = json.Unmarshal(raw, &m)
	if _, still := m["applicant"]["fullName"]; still {
		t.Error("fullName survived the upcast")
	}
	for _, name := range []string{"Иванов", "Ли Мин"} {
		raw, err := schema.Upcast(schema.TypeApplicationSubmitted, 1, json.RawMessage(`{"applicant":{"fullName":"`+name+`"}}`))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s -> %s", name, raw)
	}
	if _, err := schema.Upcast(schema.TypeApplicationSubmitted, 1, json.RawMessage(`[1]`)); err == nil {
		t.Error("a non-object v1 payload upcast without error")
	}
}

// TestUpcastThroughTheStore writes a v1 event the way the old service did
// and reads it back through the real event store, as projections do.
func TestUpcastThroughTheStore(t *testing.T) {
	st := esdbtest.Store(t, eventstore.Options{})
	ctx := context.Background()
	stream := schema.ApplicationStream("0b9f2d1e-6c1a-4d7e-9a51-3f2a8e7c4b10")
	meta := events.Metadata{Actor: events.Actor{ID: "user-1", Role: events.RoleApplicant}}
	if _, err := st.Append(ctx, stream, eventstore.NoStream, meta, eventstore.NewEvent{
		Type: schema.TypeApplicationSubmitted, SchemaVersion: 1, Data: json.RawMessage(submittedV1),
	}); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Load(ctx, stream)
	if err != nil || len(recs) != 1 {
		t.Fatalf("load: %v %d", err, len(recs))
	}
	r := recs[0]
	if r.Envelope.SchemaVersion != 1 {
		t.Fatalf("stored version %d", r.Envelope.SchemaVersion)
	}
	e, err := schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.(schema.ApplicationSubmitted).Applicant.FirstName; got != "Алишер" {
		t.Errorf("first name %q", got)
	}
}

func TestSubmittedIsFlat(t *testing.T) {
	_, v, data, err := schema.Encode(schema.ApplicationSubmitted{ApplicationID: "a", ApplicantID: "u", Form: schema.Form{Consent: true}})
	if err != nil || v != 2 {
		t.Fatal(err, v)
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(data, &m)
	for _, k := range []string{"applicationId", "applicantId", "submittedAt", "applicant", "identityDocument", "residenceDocument", "address", "contacts", "documents", "consent"} {
		if _, ok := m[k]; !ok {
			t.Errorf("payload lacks %q: %s", k, data)
		}
	}
}

// TestInvalidUTF8DecodesAsReplacementCharacter pins the decoder to
// encoding/json's rule for invalid bytes in strings: each becomes U+FFFD,
// so a decoded event never carries bytes that its own encoding would
// change (found by FuzzDecode after the switch to goccy/go-json).
func TestInvalidUTF8DecodesAsReplacementCharacter(t *testing.T) {
	for _, typ := range []string{"RenewalDue", "ApplicationApproved", "InfoProvided"} {
		data := []byte("{\"applicationId\":\"a\xffb\xc3\"}")
		e, err := schema.Decode(typ, 1, data)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		got := reflect.ValueOf(e).FieldByName("ApplicationID").String()
		if got != "a\uFFFDb\uFFFD" {
			t.Errorf("%s: applicationId = %q, want %q", typ, got, "a\uFFFDb\uFFFD")
		}
	}
}
