package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/command/httpapi/reqbody"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/events/testclock"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

// stack is the real command side: the embedded event store behind the v4
// client, the SQLite blob store, the services and a Fiber app.
type stack struct {
	t     *testing.T
	url   string
	clock *testclock.Clock
	store *eventstore.Store
	keys  *piicrypt.Keyring
	svc   *service.Service
	docs  *document.Service
	blobs document.BlobStore
	app   *fiber.App
}

func newStack(t *testing.T, cfg application.Config, tune ...func(*service.Options)) *stack {
	t.Helper()
	srv := esdbtest.Start(t)
	s := &stack{t: t, url: esdbtest.URL(srv), clock: testclock.New(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))}
	blobs, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	// The write side as omsd runs it: personal data sealed on append.
	s.keys, err = piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: make([]byte, 32), Vault: blobs})
	if err != nil {
		t.Fatal(err)
	}
	s.store = s.openStore()
	s.blobs = blobs
	s.docs, err = document.New(document.Options{Store: s.store, Blobs: blobs, Keys: s.keys, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	opts := service.Options{Store: s.store, Documents: s.docs, Config: cfg, Now: s.clock.Now}
	for _, f := range tune {
		f(&opts)
	}
	s.svc, err = service.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.app = newApp(t, s.svc, s.docs)
	return s
}

func (s *stack) openStore() *eventstore.Store {
	st, err := eventstore.Open(eventstore.Options{URL: s.url, Now: s.clock.Now,
		Sealer: piicrypt.NewSealer(s.keys, piicrypt.Personal{Sections: schema.PersonalSections, Clear: schema.PersonalClearKeys})})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { st.Close() })
	return st
}

func newApp(t testing.TB, svc *service.Service, docs *document.Service) *fiber.App {
	// Bodies streamed, as omsd takes them (see Register).
	app := fiber.New(fiber.Config{BodyLimit: httpapi.MinAppBodyLimit, ErrorHandler: httpapi.ErrorHandler, DisableStartupMessage: true,
		StreamRequestBody: true, DisablePreParseMultipartForm: true})
	app.Use(reqbody.Guard(httpapi.MinAppBodyLimit, func(c *fiber.Ctx, why error) error {
		if errors.Is(why, reqbody.ErrNoLength) {
			return fiber.ErrLengthRequired
		}
		return fiber.ErrRequestEntityTooLarge
	}))
	app.Use(testAuth)
	if err := httpapi.Register(app, httpapi.Deps{Commands: svc, Documents: docs, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	return app
}

// testAuth stands in for the real middleware: it takes the caller from
// test headers.
func testAuth(c *fiber.Ctx) error {
	if id := c.Get("X-Test-Subject"); id != "" {
		c.SetUserContext(events.WithMetadata(c.UserContext(), events.Metadata{
			Actor:         events.Actor{ID: id, Role: c.Get("X-Test-Role")},
			OnBehalfOf:    c.Get("X-Test-On-Behalf-Of"),
			CorrelationID: c.Get("X-Request-Id"),
		}))
	}
	return c.Next()
}

// who is a caller of the API.
type who struct{ id, role, onBehalfOf string }

var (
	applicant  = who{"user-1", events.RoleApplicant, ""}
	applicant2 = who{"user-2", events.RoleApplicant, ""}
	operator   = who{"op-1", events.RoleOperator, "user-1"}
	reviewer   = who{"rev-1", events.RoleReviewer, ""}
	auditor    = who{"aud-1", events.RoleAuditor, ""}
	anonymous  = who{}
)

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) result(t *testing.T) service.Result {
	t.Helper()
	var res service.Result
	r.json(t, &res)
	return res
}

func (r response) problem(t *testing.T) httpapi.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != httpapi.ContentTypeProblem {
		t.Fatalf("content type %q, body %s", ct, r.body)
	}
	var p httpapi.Problem
	r.json(t, &p)
	if p.Status != r.status || p.Title == "" || p.Detail.RU == "" || p.Detail.EN == "" || p.Code == "" {
		t.Fatalf("incomplete problem %s", r.body)
	}
	return p
}

func (s *stack) send(req *http.Request, w who, headers ...string) response {
	s.t.Helper()
	if w.id != "" {
		req.Header.Set("X-Test-Subject", w.id)
		req.Header.Set("X-Test-Role", w.role)
		req.Header.Set("X-Test-On-Behalf-Of", w.onBehalfOf)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := s.app.Test(req, -1)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// post sends a JSON body (a string is sent as is).
func (s *stack) post(path string, w who, body any, headers ...string) response {
	s.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			s.t.Fatal(err)
		}
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(raw))
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.send(req, w, headers...)
}

func (s *stack) get(path string, w who) response {
	return s.send(httptest.NewRequest(http.MethodGet, path, nil), w)
}

