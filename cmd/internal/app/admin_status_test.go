package app_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// TestErasureRefusalsAreRecordedAsAnswered: the erase endpoint's refusals
// reach the access log and /metrics with the status the client got. They
// used to be returned to the app's ErrorHandler, which answered 4xx only
// after both middlewares had taken the unanswered error for a 500.
func TestErasureRefusalsAreRecordedAsAnswered(t *testing.T) {
	var logs syncBuffer
	a, cfg := startWithLog(t, slog.NewJSONHandler(&logs, nil), nil)
	admin := token(t, cfg, "admin", "root")
	alice := token(t, cfg, "applicant", "alice")
	r := submit(t, a, alice, "7654321")
	cabinetAfter(t, a, alice, r.Position, "")

	const route = "/api/v1/admin/applicants/:id/erase"
	cases := []struct {
		applicant, body string
		status          int
	}{
		{"bob", `{"basis":`, 400},                     // malformed body
		{"bob", `{"basis":"subject_request"}`, 404},   // no applications
		{"alice", `{"basis":"x"}`, 422},               // no such basis
		{"alice", `{"basis":"subject_request"}`, 409}, // still being processed
	}
	var want []int
	for _, c := range cases {
		code, body := call(t, a, "POST", "/api/v1/admin/applicants/"+c.applicant+"/erase", admin, c.body)
		if code != c.status {
			t.Fatalf("%s %s: %d %s, want %d", c.applicant, c.body, code, body, c.status)
		}
		want = append(want, c.status)
	}

	var got []int
	for _, l := range logs.lines(t) {
		if l["msg"] != "http request" || l["route"] != route {
			continue
		}
		got = append(got, int(l["status"].(float64)))
		if l["level"] != "INFO" {
			t.Errorf("access line of a refusal at level %v: %v", l["level"], l)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("access lines record statuses %v, the client got %v", got, want)
	}

	code, metrics := call(t, a, "GET", "/metrics", "", "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, status := range []int{400, 404, 409, 422} {
		series := fmt.Sprintf(`oms_http_request_duration_seconds_count{method="POST",route=%q,status="%d"} 1`+"\n", route, status)
		if !strings.Contains(string(metrics), series) {
			t.Errorf("metrics lack %s", series)
		}
	}
	if strings.Contains(string(metrics), fmt.Sprintf(`route=%q,status="500"`, route)) {
		t.Errorf("metrics count a 500 on %s", route)
	}
}
