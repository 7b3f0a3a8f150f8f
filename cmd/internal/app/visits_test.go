package app_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestAnOperatorActsOnlyDuringAVisitTheApplicantOpened walks the МФЦ visit
// through the pages: without the applicant's code an operator reaches
// nothing of theirs; with it, that operator and no other acts for them
// until the visit ends, by the operator's hand or by the applicant's.
func TestAnOperatorActsOnlyDuringAVisitTheApplicantOpened(t *testing.T) {
	c, p, r := submittedOne(t, "visit-walk", "VW1234567")
	op, other := c.session("operator", "op-visit"), c.session("operator", "op-other")
	me := c.session("applicant", p.Subject)
	cabinet := "/cabinet?applicant=" + url.QueryEscape(p.Subject)
	api := req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, r.Position), token: c.token("operator", "op-visit"), obo: p.Subject}

	// Naming the applicant is not enough, at the API or the pages.
	if res := c.do(api); res.status != 403 || !strings.Contains(res.body, `"visit_required"`) {
		t.Fatalf("the API without a visit: %d %.300s", res.status, res.body)
	}
	if res := c.do(req{method: "GET", path: cabinet, session: op}); res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), "/operator?visit=required") {
		t.Fatalf("the cabinet without a visit: %d to %q", res.status, res.header.Get("Location"))
	}
	// Nor can an operator give themselves a code.
	if res := c.do(req{method: "POST", path: "/api/v1/visits/code", token: c.token("operator", "op-visit"), json: "{}"}); res.status != 403 {
		t.Fatalf("an operator's own code: %d %.300s", res.status, res.body)
	}

	// The applicant's cabinet offers the code; the page shows it.
	home := c.must(req{method: "GET", path: "/cabinet", session: me}, 200, nil)
	if !strings.Contains(home.body, `action="/cabinet/visit-code"`) {
		t.Fatal("the applicant's cabinet offers no МФЦ code")
	}
	page := c.must(req{method: "POST", path: "/cabinet/visit-code", session: me, form: url.Values{}}, 200, nil)
	m := regexp.MustCompile(`data-visit-code>(\d{3}) (\d{3})<`).FindStringSubmatch(page.body)
	if m == nil || !strings.Contains(page.body, p.Subject) || page.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the code page: %.3000s", page.body)
	}
	code := m[1] + m[2]

	// The operator opens the visit with it and lands in the cabinet.
	res := c.do(req{method: "POST", path: "/operator", session: op, form: url.Values{"who": {p.Subject}, "code": {code}}})
	if res.status != 303 || res.header.Get("Location") != cabinet {
		t.Fatalf("opening the visit: %d to %q %.300s", res.status, res.header.Get("Location"), res.body)
	}
	inside := c.must(req{method: "GET", path: cabinet, session: op}, 200, nil)
	if !strings.Contains(inside.body, "data-visit-end") {
		t.Error("the operator's cabinet view offers no end of the visit")
	}
	c.must(api, 200, nil)
	// The code was used: another operator cannot reuse it, and acts for
	// nobody without a code of their own.
	if res := c.do(req{method: "POST", path: "/operator", session: other, form: url.Values{"who": {p.Subject}, "code": {code}}}); res.status != 409 {
		t.Errorf("a used code again: %d", res.status)
	}
	if res := c.do(req{method: "GET", path: cabinet, session: other}); res.status != 303 {
		t.Errorf("another operator's cabinet view: %d", res.status)
	}

	// The operator ends the visit: from then on nothing.
	res = c.do(req{method: "POST", path: "/operator/end?applicant=" + url.QueryEscape(p.Subject), session: op, form: url.Values{}})
	if res.status != 303 || res.header.Get("Location") != "/operator?visit=ended" {
		t.Fatalf("ending the visit: %d to %q", res.status, res.header.Get("Location"))
	}
	if res := c.do(api); res.status != 403 {
		t.Fatalf("the API after the visit ended: %d", res.status)
	}
	// Ending it again is no error.
	if res := c.do(req{method: "POST", path: "/operator/end?applicant=" + url.QueryEscape(p.Subject), session: op, form: url.Values{}}); res.status != 303 {
		t.Errorf("ending an ended visit: %d %.300s", res.status, res.body)
	}

	// The applicant closes every operator's access, and the code they
	// had not used yet.
	c.openVisit(p.Subject, "op-visit")
	c.must(api, 200, nil)
	var unused struct{ Code string }
	c.must(req{method: "POST", path: "/api/v1/visits/code", token: c.token("applicant", p.Subject), json: "{}"}, 201, &unused)
	res = c.do(req{method: "POST", path: "/cabinet/visits/close", session: me, form: url.Values{}})
	if res.status != 303 || res.header.Get("Location") != "/cabinet?visits=closed" {
		t.Fatalf("the applicant's close: %d to %q", res.status, res.header.Get("Location"))
	}
	if after := c.must(req{method: "GET", path: "/cabinet?visits=closed", session: me}, 200, nil); !strings.Contains(after.body, "data-visits-closed") {
		t.Error("the cabinet does not say the access was closed")
	}
	if res := c.do(api); res.status != 403 {
		t.Fatalf("the API after the applicant closed access: %d", res.status)
	}
	if res := c.do(req{method: "POST", path: "/api/v1/visits", token: c.token("operator", "op-other"),
		json: `{"applicantId":"` + p.Subject + `","code":"` + unused.Code + `"}`}); res.status != 409 {
		t.Fatalf("the unused code after the close: %d %.300s", res.status, res.body)
	}
}
