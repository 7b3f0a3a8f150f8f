package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A replayed state prints what an operator looks for, not the status
// alone.
func TestStateFactsPrint(t *testing.T) {
	var s stateFacts
	err := json.Unmarshal([]byte(`{"status":"policy_active","assignee":"rev-1",
		"questions":[{"text":"Уточните адрес","answered":true},{"text":"Скан?","answered":false}],
		"decision":{"outcome":"approved","by":"rev-1"},
		"policy":{"enp":"9000000000000001","validFrom":"2026-11-26","validTo":"2027-11-25","status":"active"},
		"consent":{"withdrawnAt":"2026-12-01T09:00:00Z"}}`), &s)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	s.print(&b)
	for _, want := range []string{"assignee: rev-1", "questions: 2 asked, 1 open", "decision: approved by rev-1",
		"policy: ЕНП 9000000000000001, 2026-11-26 to 2027-11-25, active", "consent withdrawn: 2026-12-01 09:00:00"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
	var none stateFacts
	b.Reset()
	none.print(&b)
	if b.Len() != 0 {
		t.Errorf("an empty state printed %q", b.String())
	}
}

// The number people quote (the end of the id) finds the application
// through the staff lookup; an id is taken as it is; no match and a
// shared number are said plainly.
func TestHistoryTakesTheApplicationsNumber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/applications/by-number/2de7cb3d":
			fmt.Fprint(w, `{"number":"2de7cb3d","applications":["01a21f4d-0000-7000-8000-0000002de7cb3d"]}`)
		case "/api/v1/applications/by-number/00000000": // as omsd answers
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"type":"urn:oms:problem:application_not_found","title":"Не найдено / Not found","status":404,"detail":{"ru":"Заявления с номером 00000000 нет.","en":"No application has the number 00000000."},"code":"application_not_found"}`)
		case "/api/v1/applications/by-number/11111111":
			fmt.Fprint(w, `{"number":"11111111","applications":["a-11111111","b-11111111"]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	api := &apiClient{base: srv.URL, token: "t", http: srv.Client()}
	if id, err := resolveNumber(api, "2DE7CB3D"); err != nil || id != "01a21f4d-0000-7000-8000-0000002de7cb3d" {
		t.Errorf("a number: %q, %v", id, err)
	}
	if id, err := resolveNumber(api, "01a21f4d-0000-7000-8000-0000002de7cb3d"); err != nil || id != "01a21f4d-0000-7000-8000-0000002de7cb3d" {
		t.Errorf("an id: %q, %v", id, err)
	}
	if _, err := resolveNumber(api, "00000000"); err == nil || !strings.Contains(err.Error(), "No application has the number 00000000") {
		t.Errorf("no match: %v", err)
	}
	if _, err := resolveNumber(api, "11111111"); err == nil || !strings.Contains(err.Error(), "a-11111111, b-11111111") {
		t.Errorf("a shared number: %v", err)
	}
}
