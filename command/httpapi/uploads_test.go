package httpapi_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/events/schema"
)

func TestUploads(t *testing.T) {
	s := newStack(t, application.Config{})

	for _, c := range []struct {
		name, contentType string
		file              []byte
	}{{"pdf", "application/pdf", pdfFile}, {"jpeg", "image/jpeg", jpegFile}, {"png", "image/png", pngFile}} {
		t.Run(c.name, func(t *testing.T) {
			r := s.upload(applicant, schema.DocumentPassport, c.file)
			wantStatus(t, r, fiber.StatusCreated)
			var doc struct {
				ID, Kind, SHA256, ContentType string
				Size                          int64
			}
			r.json(t, &doc)
			if doc.ContentType != c.contentType || doc.Size != int64(len(c.file)) || len(doc.SHA256) != 64 || doc.ID == "" || doc.Kind != schema.DocumentPassport {
				t.Fatalf("%s", r.body)
			}
		})
	}

	t.Run("one file of one kind", func(t *testing.T) {
		for name, parts := range map[string][][2]string{
			"two files":             {{"kind", schema.DocumentPassport}, {"file", "a"}, {"file", "b"}},
			"two kinds":             {{"kind", schema.DocumentPassport}, {"kind", schema.DocumentConsent}, {"file", "a"}},
			"two of each":           {{"kind", schema.DocumentPassport}, {"kind", schema.DocumentConsent}, {"file", "a"}, {"file", "b"}},
			"one of each (ok)":      {{"kind", schema.DocumentPassport}, {"file", "a"}},
			"a kind in the URL too": {{"kind", schema.DocumentPassport}, {"file", "a"}},
			// The same kind twice, once with spaces, is one kind (QA).
			"the same kind in the URL, spaced (ok)": {{"kind", " " + schema.DocumentPassport + " "}, {"file", "a"}},
		} {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			files := 0
			for _, p := range parts {
				if p[0] == "kind" {
					_ = mw.WriteField("kind", p[1])
					continue
				}
				files++
				fw, _ := mw.CreateFormFile("file", p[1]+".pdf")
				_, _ = fw.Write(pdfFile)
			}
			_ = mw.Close()
			target := "/api/v1/documents"
			switch name {
			case "a kind in the URL too":
				target += "?kind=" + schema.DocumentConsent
			case "the same kind in the URL, spaced (ok)":
				target += "?kind=" + schema.DocumentPassport
			}
			req := httptest.NewRequest(http.MethodPost, target, &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			r := s.send(req, applicant)
			if strings.HasSuffix(name, "(ok)") {
				wantStatus(t, r, fiber.StatusCreated)
				continue
			}
			wantStatus(t, r, fiber.StatusUnprocessableEntity)
			p := r.problem(t)
			if len(p.Errors) == 0 || p.Errors[0].Code != "repeated_field" {
				t.Errorf("%s: %s", name, r.body)
			}
		}
	})

	// A kind too long is refused, not cut to its first 256 bytes (QA: a
	// passport padded with spaces and then "consent" went in as a
	// passport); a missing one is said with the file's mistakes.
	t.Run("the kind is refused, not cut, and named with the rest", func(t *testing.T) {
		for name, tc := range map[string]struct {
			parts [][2]string
			want  []string
		}{
			"too long":          {[][2]string{{"kind", schema.DocumentPassport + strings.Repeat(" ", 248) + "consent"}, {"file", "a"}}, []string{"/kind:too_long"}},
			"none, and no file": {[][2]string{{"note", "x"}}, []string{"/note:unknown_field", "/file:required", "/kind:required"}},
			// A field the upload does not take is refused, not dropped.
			"a field it does not take": {[][2]string{{"kind", schema.DocumentPassport}, {"file", "a"}, {"comment", "back side"}}, []string{"/comment:unknown_field"}},
			"none, two files":          {[][2]string{{"file", "a"}, {"file", "b"}}, []string{"/file:repeated_field", "/kind:required"}},
		} {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			for _, p := range tc.parts {
				if p[0] != "file" {
					_ = mw.WriteField(p[0], p[1])
					continue
				}
				fw, _ := mw.CreateFormFile("file", p[1]+".pdf")
				_, _ = fw.Write(pdfFile)
			}
			_ = mw.Close()
			req := httptest.NewRequest(http.MethodPost, "/api/v1/documents", &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			r := s.send(req, applicant)
			wantStatus(t, r, fiber.StatusUnprocessableEntity)
			var got []string
			for _, e := range r.problem(t).Errors {
				got = append(got, e.Field+":"+e.Code)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: %q, want %q: %s", name, got, tc.want, r.body)
			}
		}
	})

	t.Run("type by magic bytes, not by name or header", func(t *testing.T) {
		r := s.upload(applicant, schema.DocumentPassport, []byte("<html><script>alert(1)</script></html>"))
		wantStatus(t, r, fiber.StatusUnsupportedMediaType)
		if p := r.problem(t); p.Code != "unsupported_file_type" {
			t.Fatal(p.Code)
		}
	})
	t.Run("an empty file is not a file of the wrong type", func(t *testing.T) {
		r := s.upload(applicant, schema.DocumentPassport, nil)
		wantStatus(t, r, fiber.StatusUnprocessableEntity)
		if p := r.problem(t); p.Code != "empty_file" || p.Detail.RU == "" || p.Detail.EN == "" {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("10 MB is the limit", func(t *testing.T) {
		big := make([]byte, document.MaxSize+1)
		copy(big, pdfFile)
		r := s.upload(applicant, schema.DocumentPassport, big)
		wantStatus(t, r, fiber.StatusRequestEntityTooLarge)
		if p := r.problem(t); p.Code != "file_too_large" || p.Detail.EN == "" {
			t.Fatal(p)
		}
		exact := big[:document.MaxSize]
		copy(exact[len(exact)-6:], "%%EOF\n")
		wantStatus(t, s.upload(applicant, schema.DocumentPassport, exact), fiber.StatusCreated)
	})
	t.Run("kind is required", func(t *testing.T) {
		r := s.upload(applicant, "selfie", pngFile)
		wantStatus(t, r, fiber.StatusUnprocessableEntity)
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "/kind" {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("who may upload", func(t *testing.T) {
		wantStatus(t, s.upload(reviewer, schema.DocumentPassport, pngFile), fiber.StatusForbidden)
		wantStatus(t, s.upload(anonymous, schema.DocumentPassport, pngFile), fiber.StatusUnauthorized)
		wantStatus(t, s.upload(operator, schema.DocumentPassport, pngFile), fiber.StatusCreated)
	})
	t.Run("the body as it arrives", func(t *testing.T) {
		// The kind after the file, as some clients order the fields.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "scan.png")
		_, _ = fw.Write(pngFile)
		_ = mw.WriteField("kind", schema.DocumentPassport)
		_ = mw.Close()
		whole := buf.Bytes()
		send := func(body []byte, contentType string) response {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/documents", bytes.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			return s.send(req, applicant)
		}
		r := send(whole, mw.FormDataContentType())
		wantStatus(t, r, fiber.StatusCreated)
		var doc struct{ Kind string }
		if r.json(t, &doc); doc.Kind != schema.DocumentPassport {
			t.Fatalf("kind after the file: %s", r.body)
		}
		// Cut short, or with another boundary than declared: refused in
		// words, not taken for a form without a file.
		for name, body := range map[string][]byte{"cut short": whole[:len(whole)/2], "another boundary": bytes.ReplaceAll(whole, []byte(mw.Boundary()), []byte("other"))} {
			r := send(body, mw.FormDataContentType())
			wantStatus(t, r, fiber.StatusBadRequest)
			if p := r.problem(t); p.Code != "malformed_multipart" || p.Detail.RU == "" || p.Detail.EN == "" {
				t.Errorf("%s: %s", name, r.body)
			}
		}
		// No boundary at all.
		wantStatus(t, send(whole, "multipart/form-data"), fiber.StatusUnsupportedMediaType)
		// A form without a file names the field.
		buf.Reset()
		mw = multipart.NewWriter(&buf)
		_ = mw.WriteField("kind", schema.DocumentPassport)
		_ = mw.Close()
		r = send(buf.Bytes(), mw.FormDataContentType())
		wantStatus(t, r, fiber.StatusUnprocessableEntity)
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "/file" || p.Errors[0].Code != "required" {
			t.Errorf("no file: %s", r.body)
		}
	})
	t.Run("not multipart", func(t *testing.T) {
		wantStatus(t, s.post("/api/v1/documents", applicant, `{"file":"x"}`), fiber.StatusUnsupportedMediaType)
	})
}

func TestDocumentReadAccess(t *testing.T) {
	s := newStack(t, application.Config{})
	content := []byte("%PDF-1.7\n% private scan\n%%EOF\n")
	r := s.upload(applicant, schema.DocumentResidence, content)
	wantStatus(t, r, fiber.StatusCreated)
	var doc struct{ ID string }
	r.json(t, &doc)
	path := "/api/v1/documents/" + doc.ID

	for _, w := range []who{applicant, operator, reviewer, auditor} {
		r := s.get(path, w)
		wantStatus(t, r, fiber.StatusOK)
		if !bytes.Equal(r.body, content) {
			t.Fatalf("%s read %q", w.id, r.body)
		}
		if r.header.Get("Content-Type") != "application/pdf" || r.header.Get("X-Content-Type-Options") != "nosniff" ||
			r.header.Get("Content-Disposition") != `attachment; filename="residence_document-`+doc.ID+`.pdf"` {
			t.Fatalf("headers %v", r.header)
		}
	}
	// Another applicant, or an operator for one, is told no such scan
	// exists; a role that reads no scans is refused as such.
	for _, w := range []who{applicant2, {"op-1", "operator", "user-2"}, {"adm", "admin", ""}} {
		r := s.get(path, w)
		want := fiber.StatusNotFound
		if w.role == "admin" {
			want = fiber.StatusForbidden
		}
		wantStatus(t, r, want)
		if bytes.Contains(r.body, []byte("private scan")) {
			t.Fatal("leaked")
		}
	}
	wantStatus(t, s.get(path, anonymous), fiber.StatusUnauthorized)
	wantStatus(t, s.get("/api/v1/documents/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", reviewer), fiber.StatusNotFound)
	wantStatus(t, s.get("/api/v1/documents/nope", reviewer), fiber.StatusNotFound)

	// Another applicant cannot put the scan in their application either.
	f := form("7654321", s.scans(applicant2))
	f.Documents[1].ID = doc.ID
	r = s.post("/api/v1/applications", applicant2, f)
	wantStatus(t, r, fiber.StatusUnprocessableEntity)
	if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "/documents/1/id" || p.Errors[0].Code != "unknown_document" {
		t.Fatalf("%s", r.body)
	}
}

// A client that echoes the upload's answer into the form (id, kind,
// sha256, size, contentType) is served; one whose sha256 is not the file's
// is told so, instead of having it replaced without a word.
func TestFormsEchoingTheUploadAnswer(t *testing.T) {
	s := newStack(t, application.Config{})
	var refs []schema.DocumentRef
	for _, up := range []struct {
		kind string
		file []byte
	}{{schema.DocumentPassport, pngFile}, {schema.DocumentResidence, pdfFile}, {schema.DocumentConsent, jpegFile}} {
		r := s.upload(applicant, up.kind, up.file)
		wantStatus(t, r, fiber.StatusCreated)
		var ref schema.DocumentRef
		r.json(t, &ref) // the answer's members are a DocumentRef's
		refs = append(refs, ref)
	}
	bad := slices.Clone(refs)
	bad[1].SHA256 = strings.Repeat("0", 64)
	r := s.post("/api/v1/applications", applicant, form("1234567", bad))
	wantStatus(t, r, fiber.StatusUnprocessableEntity)
	if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "/documents/1/sha256" || p.Errors[0].Code != "sha256_mismatch" {
		t.Fatalf("a wrong sha256: %s", r.body)
	}
	wantStatus(t, s.post("/api/v1/applications", applicant, form("1234567", refs)), fiber.StatusCreated)
}
