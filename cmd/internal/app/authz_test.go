package app_test

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/authz"
)

// matrix holds the data the authorization matrix test acts on, all made
// through the API: applicant A's application with an issued policy, and
// applicant B's, whose data must never reach A.
type matrix struct {
	c              *client
	otp            *otpLog
	a, b           person
	tokA, tokB     string
	appA, appB     string
	docA, docB     string
	enpA, enpB     string
	reviewer       string // the reviewer who moves fixtures along
	operator       string // an МФЦ operator's token
	staff          map[string]string
	sessions       map[string]*sess
	fresh          int
	rebuildStarted bool
}

const (
	opSubject = "mfc-operator-1"
)

func (m *matrix) newPerson() (person, string) {
	m.fresh++
	p := karimov(fmt.Sprintf("fresh-%d", m.fresh), fmt.Sprintf("F%07d", m.fresh))
	// The matrix's operator acts for every person it makes, as for A.
	m.c.openVisit(p.Subject, opSubject)
	return p, m.c.token("applicant", p.Subject)
}

// visitCode is a fresh code of a new person, for opening a visit.
func (m *matrix) visitCode() (person, string) {
	p, tok := m.newPerson()
	var code struct{ Code string }
	m.c.must(req{method: "POST", path: "/api/v1/visits/code", token: tok, json: "{}"}, 201, &code)
	return p, code.Code
}

// freshApp is a new application of a new applicant, moved to state by the
// fixture reviewer. A near residence expiry makes its policy renewable.
func (m *matrix) freshApp(state string, nearExpiry bool) (person, string, string) {
	p, tok := m.newPerson()
	if nearExpiry {
		p.ResidenceExpires = time.Now().In(time.FixedZone("MSK", 3*3600)).AddDate(0, 0, 10).Format(time.DateOnly)
	}
	r, _ := m.c.submit(p, tok, "")
	steps := map[string][]string{
		"submitted":      nil,
		"in_review":      {"claim"},
		"info_requested": {"claim", "request-info"},
		"approved":       {"claim", "approve"},
		"policy_active":  {"claim", "approve", "issue-policy"},
	}[state]
	for _, s := range steps {
		body := ""
		if s == "request-info" {
			body = `{"questions":[{"text":"Уточните город"}]}`
		}
		m.c.act(m.reviewer, "", r.ApplicationID, s, body)
	}
	return p, tok, r.ApplicationID
}

// caller is how a role calls the API in the matrix: applicant A, the
// operator acting for A, or a member of staff.
func (m *matrix) api(role, method, path, json string) req {
	r := req{method: method, path: path, json: json}
	switch role {
	case authz.Anonymous:
	case "applicant":
		r.token = m.tokA
	case "operator":
		r.token, r.obo = m.operator, m.a.Subject
	default:
		r.token = m.staff[role]
	}
	return r
}

// page is how a role opens a page: by its browser session; an operator
// names A in the URL, as the operator's pages do.
func (m *matrix) page(role, method, path string) req {
	if role == "operator" && strings.HasPrefix(path, "/cabinet") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "applicant=" + url.QueryEscape(m.a.Subject)
	}
	return req{method: method, path: path, session: m.sessions[role]}
}

// actor is who performs an allowed action on a fresh application of p:
// p itself, or the operator acting for p.
func (m *matrix) actor(role string, p person, tok string) (string, string) {
	if role == "operator" {
		return m.operator, p.Subject
	}
	return tok, ""
}

