package document_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		head string
		want string
	}{
		{"%PDF-1.4", document.TypePDF},
		{"\xff\xd8\xff\xe1", document.TypeJPEG},
		{"\x89PNG\r\n\x1a\n", document.TypePNG},
		{"\x89PNG\r\n", ""}, // truncated signature
		{"GIF89a", ""},
		{"PK\x03\x04", ""},
		{"<svg", ""},
		{"", ""},
	} {
		got, ok := document.Sniff([]byte(c.head))
		if got != c.want || ok != (c.want != "") {
			t.Errorf("Sniff(%q) = %q %v", c.head, got, ok)
		}
	}
}

// stores are what a document service runs on; several services sharing
// them are several nodes.
type stores struct {
	events *eventstore.Store
	blobs  *sqlitestore.Store
	keys   *piicrypt.Keyring
}

func newStores(t testing.TB) stores {
	t.Helper()
	st := esdbtest.Store(t, eventstore.Options{})
	blobs, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	keys, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: make([]byte, 32), Vault: blobs})
	if err != nil {
		t.Fatal(err)
	}
	return stores{events: st, blobs: blobs, keys: keys}
}

// node is a service on the stores remembering known uploads (see
// document.Options.Known).
func (f stores) node(t testing.TB, known int) *document.Service {
	t.Helper()
	s, err := document.New(document.Options{Store: f.events, Blobs: f.blobs, Keys: f.keys, Known: known})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newService(t *testing.T) *document.Service { return newStores(t).node(t, 0) }

var owner = events.Metadata{Actor: events.Actor{ID: "user-1", Role: events.RoleApplicant}}

// TestSizeLimitWhileStreaming: the limit holds even when the size is not
// known in advance (a chunked body), by stopping the blob write.
func TestSizeLimitWhileStreaming(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	over := io.MultiReader(strings.NewReader("%PDF-"), io.LimitReader(zeros{}, document.MaxSize))
	if _, err := s.Upload(ctx, owner, schema.DocumentPassport, over); !cmderr.Is(err, cmderr.TooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	exact := io.MultiReader(strings.NewReader("%PDF-"), io.LimitReader(zeros{}, document.MaxSize-5-6), strings.NewReader("%%EOF\n"))
	doc, err := s.Upload(ctx, owner, schema.DocumentPassport, exact)
	if err != nil || doc.Size != document.MaxSize {
		t.Fatalf("at the limit: %+v %v", doc, err)
	}
	got, ok, err := s.Lookup(ctx, doc.DocumentID)
	if err != nil || !ok || got != doc.DocumentUploaded {
		t.Fatalf("lookup %+v %v %v", got, ok, err)
	}
	rc, _, err := s.Open(ctx, owner, doc.DocumentID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 5)
	if _, err := io.ReadFull(rc, head); err != nil || !bytes.Equal(head, []byte("%PDF-")) {
		t.Fatalf("read back %q %v", head, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestMayRead(t *testing.T) {
	doc := schema.DocumentUploaded{OwnerID: "user-1"}
	for _, c := range []struct {
		m    events.Metadata
		want bool
	}{
		{owner, true},
		{events.Metadata{Actor: events.Actor{ID: "user-2", Role: events.RoleApplicant}}, false},
		{events.Metadata{Actor: events.Actor{ID: "op", Role: events.RoleOperator}, OnBehalfOf: "user-1"}, true},
		{events.Metadata{Actor: events.Actor{ID: "op", Role: events.RoleOperator}}, false},
		{events.Metadata{Actor: events.Actor{ID: "r", Role: events.RoleReviewer}}, true},
		{events.Metadata{Actor: events.Actor{ID: "a", Role: events.RoleAuditor}}, true},
		{events.Metadata{Actor: events.Actor{ID: "x", Role: events.RoleAdmin}}, false},
		{events.Metadata{Actor: events.Actor{ID: "user-1", Role: events.RoleSystem}}, false},
	} {
		if got := document.MayRead(c.m, doc); got != c.want {
			t.Errorf("%+v: %v", c.m, got)
		}
	}
}

// Upload readers are reused: every scan reads back exactly as uploaded,
// whatever came through the reader before it (a long PDF, then a short
// image, then a refused upload, then concurrent ones).
func TestUploadsReadBackAsUploadedWhenReadersAreReused(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	pdf := func(n int) []byte {
		return append(append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), n)...), "\n%%EOF\n"...)
	}
	check := func(want []byte) error {
		doc, err := s.Upload(ctx, owner, schema.DocumentPassport, bytes.NewReader(want))
		if err != nil {
			return fmt.Errorf("upload of %d bytes: %w", len(want), err)
		}
		rc, _, err := s.Open(ctx, owner, doc.DocumentID)
		if err != nil {
			return err
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("read back %d bytes (%v), uploaded %d", len(got), err, len(want))
		}
		return nil
	}
	for _, b := range [][]byte{pdf(700 << 10), pngOf(40, 30)} { // the first is longer than the buffer
		if err := check(b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Upload(ctx, owner, schema.DocumentPassport, strings.NewReader("\x89PN")); err == nil {
		t.Fatal("a truncated signature was accepted")
	}
	errs := make(chan error, 8)
	for i := range 8 {
		go func() { errs <- check(pdf(1000 * (i + 1))) }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Lookup answers for an upload it has seen (made or looked up before)
// without the event store: with the store gone, those are still found,
// while an id never seen goes to the store and fails there.
func TestLookupRemembersUploads(t *testing.T) {
	ctx := context.Background()
	f := newStores(t)
	uploader, other, forgetful := f.node(t, 0), f.node(t, 0), f.node(t, -1)
	doc, err := uploader.Upload(ctx, owner, schema.DocumentPassport, strings.NewReader("%PDF-1.7\nscan\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*document.Service{"another node": other, "a node remembering nothing": forgetful} {
		if got, ok, err := s.Lookup(ctx, doc.DocumentID); err != nil || !ok || got != doc.DocumentUploaded {
			t.Fatalf("%s, from the event store: %+v %v %v, want %+v", name, got, ok, err, doc)
		}
	}
	if err := f.events.Close(); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*document.Service{"the uploading node": uploader, "a node that looked it up": other} {
		if got, ok, err := s.Lookup(ctx, doc.DocumentID); err != nil || !ok || got != doc.DocumentUploaded {
			t.Errorf("%s, with the event store gone: %+v %v %v, want %+v", name, got, ok, err, doc)
		}
	}
	if _, _, err := forgetful.Lookup(ctx, doc.DocumentID); err == nil {
		t.Error("a node remembering nothing answered without the event store")
	}
	if _, _, err := uploader.Lookup(ctx, "0b5c1f6e-2a4d-4c8e-9f3a-7d6e5c4b3a21"); err == nil {
		t.Error("an id never seen was answered without the event store")
	}
}

// An upload on a node whose key cache still holds its owner's key, after
// another node erased the owner, is refused once recorded, and its scan
// does not stay: an erasure that had already looked for the owner's
// uploads would never find it.
func TestUploadAfterAnotherNodesErasure(t *testing.T) {
	ctx := context.Background()
	f := newStores(t)
	// Node B has its own keyring (and key cache) on the shared vault.
	keysB, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: make([]byte, 32), Vault: f.blobs})
	if err != nil {
		t.Fatal(err)
	}
	b, err := document.New(document.Options{Store: f.events, Blobs: f.blobs, Keys: keysB})
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.Upload(ctx, owner, schema.DocumentPassport, strings.NewReader("%PDF-1.7 before\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Erase(ctx, owner.Actor.ID); err != nil { // node A erases
		t.Fatal(err)
	}
	_, err = b.Upload(ctx, owner, schema.DocumentPassport, strings.NewReader("%PDF-1.7 after\n%%EOF\n"))
	if e, ok := cmderr.As(err); !ok || e.Kind != cmderr.Conflict || e.Code != "applicant_erased" {
		t.Fatalf("upload after another node's erasure: %v, want 409 applicant_erased", err)
	}
	var blobs []string
	if err := f.events.CatchUpTypes(ctx, nil, []string{schema.TypeDocumentUploaded}, func(r eventstore.Recorded) error {
		e, err := schema.Decode(r.Envelope.Type, r.Envelope.SchemaVersion, r.Data)
		if err != nil {
			return err
		}
		blobs = append(blobs, e.(schema.DocumentUploaded).SHA256)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 2 || blobs[0] != first.SHA256 {
		t.Fatalf("upload events' blobs %v, want the first (%s) and the refused one", blobs, first.SHA256)
	}
	if _, _, err := f.blobs.OpenBlob(ctx, blobs[1]); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("the refused upload's blob: %v, want it deleted", err)
	}
	// Only the erasure deletes what was there before it.
	rc, _, err := f.blobs.OpenBlob(ctx, first.SHA256)
	if err != nil {
		t.Fatalf("the earlier upload's blob: %v", err)
	}
	rc.Close()
}

// A form echoing the digest an upload answered is checked against the
// scan's bytes: read, opened and hashed on a node that did not see the
// upload, remembered from the upload on the node that did.
func TestContentSHA256(t *testing.T) {
	ctx := context.Background()
	f := newStores(t)
	uploader, other := f.node(t, 0), f.node(t, 0)
	doc, err := uploader.Upload(ctx, owner, schema.DocumentPassport, strings.NewReader("%PDF-1.7\ndigest me\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	if doc.ContentSHA256 == doc.SHA256 || len(doc.ContentSHA256) != 64 {
		t.Fatalf("the upload's digest %q, its blob %q", doc.ContentSHA256, doc.SHA256)
	}
	if got, err := other.ContentSHA256(ctx, doc.DocumentUploaded); err != nil || got != doc.ContentSHA256 {
		t.Fatalf("read back on another node: %q %v, want %q", got, err, doc.ContentSHA256)
	}
	// With the blob gone, only a remembered digest can answer.
	if err := f.blobs.DeleteBlob(ctx, doc.SHA256); err != nil {
		t.Fatal(err)
	}
	if got, err := uploader.ContentSHA256(ctx, doc.DocumentUploaded); err != nil || got != doc.ContentSHA256 {
		t.Errorf("the uploading node: %q %v, want %q remembered", got, err, doc.ContentSHA256)
	}
	if got, err := other.ContentSHA256(ctx, doc.DocumentUploaded); err != nil || got != doc.ContentSHA256 {
		t.Errorf("the node that hashed it once: %q %v, want %q remembered", got, err, doc.ContentSHA256)
	}
	if _, err := f.node(t, 0).ContentSHA256(ctx, doc.DocumentUploaded); err == nil {
		t.Error("a fresh node answered a digest without the scan")
	}
}

// An upload's event occurred when the upload says it did: the envelope's
// time is the uploadedAt of its payload, on the service's clock.
func TestUploadEventTimeIsUploadedAt(t *testing.T) {
	f := newStores(t)
	at := time.Date(2030, 5, 6, 7, 8, 9, 123456000, time.UTC)
	s, err := document.New(document.Options{Store: f.events, Blobs: f.blobs, Keys: f.keys, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	doc, err := s.Upload(ctx, owner, schema.DocumentPassport, strings.NewReader("%PDF-1.7\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := f.events.Load(ctx, schema.DocumentStream(doc.DocumentID))
	if err != nil || len(recs) != 1 {
		t.Fatalf("the upload's stream: %d events, %v", len(recs), err)
	}
	if !doc.UploadedAt.Equal(at) || !recs[0].Envelope.OccurredAt.Equal(at) {
		t.Fatalf("uploaded at %s, the envelope says %s, want both %s", doc.UploadedAt, recs[0].Envelope.OccurredAt, at)
	}
}
