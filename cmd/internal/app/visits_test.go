package app_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
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
	appPage := "/cabinet/applications/" + r.ApplicationID + "?applicant=" + url.QueryEscape(p.Subject)
	res := c.do(req{method: "GET", path: appPage, session: op})
	picker, _ := url.Parse(res.header.Get("Location"))
	if res.status != 303 || picker.Path != "/operator" || picker.Query().Get("visit") != "required" || picker.Query().Get("who") != p.Subject || picker.Query().Get("next") != appPage {
		t.Fatalf("an applicant's page without a visit: %d to %q", res.status, res.header.Get("Location"))
	}
	// The picker says why, keeps the page to come back to, and offers
	// only the id, not the phone book of dev mode's sign-in.
	pick := c.must(req{method: "GET", path: picker.RequestURI(), session: op}, 200, nil)
	if !strings.Contains(pick.body, "не открыт или закончился") || !strings.Contains(pick.body, `name="next" value="`+appPage) {
		t.Errorf("the picker: %.3000s", pick.body)
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
	codeOf := func() string {
		t.Helper()
		page := c.must(req{method: "POST", path: "/cabinet/visit-code", session: me, form: url.Values{}}, 200, nil)
		m := regexp.MustCompile(`data-visit-code>(\d{3}) (\d{3})<`).FindStringSubmatch(page.body)
		if m == nil || !strings.Contains(page.body, p.Subject) || page.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("the code page: %.3000s", page.body)
		}
		return m[1] + m[2]
	}
	code := codeOf()
	// The page reloaded (the form posted again): the first code, which
	// the operator may be typing already, stays good.
	codeOf()

	// The operator opens the visit with it and lands back on the page
	// the visit was asked for on.
	form := url.Values{"who": {p.Subject}, "code": {code}, "next": {appPage}}
	res = c.do(req{method: "POST", path: "/operator", session: op, form: form})
	if res.status != 303 || res.header.Get("Location") != appPage {
		t.Fatalf("opening the visit: %d to %q %.300s", res.status, res.header.Get("Location"), res.body)
	}
	// The same form sent again (a double click) is the open visit.
	if res := c.do(req{method: "POST", path: "/operator", session: op, form: form}); res.status != 303 {
		t.Fatalf("the form sent twice: %d %.300s", res.status, res.body)
	}
	// A page to come back to must be one of the applicant's: another's,
	// or one off the site, is not followed.
	for _, next := range []string{"/cabinet?applicant=someone-else", "https://evil.example/cabinet?applicant=" + p.Subject, "//evil.example/"} {
		c.openVisit(p.Subject, "op-next")
		code := c.must(req{method: "POST", path: "/cabinet/visit-code", session: me, form: url.Values{}}, 200, nil)
		m := regexp.MustCompile(`data-visit-code>(\d{3}) (\d{3})<`).FindStringSubmatch(code.body)
		res := c.do(req{method: "POST", path: "/operator", session: c.session("operator", "op-next2"), form: url.Values{"who": {p.Subject}, "code": {m[1] + m[2]}, "next": {next}}})
		if res.status != 303 || res.header.Get("Location") != cabinet {
			t.Errorf("next=%q: %d to %q, want the applicant's cabinet", next, res.status, res.header.Get("Location"))
		}
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
	if to, _ := url.Parse(res.header.Get("Location")); res.status != 303 || to.Path != "/operator" || to.Query().Get("visit") != "ended" {
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
	// had not used yet. (op-next's visit from above is closed too.)
	c.openVisit(p.Subject, "op-visit")
	c.must(api, 200, nil)
	var unused struct{ Code string }
	c.must(req{method: "POST", path: "/api/v1/visits/code", token: c.token("applicant", p.Subject), json: "{}"}, 201, &unused)
	res = c.do(req{method: "POST", path: "/cabinet/visits/close", session: me, form: url.Values{}})
	if res.status != 303 || res.header.Get("Location") != "/cabinet?visits=closed" {
		t.Fatalf("the applicant's close: %d to %q", res.status, res.header.Get("Location"))
	}
	if after := c.must(req{method: "GET", path: "/cabinet?visits=closed", session: me}, 200, nil); !strings.Contains(after.body, "data-visits-closed") || !strings.Contains(after.body, "Доступ операторов МФЦ закрыт") {
		t.Error("the cabinet does not say the access was closed")
	}
	// Again, with nothing open: the page does not claim it closed
	// anything.
	res = c.do(req{method: "POST", path: "/cabinet/visits/close", session: me, form: url.Values{}})
	if res.status != 303 || res.header.Get("Location") != "/cabinet?visits=none" {
		t.Fatalf("closing with nothing open: %d to %q", res.status, res.header.Get("Location"))
	}
	if res := c.do(api); res.status != 403 {
		t.Fatalf("the API after the applicant closed access: %d", res.status)
	}
	if res := c.do(req{method: "POST", path: "/api/v1/visits", token: c.token("operator", "op-other"),
		json: `{"applicantId":"` + p.Subject + `","code":"` + unused.Code + `"}`}); res.status != 409 {
		t.Fatalf("the unused code after the close: %d %.300s", res.status, res.body)
	}
	// The applicant's inbox told each step: the openings, the operator's
	// end of the visit, the applicant's close. (A visit opened now puts a
	// position past all of them.)
	pos := c.openVisit(p.Subject, "op-last")
	var doc struct {
		Inbox []struct {
			Kind  string
			Title struct{ RU, EN string }
		}
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", pos), token: c.token("applicant", p.Subject)}, 200, &doc)
	var titles []string
	for _, n := range doc.Inbox {
		if strings.HasPrefix(n.Kind, "Visit") {
			titles = append(titles, n.Title.RU)
		}
	}
	if !slices.Contains(titles, "Оператор МФЦ завершил приём") || !slices.Contains(titles, "Доступ операторов МФЦ закрыт") || titles[len(titles)-1] != "Оператор МФЦ открыл приём" {
		t.Fatalf("the visit notices in the inbox: %q", titles)
	}
}

// One who applies again after a rejection finds the form filled in from
// the last application, to correct rather than retype (walkthrough QA);
// a first application starts empty.
func TestANewApplicationAfterARejectionIsPrefilled(t *testing.T) {
	c, p, r := submittedOne(t, "again-1", "AG1234567")
	rev := c.token("reviewer", "rev-again")
	c.act(rev, "", r.ApplicationID, "claim", "")
	res := c.act(rev, "", r.ApplicationID, "reject", `{"reasonCode":"other","reason":"Скан паспорта нечитаем"}`)
	page := c.must(req{method: "GET", path: fmt.Sprintf("/cabinet/new?after=%d", res.Position), session: c.session("applicant", p.Subject)}, 200, nil)
	for _, want := range []string{"data-prefilled", `value="` + p.LastName + `"`, `value="` + p.Passport + `"`, `value="` + p.Street + `"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the form after a rejection lacks %s", want)
		}
	}
	first := c.must(req{method: "GET", path: "/cabinet/new", session: c.session("applicant", "never-applied")}, 200, nil)
	if strings.Contains(first.body, "data-prefilled") {
		t.Error("a first application's form says it was filled in")
	}
}

// An operator's start page lists the visits they have open, to go back to
// an applicant without the id typed again and to end one no longer
// needed; before, a visit the operator had walked away from stayed open
// for its four hours, out of sight.
func TestAnOperatorSeesTheirOpenVisits(t *testing.T) {
	c, p, _ := submittedOne(t, "visit-list", "VL1234567")
	op := c.session("operator", "op-list")
	pos := c.openVisit(p.Subject, "op-list")
	c.openVisit(p.Subject, "op-list-other")
	home := c.must(req{method: "GET", path: fmt.Sprintf("/operator?after=%d", pos), session: op}, 200, nil)
	cabinet := "/cabinet?applicant=" + url.QueryEscape(p.Subject)
	if !strings.Contains(home.body, `data-open-visit="`+p.Subject+`"`) || !strings.Contains(home.body, `href="`+cabinet+`"`) ||
		!strings.Contains(home.body, `action="/operator/end?applicant=`+url.QueryEscape(p.Subject)+`"`) {
		t.Fatalf("the start page does not list the open visit: %.4000s", home.body)
	}
	if !strings.Contains(home.body, "открыт ") {
		t.Error("the list does not say when each visit opened")
	}
	// A position the log has not reached (a mangled link): the page that
	// opens visits still opens, with the list as it stands (review: it
	// was an error page instead).
	odd := c.must(req{method: "GET", path: "/operator?visit=ended&after=999999999999", session: op}, 200, nil)
	if !strings.Contains(odd.body, `action="/operator"`) || !strings.Contains(odd.body, `data-open-visit="`+p.Subject+`"`) {
		t.Errorf("the start page with an unreachable after: %.3000s", odd.body)
	}
	var api struct {
		OperatorID string
		Visits     []struct {
			ApplicantID string
			Until       string
		}
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/visits?after=%d", pos), token: c.token("operator", "op-list")}, 200, &api)
	if api.OperatorID != "op-list" || len(api.Visits) != 1 || api.Visits[0].ApplicantID != p.Subject || api.Visits[0].Until == "" {
		t.Fatalf("GET /api/v1/visits: %+v", api)
	}
	// Only operators have visits.
	if res := c.do(req{method: "GET", path: "/api/v1/visits", token: c.token("applicant", p.Subject)}); res.status != 403 {
		t.Errorf("an applicant's GET /api/v1/visits: %d", res.status)
	}

	// Ended from the list, it leaves the list at once; the other
	// operator's visit with the same applicant stays on theirs.
	res := c.do(req{method: "POST", path: "/operator/end?applicant=" + url.QueryEscape(p.Subject), session: op, form: url.Values{}})
	to, _ := url.Parse(res.header.Get("Location"))
	if res.status != 303 || to.Query().Get("after") == "" {
		t.Fatalf("ending the visit: %d to %q, want the start page as of the end", res.status, res.header.Get("Location"))
	}
	after := c.must(req{method: "GET", path: to.RequestURI(), session: op}, 200, nil)
	if strings.Contains(after.body, `data-open-visit="`) || !strings.Contains(after.body, "Открытых приёмов нет") {
		t.Errorf("after the end the list still shows it: %.4000s", after.body)
	}
	other := c.must(req{method: "GET", path: to.RequestURI(), session: c.session("operator", "op-list-other")}, 200, nil)
	if !strings.Contains(other.body, `data-open-visit="`+p.Subject+`"`) {
		t.Error("another operator's visit left their list when this one ended theirs")
	}
}

// The code and close endpoints take no members, and refuse a body that is
// not JSON or names one, as every command does: a close sent with
// {"operator": …} to end one operator's visit ended every operator's and
// answered 200 (QA).
func TestVisitBodiesAreRefusedLikeCommands(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	const applicant, operator = "vb-alice", "op-vb"
	c.openVisit(applicant, operator)
	me := c.token("applicant", applicant)
	for _, x := range []struct{ path, body, code string }{
		{"/api/v1/visits/code", `{bad`, "malformed_json"},
		{"/api/v1/visits/code", `{"x":1}`, "unknown_field"},
		{"/api/v1/visits/close", `[1,2`, "malformed_json"},
		{"/api/v1/visits/close", `{"operator":"` + operator + `"}`, "unknown_field"},
	} {
		res := c.do(req{method: "POST", path: x.path, token: me, json: x.body})
		if res.status < 400 || res.status >= 500 || !strings.Contains(res.body, `"`+x.code+`"`) || !strings.Contains(res.body, `"ru"`) {
			t.Errorf("POST %s %s: %d %.300s, want %s", x.path, x.body, res.status, res.body, x.code)
		}
	}
	// Nothing was closed: the operator still acts for the applicant.
	c.must(req{method: "GET", path: "/api/v1/cabinet?applicant=" + applicant, token: c.token("operator", operator)}, 200, nil)
	var closed struct{ Closed bool }
	c.must(req{method: "POST", path: "/api/v1/visits/close", token: me, json: "{}"}, 200, &closed)
	if !closed.Closed {
		t.Fatal("the applicant's close with an empty object closed nothing")
	}
}

// An erasure ends the person's МФЦ visits: the operator's list no longer
// shows them and the operator no longer reads for them (QA: the visit
// stayed listed, and open, for its four hours).
func TestAnErasureEndsTheApplicantsVisits(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	const applicant, operator, bystander = "erase-visit", "op-erase", "erase-visit-neighbour"
	owner := c.token("applicant", applicant)
	upload(t, a, owner, "passport", []byte("%PDF-1.7\nerase-visit passport\n%%EOF\n"))
	c.openVisit(applicant, operator)
	pos := c.openVisit(bystander, operator)
	op := c.token("operator", operator)
	c.must(req{method: "GET", path: "/api/v1/cabinet?applicant=" + applicant, token: op}, 200, nil)

	var erased struct {
		VisitsEnded      bool `json:"visitsEnded"`
		ReadModelsErased bool `json:"readModelsErased"`
	}
	c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + applicant + "/erase", token: c.token("admin", "adm-visit"),
		json: `{"basis":"subject_request"}`}, 200, &erased)
	if !erased.VisitsEnded {
		t.Errorf("the erasure answered %+v, want visitsEnded", erased)
	}
	var list struct {
		Visits []struct{ ApplicantID string }
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/visits?after=%d", pos), token: op}, 200, &list)
	if len(list.Visits) != 1 || list.Visits[0].ApplicantID != bystander {
		t.Errorf("the operator's visits after the erasure: %+v, want only %s's", list.Visits, bystander)
	}
	if res := c.do(req{method: "GET", path: "/api/v1/cabinet?applicant=" + applicant, token: op}); res.status != 403 || !strings.Contains(res.body, "visit_required") {
		t.Errorf("the operator's read for the erased applicant: %d %.300s, want 403 visit_required", res.status, res.body)
	}
	c.must(req{method: "GET", path: "/api/v1/cabinet?applicant=" + bystander, token: op}, 200, nil)
}