// fixtures build, for every route, the request a role makes. allowed says
// whether the matrix lets the role through, in which case the request is
// one that succeeds (fresh data in the right state); a refused role gets
// a plausible request against A's data.
func (m *matrix) fixtures() map[string]func(role string, allowed bool) req {
	simple := func(path string) func(string, bool) req {
		return func(role string, _ bool) req { return m.api(role, "GET", path, "") }
	}
	pageGet := func(path string) func(string, bool) req {
		return func(role string, _ bool) req { return m.page(role, "GET", path) }
	}
	// action makes a fresh application in state and sends the action on
	// it as the role (reviewer actions by the fixture reviewer).
	action := func(name, state, body string) func(string, bool) req {
		return func(role string, allowed bool) req {
			if !allowed {
				return m.api(role, "POST", "/api/v1/applications/"+m.appA+"/"+name, body)
			}
			p, tok, id := m.freshApp(state, name == "renew")
			r := req{method: "POST", path: "/api/v1/applications/" + id + "/" + name, json: body}
			switch role {
			case "reviewer":
				r.token = m.reviewer
				return r
			case "admin":
				r.token = m.staff[role]
				return r
			}
			r.token, r.obo = m.actor(role, p, tok)
			if name == "renew" {
				scan := m.c.upload(r.token, r.obo, "residence_document", "renewal")
				// A permit of this person's own: one permit, one person.
				series, permit := residenceNumber("renewed " + p.Passport)
				r.json = `{"residenceDocument":{"type":"vnzh","series":"` + series + `","number":"` + permit + `","issuedAt":"2025-01-10","expiresAt":"2031-01-10"},` +
					`"documents":[{"kind":"residence_document","id":"` + scan + `"}]}`
			}
			return r
		}
	}
	return map[string]func(string, bool) req{
		"GET /metrics":          simple("/metrics"),
		"GET /healthz":          simple("/healthz"),
		"GET /readyz":           simple("/readyz"),
		"GET /api/openapi.json": simple("/api/openapi.json"),
		"GET /api/v1/consent":   simple("/api/v1/consent"),

		"POST /api/v1/applications": func(role string, allowed bool) req {
			if !allowed {
				return m.api(role, "POST", "/api/v1/applications", m.a.form(map[string]string{"passport": m.docA}))
			}
			p, tok := m.newPerson()
			tok, obo := m.actor(role, p, tok)
			docs := map[string]string{}
			for _, kind := range []string{"passport", "residence_document", "consent"} {
				docs[kind] = m.c.upload(tok, obo, kind, p.Subject)
			}
			return req{method: "POST", path: "/api/v1/applications", token: tok, obo: obo, json: p.form(docs)}
		},
		"POST /api/v1/applications/:id/claim":            action("claim", "submitted", ""),
		"POST /api/v1/applications/:id/release":          action("release", "in_review", `{"reason":"В отпуске до 5 марта"}`),
		"POST /api/v1/applications/:id/request-info":     action("request-info", "in_review", `{"questions":[{"text":"Пришлите скан целиком","documentKind":"passport"}]}`),
		"POST /api/v1/applications/:id/provide-info":     action("provide-info", "info_requested", `{"answers":[{"questionId":"1.1","text":"Москва"}]}`),
		"POST /api/v1/applications/:id/approve":          action("approve", "in_review", ""),
		"POST /api/v1/applications/:id/reject":           action("reject", "in_review", `{"reasonCode":"other","reason":"Скан нечитаем"}`),
		"POST /api/v1/applications/:id/issue-policy":     action("issue-policy", "approved", ""),
		"POST /api/v1/applications/:id/change-address":   action("change-address", "policy_active", `{"address":{"region":"78","city":"Санкт-Петербург","street":"Невский пр.","house":"10","postalCode":"191025"}}`),
		"POST /api/v1/applications/:id/renew":            action("renew", "policy_active", `{}`),
		"POST /api/v1/applications/:id/withdraw":         action("withdraw", "submitted", `{"reason":"Уезжаю"}`),
		"POST /api/v1/applications/:id/withdraw-consent": action("withdraw-consent", "submitted", `{"reason":"Передумал"}`),
		"POST /api/v1/admin/applicants/:id/erase": func(role string, allowed bool) req {
			if !allowed {
				return m.api(role, "POST", "/api/v1/admin/applicants/"+m.a.Subject+"/erase", `{"basis":"subject_request"}`)
			}
			// A fresh applicant who withdrew: erasable at once.
			p, tok, id := m.freshApp("submitted", false)
			m.c.act(tok, "", id, "withdraw", "")
			return m.api(role, "POST", "/api/v1/admin/applicants/"+p.Subject+"/erase", `{"basis":"subject_request"}`)
		},
		"POST /api/v1/documents": func(role string, _ bool) req {
			r := m.api(role, "POST", "/api/v1/documents", "")
			r.multipart = &filePart{kind: "passport", content: []byte("%PDF-1.7\n% matrix\n%%EOF\n")}
			return r
		},
		"GET /api/v1/documents/:id": simple("/api/v1/documents/" + m.docA),

		"POST /api/v1/visits/code": func(role string, _ bool) req { return m.api(role, "POST", "/api/v1/visits/code", "{}") },
		"POST /api/v1/visits": func(role string, allowed bool) req {
			if !allowed {
				return m.api(role, "POST", "/api/v1/visits", `{"applicantId":"`+m.a.Subject+`","code":"123456"}`)
			}
			p, code := m.visitCode()
			return req{method: "POST", path: "/api/v1/visits", token: m.operator, json: `{"applicantId":"` + p.Subject + `","code":"` + code + `"}`}
		},
		// Closing A's visits would end the operator's acting for A in
		// the cells after: an allowed role closes a fresh person's.
		"POST /api/v1/visits/close": func(role string, allowed bool) req {
			if !allowed {
				return m.api(role, "POST", "/api/v1/visits/close", "{}")
			}
			p, tok := m.newPerson()
			r := req{method: "POST", path: "/api/v1/visits/close", token: tok, json: "{}"}
			if role == "operator" {
				r.token, r.obo = m.operator, p.Subject
			}
			return r
		},

		// An operator's own list: for nobody's behalf.
		"GET /api/v1/visits": func(role string, _ bool) req {
			r := m.api(role, "GET", "/api/v1/visits", "")
			r.obo = ""
			return r
		},
		"GET /api/v1/cabinet":                        simple("/api/v1/cabinet"),
		"GET /api/v1/reviewer/queue":                 simple("/api/v1/reviewer/queue"),
		"GET /api/v1/applications/:id":               simple("/api/v1/applications/" + m.appA),
		"GET /api/v1/applications/:id/history":       simple("/api/v1/applications/" + m.appA + "/history"),
		"GET /api/v1/applications/:id/state":         simple("/api/v1/applications/" + m.appA + "/state?revision=0"),
		"GET /api/v1/applications/:id/access":        simple("/api/v1/applications/" + m.appA + "/access"),
		"GET /api/v1/applicants/:id/access":          simple("/api/v1/applicants/" + url.PathEscape(m.a.Subject) + "/access"),
		"GET /api/v1/applications/by-number/:number": simple("/api/v1/applications/by-number/" + m.appA[len(m.appA)-8:]),
		"GET /api/v1/policies/:enp/pdf":              simple("/api/v1/policies/" + m.enpA + "/pdf"),

		"GET /api/v1/admin/projections": simple("/api/v1/admin/projections"),
		"GET /api/v1/admin/erasures":    simple("/api/v1/admin/erasures"),
		"POST /api/v1/admin/projections/:name/rebuild": func(role string, allowed bool) req {
			m.rebuildStarted = m.rebuildStarted || allowed
			return m.api(role, "POST", "/api/v1/admin/projections/renewals/rebuild", "")
		},
		"GET /api/v1/admin/parked": simple("/api/v1/admin/parked"),
		"POST /api/v1/admin/projections/:name/replay-parked": func(role string, _ bool) req {
			return m.api(role, "POST", "/api/v1/admin/projections/renewals/replay-parked", "")
		},

		"GET /static/*":      pageGet("/static/app.css"),
		"GET /":              pageGet("/"),
		"GET /signin":        pageGet("/signin"),
		"GET /signin/code":   pageGet("/signin/code"),
		"GET /signin/verify": pageGet("/signin/verify"),
		"POST /signin/code": func(role string, _ bool) req {
			r := m.page(role, "POST", "/signin/code")
			r.form = url.Values{"phone": {"+79160000001"}, "role": {"applicant"}}
			return r
		},
		"POST /signin/verify": func(role string, _ bool) req {
			r := m.page(role, "POST", "/signin/code")
			r.form = url.Values{"phone": {"+79160000002"}, "role": {"applicant"}}
			m.otp.mu.Lock()
			m.otp.code = ""
			m.otp.mu.Unlock()
			m.c.must(r, 200, nil)
			m.otp.mu.Lock()
			code := m.otp.code
			m.otp.mu.Unlock()
			r.path = "/signin/verify"
			r.form = url.Values{"phone": {"+79160000002"}, "role": {"applicant"}, "code": {code}}
			return r
		},
		"POST /signout": func(role string, _ bool) req {
			r := m.page(role, "POST", "/signout")
			r.form = url.Values{}
			return r
		},
		"POST /nojs": func(role string, _ bool) req {
			r := m.page(role, "POST", "/nojs")
			r.form = url.Values{"/applicant/lastName": {"Каримов"}}
			return r
		},
		"GET /verify/:enp": pageGet("/verify/" + m.enpA + "?doc=" + m.enpA + "-01"),
		"GET /consent":     pageGet("/consent"),
		"GET /cabinet":     pageGet("/cabinet"),
		// A has an application open, and the form says at once that A
		// cannot apply: a person with none opens it.
		"GET /cabinet/new": func(role string, allowed bool) req {
			r := m.page(role, "GET", "/cabinet/new")
			if !allowed {
				return r
			}
			p, _ := m.newPerson()
			switch role {
			case "operator":
				r.path = "/cabinet/new?applicant=" + url.QueryEscape(p.Subject)
			default:
				r.session = m.c.session(role, p.Subject)
			}
			return r
		},
		"GET /cabinet/applications/:id": pageGet("/cabinet/applications/" + m.appA),
		"GET /operator":                 pageGet("/operator"),
		"POST /cabinet/visit-code": func(role string, _ bool) req {
			r := m.page(role, "POST", "/cabinet/visit-code")
			r.form = url.Values{}
			return r
		},
		"POST /cabinet/visits/close": func(role string, allowed bool) req {
			r := m.page(role, "POST", "/cabinet/visits/close")
			r.form = url.Values{}
			if allowed {
				p, _ := m.newPerson()
				r.session = m.c.session(role, p.Subject)
			}
			return r
		},
		"POST /operator": func(role string, allowed bool) req {
			r := m.page(role, "POST", "/operator")
			r.form = url.Values{"who": {m.a.Subject}, "code": {"123456"}}
			if allowed {
				p, code := m.visitCode()
				r.form = url.Values{"who": {p.Subject}, "code": {code}}
			}
			return r
		},
		"POST /operator/end": func(role string, allowed bool) req {
			r := m.page(role, "POST", "/operator/end?applicant="+url.QueryEscape(m.a.Subject))
			r.form = url.Values{}
			if allowed {
				p, _ := m.newPerson()
				r.path = "/operator/end?applicant=" + url.QueryEscape(p.Subject)
			}
			return r
		},
		"GET /reviewer":                       pageGet("/reviewer"),
		"GET /reviewer/applications/:id":      pageGet("/reviewer/applications/" + m.appA),
		"GET /auditor":                        pageGet("/auditor"),
		"GET /auditor/applications/:id":       pageGet("/auditor/applications/" + m.appA),
		"GET /auditor/applications/:id/state": pageGet("/auditor/applications/" + m.appA + "/state?revision=0"),
		"GET /auditor/applicants/:id/access":  pageGet("/auditor/applicants/" + url.PathEscape(m.a.Subject) + "/access"),
	}
}

