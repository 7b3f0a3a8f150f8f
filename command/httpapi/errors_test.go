package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/events/eventstore"
)

func TestRequestErrors(t *testing.T) {
	s := newStack(t, application.Config{})
	id := s.submitted(applicant, "1234567")

	cases := []struct {
		name   string
		do     func() response
		status int
		code   string
	}{
		{"no caller", func() response { return s.post("/api/v1/applications", anonymous, "{}") }, 401, "unauthenticated"},
		{"no caller on an action", func() response { return s.post(appPath(id, "claim"), anonymous, nil) }, 401, "unauthenticated"},
		{"malformed JSON", func() response { return s.post("/api/v1/applications", applicant, `{"applicant":`) }, 400, "malformed_json"},
		{"syntax error", func() response { return s.post("/api/v1/applications", applicant, `{"consent": tru}`) }, 400, "malformed_json"},
		{"trailing data", func() response { return s.post("/api/v1/applications", applicant, `{} {}`) }, 400, "malformed_json"},
		{"not an object", func() response { return s.post("/api/v1/applications", applicant, `[1,2]`) }, 400, "malformed_json"},
		{"wrong type", func() response {
			return s.post("/api/v1/applications", applicant, `{"applicant":{"birthDate":19900405}}`)
		}, 422, "invalid_fields"},
		{"not JSON", func() response {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/applications", strings.NewReader("consent=true"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return s.send(req, applicant)
		}, 415, "unsupported_media_type"},
		{"body too large", func() response {
			return s.post("/api/v1/applications", applicant, `{"x":"`+strings.Repeat("a", 300<<10)+`"}`)
		}, 413, "body_too_large"},
		{"bad idempotency key", func() response {
			return s.post(appPath(id, "claim"), reviewer, nil, "Idempotency-Key", "два слова")
		}, 400, "bad_idempotency_key"},
		{"wrong role", func() response { return s.post(appPath(id, "approve"), applicant, nil) }, 403, "wrong_role"},
		{"not the owner", func() response { return s.post(appPath(id, "withdraw"), applicant2, nil) }, 404, "application_not_found"},
		{"two If-Match headers", func() response {
			return s.post(appPath(id, "claim"), reviewer, nil, "If-Match", `"0"`, "If-Match", `"1"`)
		}, 400, "repeated_header"},
		{"two idempotency keys", func() response {
			return s.post(appPath(id, "claim"), reviewer, nil, "Idempotency-Key", "k-1", "Idempotency-Key", "k-2")
		}, 400, "repeated_header"},
		// A stale If-Match would tell the revision, so that it exists.
		{"not the owner, a stale If-Match", func() response {
			return s.post(appPath(id, "withdraw"), applicant2, nil, "If-Match", `"99"`)
		}, 404, "application_not_found"},
		{"operator alone", func() response {
			return s.post("/api/v1/applications", who{"op-2", "operator", ""}, form("1111111", nil))
		}, 403, "on_behalf_required"},
		{"wrong state", func() response { return s.post(appPath(id, "approve"), reviewer, nil) }, 409, "wrong_state"},
		{"unknown application", func() response {
			return s.post(appPath("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "claim"), reviewer, nil)
		}, 404, "application_not_found"},
		{"not a uuid", func() response { return s.post(appPath("../etc", "claim"), reviewer, nil) }, 404, ""},
		{"unknown route", func() response { return s.post("/api/v1/applications/"+id+"/teleport", reviewer, nil) }, 404, "no_route"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.do()
			wantStatus(t, r, c.status)
			p := r.problem(t)
			if c.code != "" && p.Code != c.code {
				t.Fatalf("code %q, want %q: %s", p.Code, c.code, r.body)
			}
			if !strings.Contains(p.Title, " / ") {
				t.Errorf("title is not bilingual: %q", p.Title)
			}
		})
	}

	t.Run("wrong type points at the field", func(t *testing.T) {
		r := s.post("/api/v1/applications", applicant, `{"applicant":{"birthDate":19900405},"unknownField":{"x":1}}`)
		p := r.problem(t)
		if len(p.Errors) != 2 || p.Errors[0].Field != "/applicant/birthDate" || p.Errors[0].Code != "type" ||
			p.Errors[1].Field != "/unknownField" || p.Errors[1].Code != "unknown_field" {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("a byte order mark is named", func(t *testing.T) {
		r := s.post("/api/v1/applications", applicant, "\ufeff{\"consent\":true}")
		wantStatus(t, r, fiber.StatusBadRequest)
		if p := r.problem(t); p.Code != "malformed_json" || !strings.Contains(p.Detail.EN, "BOM") || !strings.Contains(p.Detail.RU, "BOM") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("a fraction where a whole number goes says so", func(t *testing.T) {
		r := s.post("/api/v1/applications", applicant, `{"documents":[{"kind":"passport","id":"a","size":67.0}]}`)
		p := r.problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Field != "/documents/0/size" || p.Errors[0].Code != "type" ||
			!strings.Contains(p.Errors[0].Message.EN, "whole number") || !strings.Contains(p.Errors[0].Message.RU, "целое") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("JSON in UTF-8 only, never silently mended", func(t *testing.T) {
		latin1 := []byte(`{"applicant":{"lastName":"M` + "\xfc" + `ller"}}`) // "Müller" in Latin-1
		r := s.post("/api/v1/applications", applicant, string(latin1))
		wantStatus(t, r, fiber.StatusBadRequest)
		if p := r.problem(t); p.Code != "malformed_json" || !strings.Contains(p.Detail.EN, "UTF-8") {
			t.Fatalf("%s", r.body)
		}
		r = s.post("/api/v1/applications", applicant, `{"consent":true}`, "Content-Type", "application/json; charset=windows-1251")
		wantStatus(t, r, fiber.StatusUnsupportedMediaType)
		if p := r.problem(t); p.Code != "unsupported_charset" {
			t.Fatalf("%s", r.body)
		}
		// UTF-8 by any of its names is of course fine (here: a 422 about
		// the form).
		for _, cs := range []string{"UTF-8", "utf8", "us-ascii"} {
			r = s.post("/api/v1/applications", applicant, `{"consent":true}`, "Content-Type", "application/json; charset="+cs)
			wantStatus(t, r, fiber.StatusUnprocessableEntity)
		}
	})
	t.Run("every wrong type, each with its array index", func(t *testing.T) {
		r := s.post("/api/v1/applications", applicant, `{"applicant":{"sex":"x","LastName":7},
			"documents":[{"kind":"passport","id":"a"},{"kind":5,"id":"b"},{"kind":"consent","id":[]}],
			"address":{"region":77},"consent":"yes"}`)
		wantStatus(t, r, fiber.StatusUnprocessableEntity)
		var got []string
		for _, e := range r.problem(t).Errors {
			if e.Code != "type" || e.Message.RU == "" || e.Message.EN == "" {
				t.Errorf("not a bilingual type error: %+v", e)
			}
			got = append(got, e.Field)
		}
		slices.Sort(got)
		want := []string{"/address/region", "/applicant/lastName", "/consent", "/documents/1/kind", "/documents/2/id"}
		if !slices.Equal(got, want) {
			t.Fatalf("fields %v, want %v: %s", got, want, r.body)
		}
	})
	t.Run("unknown fields are refused, not dropped", func(t *testing.T) {
		// A misspelt member would otherwise vanish while the answer said
		// all was well ("apartament" losing the apartment).
		r := s.post(appPath(id, "claim"), reviewer, `{"comment":"беру", "priority": 3}`)
		wantStatus(t, r, fiber.StatusUnprocessableEntity)
		var got []string
		for _, e := range r.problem(t).Errors {
			got = append(got, e.Field+":"+e.Code)
		}
		if !slices.Equal(got, []string{"/comment:unknown_field", "/priority:unknown_field"}) {
			t.Fatalf("%v: %s", got, r.body)
		}
		r = s.post("/api/v1/applications", applicant, `{"address":{"apartament":"12"}}`)
		if p := r.problem(t); !slices.ContainsFunc(p.Errors, func(e cmderr.FieldError) bool { return e.Field == "/address/apartament" && e.Code == "unknown_field" }) {
			t.Fatalf("a misspelt address member: %s", r.body)
		}
		// Names match as encoding/json matches them: "cİty" is not "city"
		// (refused as unknown, not as broken JSON), "addreſs" is "address".
		r = s.post("/api/v1/applications", applicant, `{"address":{"cİty":"x"},"addreſs":{"region":7}}`)
		wantStatus(t, r, fiber.StatusUnprocessableEntity)
		got = got[:0]
		for _, e := range r.problem(t).Errors {
			got = append(got, e.Field+":"+e.Code)
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"/address/cİty:unknown_field", "/address/region:type"}) {
			t.Fatalf("folded names: %v: %s", got, r.body)
		}
		// Refused means not done: the application can still be claimed.
		wantStatus(t, s.post(appPath(id, "claim"), reviewer, ``), fiber.StatusOK)
	})
	t.Run("a body of little but faults gets a bounded answer", func(t *testing.T) {
		// 127,000 numbers where document objects belong, and 20,000
		// unknown members: listing each answered 254 KB with 23 MB.
		for _, tc := range []struct {
			name string
			body string
			n    int
		}{
			{"wrong types", `{"documents":[` + strings.Repeat("1,", 126_999) + `1]}`, 127_000},
			{"unknown members", `{"address":{` + func() string {
				var b strings.Builder
				for i := range 20_000 {
					fmt.Fprintf(&b, `"x%d":0,`, i)
				}
				return b.String()
			}() + `"city":"x"}}`, 20_000},
		} {
			r := s.post("/api/v1/applications", applicant, tc.body)
			wantStatus(t, r, fiber.StatusUnprocessableEntity)
			p := r.problem(t)
			if len(p.Errors) != cmderr.MaxFieldErrors || p.OmittedErrors != tc.n-cmderr.MaxFieldErrors {
				t.Fatalf("%s: %d errors listed, %d omitted; want %d and %d", tc.name, len(p.Errors), p.OmittedErrors, cmderr.MaxFieldErrors, tc.n-cmderr.MaxFieldErrors)
			}
			if len(r.body) > 64<<10 {
				t.Fatalf("%s: an answer of %d bytes", tc.name, len(r.body))
			}
			if !strings.Contains(p.Detail.RU, "ещё") || !strings.Contains(p.Detail.EN, "more") {
				t.Fatalf("%s: the detail does not say errors were left out: %+v", tc.name, p.Detail)
			}
		}
	})
}

// An event store that does not answer is a 503 that says to retry, in
// both languages, not a 500 "something went wrong".
func TestEventStoreUnavailableIs503(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: httpapi.ErrorHandler})
	app.Get("/x", func(*fiber.Ctx) error {
		return fmt.Errorf("service: load: %w", fmt.Errorf("%w within 30s", eventstore.ErrUnavailable))
	})
	resp, err := app.Test(httptest.NewRequest("GET", "/x", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p httpapi.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || p.Code != "event_store_unavailable" || resp.Header.Get("Retry-After") == "" || p.Detail.RU == "" || p.Detail.EN == "" {
		t.Fatalf("%d %+v %q", resp.StatusCode, p, resp.Header.Get("Retry-After"))
	}
}
