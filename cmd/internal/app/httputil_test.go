package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
)

var httpClient = &http.Client{Timeout: 10 * time.Second}

func newRequest(method, url, tok, body string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }

func (c remoteClient) upload(tok, kind string, content []byte) (string, bool) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("kind", kind)
	fw, _ := mw.CreateFormFile("file", "scan")
	fw.Write(content)
	mw.Close()
	req, err := http.NewRequest("POST", "http://"+c.addr+"/api/v1/documents", &buf)
	if err != nil {
		return "", false
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	if resp.StatusCode != 201 || jsonDecode(resp.Body, &out) != nil {
		return "", false
	}
	return out.ID, true
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
