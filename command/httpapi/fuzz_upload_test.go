package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

func multipartBody(kind string, file []byte) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.SetBoundary("fuzzboundary")
	_ = mw.WriteField("kind", kind)
	fw, _ := mw.CreateFormFile("file", "scan")
	fw.Write(file)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// FuzzUpload sends arbitrary multipart bodies (and content types) through
// the real upload handler, multipart parsing, magic bytes, the bomb guard
// and storage included: every answer is a refusal the client can act on
// or a stored scan, never a panic or a 500.
func FuzzUpload(f *testing.F) {
	st := esdbtest.Store(f, eventstore.Options{})
	blobs, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: f.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { blobs.Close() })
	keys, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: make([]byte, 32), Vault: blobs})
	if err != nil {
		f.Fatal(err)
	}
	docs, err := document.New(document.Options{Store: st, Blobs: blobs, Keys: keys})
	if err != nil {
		f.Fatal(err)
	}
	svc, err := service.New(service.Options{Store: st, Documents: docs})
	if err != nil {
		f.Fatal(err)
	}
	app := newApp(f, svc, docs)

	// A real listener, not app.Test: bodies fasthttp cannot parse must be
	// seen answered as a client would see them.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go app.Listener(lis)
	f.Cleanup(func() { app.Shutdown() })
	url := "http://" + lis.Addr().String() + "/api/v1/documents"
	client := &http.Client{Timeout: 10 * time.Second}

	for _, file := range [][]byte{pdfFile, pngFile, jpegFile, []byte("GIF89a"), nil} {
		ct, body := multipartBody("passport", file)
		f.Add(ct, body)
	}
	ct, body := multipartBody("selfie", pdfFile)
	f.Add(ct, body)
	f.Add(ct, body[:len(body)/2])
	f.Add("multipart/form-data", body)
	f.Add("application/json", []byte(`{"file":"x"}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req, err := http.NewRequest("POST", url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsFunc(contentType, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) {
			return // no client can send it
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Test-Subject", applicant.id)
		req.Header.Set("X-Test-Role", applicant.role)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case 201, 400, 413, 415, 422:
		default:
			t.Fatalf("upload answered %d", res.StatusCode)
		}
	})
}