// redirects are routes whose success is a 303.
var redirects = map[string]bool{"GET /": true, "POST /signin/verify": true, "POST /signout": true, "GET /signin/code": true, "GET /signin/verify": true,
	"POST /cabinet/visits/close": true, "POST /operator": true, "POST /operator/end": true}

// leaks reports what of B a response to someone else shows, beyond what
// the request itself named (a page echoes the id in its URL).
func (m *matrix) leaks(r req, body string) []string {
	var out []string
	for _, s := range []string{m.b.LastName, m.b.FirstName, m.b.LatinName, m.b.Passport, m.b.Phone, m.b.Email, m.b.Street, m.appB, m.docB, m.enpB} {
		if s != "" && strings.Contains(body, s) && !strings.Contains(r.path+r.json, s) {
			out = append(out, s)
		}
	}
	return out
}

func setupMatrix(t *testing.T) (*matrix, *app.App) {
	otp := &otpLog{}
	a, cfg := startWithLog(t, otp, nil)
	c := newClient(t, a, cfg)
	m := &matrix{c: c, otp: otp, reviewer: c.token("reviewer", "rev-fixtures"), operator: c.token("operator", opSubject)}
	m.staff = map[string]string{
		"reviewer": c.token("reviewer", "rev-matrix"),
		"auditor":  c.token("auditor", "aud-matrix"),
		"admin":    c.token("admin", "adm-matrix"),
	}
	m.sessions = map[string]*sess{
		authz.Anonymous: c.anonymousSession(),
		"applicant":     c.session("applicant", "applicant-a"),
		"operator":      c.session("operator", opSubject),
		"reviewer":      c.session("reviewer", "rev-matrix"),
		"auditor":       c.session("auditor", "aud-matrix"),
		"admin":         c.session("admin", "adm-matrix"),
	}
	m.a = karimov("applicant-a", "A1234567")
	m.b = person{
		Subject: "applicant-b", LastName: "Петрова", FirstName: "Светлана", LatinName: "PETROVA SVETLANA",
		BirthPlace: "Бишкек", IssuedBy: "MIA of Kyrgyzstan", Passport: "PB7777777",
		Phone: "+79990001122", Email: "svetlana.b@example.org",
		City: "Казань", Street: "ул. Баумана", House: "19", Apartment: "4", ResidenceExpires: "2031-03-01",
	}
	m.tokA, m.tokB = c.token("applicant", m.a.Subject), c.token("applicant", m.b.Subject)
	// The operator acts for A, and never for B, in a visit A opened.
	c.openVisit(m.a.Subject, opSubject)
	var last uint64
	for _, x := range []struct {
		p        person
		tok      *string
		app, doc *string
		enp      *string
	}{{m.a, &m.tokA, &m.appA, &m.docA, &m.enpA}, {m.b, &m.tokB, &m.appB, &m.docB, &m.enpB}} {
		id, docs, issued := c.insure(x.p, *x.tok, m.reviewer)
		*x.app, *x.doc, last = id, docs["passport"], issued.Position
		*x.enp = c.enpOf(*x.tok, last)
	}
	// Every projection has seen the fixtures before the matrix reads.
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/reviewer/queue?after=%d", last), token: m.reviewer}, 200, nil)
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/policies/%s/pdf?after=%d", m.enpA, last), token: m.tokA}, 200, nil)
	caughtUp(t, a) // the matrix reads every view without ?after=
	return m, a
}

