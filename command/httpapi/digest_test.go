package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/events/schema"
)

// TestUploadReportsTheDigestOfTheBytes: the same file uploaded three times
// is reported with the SHA-256 of its bytes each time (what sha256sum
// prints), and its download carries that digest as its ETag, although each
// upload is stored as a blob of its own (sealed, so with another id), which
// is what the upload's record keeps.
func TestUploadReportsTheDigestOfTheBytes(t *testing.T) {
	s := newStack(t, application.Config{})
	sum := sha256.Sum256(pdfFile)
	want := hex.EncodeToString(sum[:])
	blobs := map[string]bool{}
	for range 3 {
		r := s.upload(applicant, schema.DocumentPassport, pdfFile)
		wantStatus(t, r, fiber.StatusCreated)
		var doc struct{ ID, SHA256 string }
		r.json(t, &doc)
		if doc.SHA256 != want {
			t.Fatalf("upload reports sha256 %s, the file's is %s", doc.SHA256, want)
		}
		dl := s.send(httptest.NewRequest(http.MethodGet, "/api/v1/documents/"+doc.ID, nil), applicant)
		wantStatus(t, dl, fiber.StatusOK)
		if etag := dl.header.Get("ETag"); etag != `"`+want+`"` || string(dl.body) != string(pdfFile) {
			t.Fatalf("download: ETag %s, %d bytes", etag, len(dl.body))
		}
		rec, ok, err := s.docs.Lookup(context.Background(), doc.ID)
		if err != nil || !ok || len(rec.SHA256) != 64 || rec.SHA256 == want {
			t.Fatalf("recorded upload %+v %v %v: want the sealed blob's id", rec, ok, err)
		}
		blobs[rec.SHA256] = true
	}
	if len(blobs) != 3 {
		t.Fatalf("%d blobs for 3 uploads", len(blobs))
	}
}
