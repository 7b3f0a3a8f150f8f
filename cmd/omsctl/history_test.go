package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/authn"
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

// A rebuild the answering node has no record of (another node behind the
// load balancer, or omsd restarted) ends with a message, not with polling
// forever in silence; one whose new generation serves there is reported
// done (ops QA).
func TestRebuildOnANodeWithoutItsRecordEnds(t *testing.T) {
	for _, c := range []struct {
		name       string
		generation int // after the request; 1 before it
		// earlier is the record of an earlier rebuild the polled node
		// shows, finished.
		earlier bool
		wantErr string
		wantOut string
	}{
		{"never seen", 1, false, "has no record of this rebuild of history", ""},
		{"switched elsewhere", 2, false, "", "history rebuilt: generation 2 serves"},
		{"an earlier rebuild's record", 1, true, "has no record of this rebuild of history", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			asked := false
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.Method == "POST" && r.URL.Path == "/api/v1/admin/projections/history/rebuild":
					asked = true
					w.WriteHeader(http.StatusAccepted)
					fmt.Fprint(w, `{"running":true,"events":0,"position":0,"head":0,"startedAt":"2026-11-28T10:00:00Z","eventsPerSecond":0}`)
				case r.Method == "GET" && r.URL.Path == "/api/v1/admin/projections":
					gen := 1
					if asked {
						gen = c.generation
					}
					rb := ""
					if c.earlier {
						rb = `,"rebuild":{"running":false,"events":5,"position":10,"head":10,"startedAt":"2026-11-27T10:00:00Z","finishedAt":"2026-11-27T10:00:01Z","eventsPerSecond":5}`
					}
					fmt.Fprintf(w, `[{"name":"history","position":10,"head":10,"generation":%d%s}]`, gen, rb)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			dir := t.TempDir()
			if _, err := authn.DevKey(dir); err != nil {
				t.Fatal(err)
			}
			cmd := root()
			var out, errOut bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&errOut)
			cmd.SetArgs([]string{"projections", "rebuild", "history", "--data-dir", dir, "--http-addr", strings.TrimPrefix(srv.URL, "http://")})
			done := make(chan error, 1)
			go func() { done <- cmd.Execute() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("omsctl still polls 20 s on")
			}
			switch {
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("%v, want an error saying %q", err, c.wantErr)
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case c.wantOut != "" && !strings.Contains(out.String(), c.wantOut):
				t.Fatalf("printed %q, want %q", out.String(), c.wantOut)
			}
		})
	}
}

// Something other than omsd answering 200 with HTML is said to be so, not
// reported as JSON's "invalid character '<'" (ops QA).
func TestAnAnswerThatIsNotOmsdsJSONIsSaidSo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>It works!</body></html>")
	}))
	defer srv.Close()
	dir := t.TempDir()
	if _, err := authn.DevKey(dir); err != nil {
		t.Fatal(err)
	}
	cmd := root()
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"projections", "status", "--data-dir", dir, "--http-addr", strings.TrimPrefix(srv.URL, "http://")})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "не JSON omsd") || !strings.Contains(err.Error(), "is not omsd's JSON; is omsd at") {
		t.Fatalf("%v, want it to say the answer is not omsd's", err)
	}
}
