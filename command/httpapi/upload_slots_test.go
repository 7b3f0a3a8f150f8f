package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/projections/readstore"
)

// gatedBlobs is the real blob store with a gate before each PutBlob, so
// that a test can keep an upload in progress.
type gatedBlobs struct {
	document.BlobStore
	entered chan struct{}
	open    chan struct{}
}

func (g gatedBlobs) PutBlob(ctx context.Context, r io.Reader, contentType string) (readstore.BlobInfo, error) {
	g.entered <- struct{}{}
	<-g.open
	return g.BlobStore.PutBlob(ctx, r, contentType)
}

// Uploads are processed a few at a time (each keeps several copies of a
// scan of up to 10 MB in memory: 16 at once held 1.1 GB); one past them
// waits its turn, and past Deps.UploadWait is refused with 503 and
// Retry-After, in both languages, rather than queued without bound.
func TestUploadsWaitTheirTurn(t *testing.T) {
	s := newStack(t, application.Config{})
	gate := gatedBlobs{BlobStore: s.blobs, entered: make(chan struct{}, 3), open: make(chan struct{})}
	docs, err := document.New(document.Options{Store: s.store, Blobs: gate, Keys: s.keys, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{BodyLimit: httpapi.MinAppBodyLimit, ErrorHandler: httpapi.ErrorHandler, DisableStartupMessage: true})
	app.Use(testAuth)
	if err := httpapi.Register(app, httpapi.Deps{Commands: s.svc, Documents: docs, Logger: slog.New(slog.DiscardHandler),
		MaxUploads: 1, UploadWait: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	s.app = app

	var wg sync.WaitGroup
	var first response
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = s.upload(applicant, "passport", tagged(pdfFile, "first"))
	}()
	<-gate.entered // the first upload holds the only slot
	done := make(chan response, 1)
	go func() { done <- s.upload(applicant2, "passport", tagged(pdfFile, "second")) }()
	var busy response
	select {
	case busy = <-done:
	case <-time.After(5 * time.Second):
		close(gate.open)
		t.Fatal("a second upload was not refused: it went on beside the first")
	}
	wantStatus(t, busy, fiber.StatusServiceUnavailable)
	if p := busy.problem(t); p.Code != "uploads_busy" || p.Detail.RU == "" || p.Detail.EN == "" || busy.header.Get("Retry-After") == "" {
		t.Fatalf("a refused upload: %s %v", busy.body, busy.header)
	}
	// One that comes while the first finishes gets the slot after it.
	wg.Add(1)
	var third response
	go func() {
		defer wg.Done()
		third = s.upload(applicant2, "passport", tagged(pdfFile, "third"))
	}()
	time.Sleep(50 * time.Millisecond) // the third is waiting for the slot
	close(gate.open)
	<-gate.entered // the third's turn
	wg.Wait()
	wantStatus(t, first, fiber.StatusCreated)
	wantStatus(t, third, fiber.StatusCreated)
}