// TestAuthorizationMatrix walks every route Fiber has registered × every
// role against a whole omsd: a route without a row in the matrix, or
// without a fixture here, fails the test. A role the matrix refuses gets
// 401 (403 when signed in; pages send an anonymous browser to sign in
// instead); a role it lets through succeeds. No answer to applicant A, or
// to the operator acting for A, shows anything of applicant B.
func TestAuthorizationMatrix(t *testing.T) {
	m, a := setupMatrix(t)
	fx := m.fixtures()
	table := authz.Table()

	registered := map[string]bool{}
	for _, r := range a.Routes() {
		method := r.Method
		if method == "HEAD" {
			method = "GET" // Fiber registers HEAD with every GET
		}
		registered[method+" "+r.Path] = true
	}
	var keys []string
	for k := range registered {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, row := range table {
		if !registered[row.Key()] {
			t.Errorf("the matrix has %s, which is not a route", row.Key())
		}
	}

	cells := 0
	for _, key := range keys {
		method, path, _ := strings.Cut(key, " ")
		row, ok := authz.Lookup(table, method, path)
		if !ok || row.Key() != key {
			t.Errorf("route %s is not in the authorization matrix (cmd/internal/authz/table.go)", key)
			continue
		}
		build := fx[key]
		if build == nil {
			t.Errorf("route %s has no fixture in TestAuthorizationMatrix", key)
			continue
		}
		for _, role := range authz.Roles {
			cells++
			access := row.Access(role)
			r := build(role, access.Allowed())
			res := m.c.do(r)
			name := fmt.Sprintf("%s as %s (%s)", key, role, access)
			isPage := !strings.HasPrefix(path, "/api/") && !slices.Contains([]string{"/metrics", "/healthz", "/readyz"}, path)
			switch {
			case access.Allowed() && redirects[key]:
				if res.status != 303 || strings.HasPrefix(res.header.Get("Location"), "/signin?") {
					t.Errorf("%s: %d %s, want a 303 that is not to sign-in", name, res.status, res.header.Get("Location"))
				}
			case access.Allowed():
				if res.status < 200 || res.status > 299 {
					t.Errorf("%s: %d %.300s, want 2xx", name, res.status, res.body)
				}
			case role == authz.Anonymous && isPage && method != "GET":
				// A form posted without a session: nothing to come back
				// to after signing in, so the page says sign-in is needed.
				if res.status != 401 {
					t.Errorf("%s: %d, want 401", name, res.status)
				}
			case role == authz.Anonymous && isPage:
				if res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), "/signin?next=") {
					t.Errorf("%s: %d %s, want 303 to sign-in", name, res.status, res.header.Get("Location"))
				}
			case role == authz.Anonymous:
				if res.status != 401 {
					t.Errorf("%s: %d %.300s, want 401", name, res.status, res.body)
				}
			default:
				if res.status != 403 {
					t.Errorf("%s: %d %.300s, want 403", name, res.status, res.body)
				}
			}
			if res.header.Get("Content-Security-Policy") == "" || res.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: no CSP or nosniff: %v", name, res.header)
			}
			if role == "applicant" || role == "operator" {
				if l := m.leaks(r, res.body); len(l) > 0 {
					t.Errorf("%s: the answer shows B's %q", name, l)
				}
			}
		}
	}
	t.Logf("%d routes × %d roles = %d cells", len(keys), len(authz.Roles), cells)
	if m.rebuildStarted {
		waitRebuilds(t, m)
	}
}