// upload sends a multipart upload.
func (s *stack) upload(w who, kind string, content []byte) response {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if kind != "" {
		_ = mw.WriteField("kind", kind)
	}
	fw, _ := mw.CreateFormFile("file", "scan.bin")
	_, _ = fw.Write(content)
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return s.send(req, w)
}

// Minimal files of each accepted type. The images are real: uploads read
// their dimensions.
var (
	pngFile  = encodeImage(png.Encode)
	jpegFile = encodeImage(func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) })
	pdfFile  = []byte("%PDF-1.7\n%scan\n%%EOF\n")
)

func encodeImage(enc func(io.Writer, image.Image) error) []byte {
	var buf bytes.Buffer
	if err := enc(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// tagged makes file a file of its own, tag written where its format
// lets bytes be: in a PDF a comment before its %%EOF, after an image's end
// as a short trailer.
func tagged(file []byte, tag string) []byte {
	if i := bytes.LastIndex(file, []byte("%%EOF")); bytes.HasPrefix(file, []byte("%PDF-")) && i >= 0 {
		return slices.Concat(file[:i], []byte("% "+tag+"\n"), file[i:])
	}
	return slices.Concat(file, []byte(tag))
}

// scans uploads the three scans for w and returns their document refs.
func (s *stack) scans(w who) []schema.DocumentRef {
	s.t.Helper()
	var refs []schema.DocumentRef
	for _, up := range []struct {
		kind string
		file []byte
	}{{schema.DocumentPassport, pngFile}, {schema.DocumentResidence, pdfFile}, {schema.DocumentConsent, jpegFile}} {
		r := s.upload(w, up.kind, tagged(up.file, w.id))
		if r.status != fiber.StatusCreated {
			s.t.Fatalf("upload %s: %d %s", up.kind, r.status, r.body)
		}
		var doc struct{ ID string }
		r.json(s.t, &doc)
		refs = append(refs, schema.DocumentRef{Kind: up.kind, ID: doc.ID})
	}
	return refs
}

// form is a valid form of user-1's (or whoever's) passport number.
func form(number string, docs []schema.DocumentRef) schema.Form {
	series, permit := residenceNumber(number)
	return schema.Form{
		Applicant: schema.Applicant{LastName: "Рахимов", FirstName: "Алишер", MiddleName: "Бахтиёр угли", LatinName: "RAKHIMOV ALISHER",
			BirthDate: "1990-04-05", BirthPlace: "Ташкент", Citizenship: "UZB", Sex: "male"},
		IdentityDocument: schema.IdentityDocument{Type: schema.IdentityForeignPassport, Series: "FA", Number: number,
			IssuedAt: "2020-01-15", IssuedBy: "MIA of Uzbekistan", ExpiresAt: "2030-01-14"},
		ResidenceDocument: schema.ResidenceDocument{Type: schema.ResidenceRVP, Series: series, Number: permit, IssuedAt: "2025-01-10", ExpiresAt: "2028-01-10"},
		Address:           schema.Address{Region: "77", City: "Москва", Street: "ул. Тверская", House: "7", Apartment: "12", PostalCode: "125009"},
		Contacts:          schema.Contacts{Phone: "+79161234567", Email: "alisher@example.com"},
		Documents:         docs,
		Consent:           true,
	}
}

// submitted submits a valid application for w and returns its id.
func (s *stack) submitted(w who, number string) string {
	s.t.Helper()
	r := s.post("/api/v1/applications", w, form(number, s.scans(w)))
	if r.status != fiber.StatusCreated {
		s.t.Fatalf("submit: %d %s", r.status, r.body)
	}
	return r.result(s.t).ApplicationID
}

func appPath(id, action string) string { return fmt.Sprintf("/api/v1/applications/%s/%s", id, action) }

// events loads an application's events, decoded.
func (s *stack) events(id string) ([]eventstore.Recorded, []schema.Event) {
	s.t.Helper()
	recs, err := s.store.Load(context.Background(), schema.ApplicationStream(id))
	if err != nil {
		s.t.Fatal(err)
	}
	evs := make([]schema.Event, len(recs))
	for i, r := range recs {
		if evs[i], err = schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data); err != nil {
			s.t.Fatal(err)
		}
	}
	return recs, evs
}

func eventTypes(evs []schema.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventType()
	}
	return out
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

// residenceNumber is the series and number, run together, of a residence
// permit of the person whose passport number is given: a person's own, as
// the one-policy-per-person rule keys people by their permit too. Nine
// digits from a hash keep a test run's few hundred people apart.
func residenceNumber(passport string) (series, number string) {
	v := crc32.ChecksumIEEE([]byte(passport)) % 1_000_000_000
	return fmt.Sprintf("%02d", v/10_000_000), fmt.Sprintf("%07d", v%10_000_000)
}
