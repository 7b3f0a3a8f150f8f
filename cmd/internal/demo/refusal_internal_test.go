package demo

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// A refusal reads as omsd's words, code and status, not as raw JSON; an
// answer that is not a problem document is shown as it came.
func TestRefusalOf(t *testing.T) {
	req := httptest.NewRequest("POST", "/api/v1/applications", nil)
	err := refusalOf(req, 409, []byte(`{"type":"urn:oms:problem:duplicate_application","code":"duplicate_application","detail":{"ru":"Уже подано.","en":"Already submitted."}}`))
	var r *Refusal
	if !errors.As(err, &r) || r.Code != "duplicate_application" || r.Status != 409 {
		t.Fatalf("%#v", err)
	}
	if msg := err.Error(); strings.Contains(msg, "{") || !strings.Contains(msg, "Already submitted.") || !strings.Contains(msg, "Уже подано.") {
		t.Errorf("%q", msg)
	}
	if msg := refusalOf(req, 502, []byte("bad gateway\n")).Error(); !strings.Contains(msg, "502 bad gateway") {
		t.Errorf("%q", msg)
	}
}