// waitRebuilds lets the rebuild the matrix started finish before omsd
// closes.
func waitRebuilds(t *testing.T, m *matrix) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var st []struct {
			Rebuild *struct{ Running bool }
		}
		m.c.must(m.api("admin", "GET", "/api/v1/admin/projections", ""), 200, &st)
		running := false
		for _, s := range st {
			running = running || (s.Rebuild != nil && s.Rebuild.Running)
		}
		if !running {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("the rebuild did not finish")
}

// TestOwnershipAcrossApplicants probes B's application, scan, policy and
// cabinet as applicant A and as the operator acting for A: every answer is
// a refusal (403 or 404) that shows nothing of B.
func TestOwnershipAcrossApplicants(t *testing.T) {
	m, _ := setupMatrix(t)
	type probe struct {
		method, path, json string
		page               bool
	}
	probes := []probe{
		{"GET", "/api/v1/applications/" + m.appB, "", false},
		{"GET", "/api/v1/documents/" + m.docB, "", false},
		{"GET", "/api/v1/policies/" + m.enpB + "/pdf", "", false},
		{"GET", "/api/v1/cabinet?applicant=" + m.b.Subject, "", false},
		{"POST", "/api/v1/applications/" + m.appB + "/provide-info", `{"answers":[{"questionId":"1.1","text":"x"}]}`, false},
		{"POST", "/api/v1/applications/" + m.appB + "/change-address", `{"address":{"region":"78","city":"Санкт-Петербург","street":"Невский пр.","house":"10","postalCode":"191025"}}`, false},
		{"POST", "/api/v1/applications/" + m.appB + "/renew", `{}`, false},
		{"POST", "/api/v1/applications/" + m.appB + "/withdraw", `{}`, false},
		{"GET", "/cabinet/applications/" + m.appB, "", true},
		{"GET", "/cabinet?applicant=" + m.b.Subject, "", true},
	}
	for _, role := range []string{"applicant", "operator"} {
		for _, p := range probes {
			var r req
			switch {
			case p.page && role == "operator" && strings.Contains(p.path, "applicant="):
				continue // an operator's page names whom they act for: B here
			case p.page:
				r = m.page(role, p.method, p.path)
			default:
				r = m.api(role, p.method, p.path, p.json)
			}
			res := m.c.do(r)
			if res.status != 403 && res.status != 404 {
				t.Errorf("%s %s as %s: %d %.200s, want 403 or 404", p.method, r.path, role, res.status, res.body)
			}
			if l := m.leaks(r, res.body); len(l) > 0 {
				t.Errorf("%s %s as %s shows B's %q", p.method, r.path, role, l)
			}
		}
	}
	// An operator who names nobody, or two different people, is refused
	// before any handler runs.
	// Each refusal says which of these it is.
	for _, r := range []struct {
		req
		code string
	}{
		{req{method: "GET", path: "/api/v1/cabinet", token: m.operator}, "on_behalf_required"},
		{req{method: "GET", path: "/api/v1/applications/" + m.appA, token: m.operator}, "on_behalf_required"},
		{req{method: "GET", path: "/api/v1/cabinet?applicant=" + m.b.Subject, token: m.operator, obo: m.a.Subject}, "on_behalf_ambiguous"},
		{req{method: "GET", path: "/api/v1/cabinet?applicant=%D0%B1%D0%BE%D0%B1", token: m.operator}, "on_behalf_invalid"},
		{req{method: "POST", path: "/api/v1/documents", token: m.operator, multipart: &filePart{kind: "passport", content: []byte("%PDF-1.7\n%%EOF\n")}}, "on_behalf_required"},
	} {
		if res := m.c.do(r.req); res.status != 403 || !strings.Contains(res.body, `"`+r.code+`"`) {
			t.Errorf("operator without one applicant: %s %s: %d %s, want %s", r.method, r.path, res.status, res.body, r.code)
		}
	}
	for path, want := range map[string]string{
		"/cabinet":                              "/operator",
		"/cabinet?applicant=a&applicant=b":      "/operator",
		"/cabinet?applicant=%D0%B1%D0%BE%D0%B1": "/operator?who=%D0%B1%D0%BE%D0%B1",
	} {
		if res := m.c.do(req{method: "GET", path: path, session: m.sessions["operator"]}); res.status != 303 || res.header.Get("Location") != want {
			t.Errorf("operator's page %s: %d to %q, want 303 to %q", path, res.status, res.header.Get("Location"), want)
		}
	}
}

// TestReviewerCannotReviewOwnApplication: one subject signed in as
// applicant and as reviewer (or as the operator who submitted for someone
// and as reviewer) is refused every reviewer action on that application;
// another reviewer is not.
func TestReviewerCannotReviewOwnApplication(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	self := karimov("dual-role-1", "D1234567")
	r, _ := c.submit(self, c.token("applicant", self.Subject), "")
	selfReviewer := c.token("reviewer", self.Subject)

	op := "dual-role-operator"
	forSomeone := karimov("walk-in-1", "D7654321")
	c.openVisit(forSomeone.Subject, op)
	r2, _ := c.submit(forSomeone, c.token("operator", op), forSomeone.Subject)
	opReviewer := c.token("reviewer", op)

	other := c.token("reviewer", "rev-independent")
	// The page offers them nothing to press and says why.
	for _, x := range []struct {
		id, who string
		after   uint64
	}{{r.ApplicationID, self.Subject, r.Position}, {r2.ApplicationID, op, r2.Position}} {
		page := c.must(req{method: "GET", path: fmt.Sprintf("/reviewer/applications/%s?after=%d", x.id, x.after), session: c.session("reviewer", x.who)}, 200, nil)
		if strings.Contains(page.body, "/claim\"") || !strings.Contains(page.body, "Это ваше собственное заявление") {
			t.Errorf("the reviewer page of %s's own application offers the claim or says nothing of it", x.who)
		}
	}
	if page := c.must(req{method: "GET", path: "/reviewer/applications/" + r.ApplicationID, session: c.session("reviewer", "rev-independent")}, 200, nil); !strings.Contains(page.body, "/claim\"") {
		t.Error("another reviewer is not offered the claim; the check above tests nothing")
	}
	for _, x := range []struct {
		id, tok string
	}{{r.ApplicationID, selfReviewer}, {r2.ApplicationID, opReviewer}} {
		for _, step := range []struct{ action, body string }{
			{"claim", ""}, {"request-info", `{"questions":[{"text":"?"}]}`}, {"approve", ""},
			{"reject", `{"reasonCode":"other","reason":"x"}`}, {"issue-policy", ""},
		} {
			res := c.do(req{method: "POST", path: "/api/v1/applications/" + x.id + "/" + step.action, token: x.tok, json: step.body})
			if res.status != 403 || !strings.Contains(res.body, "own_application") {
				t.Errorf("%s on own application: %d %s", step.action, res.status, res.body)
			}
			if step.action == "claim" {
				c.act(other, "", x.id, "claim", "")
			}
			if step.action == "approve" {
				c.act(other, "", x.id, "approve", "")
			}
		}
	}
}
