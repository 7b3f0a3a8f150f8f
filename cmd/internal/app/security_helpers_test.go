package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
)

// person is the personal data one test applicant submits.
type person struct {
	Subject                        string
	LastName, FirstName, LatinName string
	BirthPlace, IssuedBy           string
	Passport                       string
	Phone, Email                   string
	City, Street, House, Apartment string
	Building                       string
	// ResidenceExpires is the residence permit's expiry; a near one makes
	// the policy renewable at once.
	ResidenceExpires string
}

// karimov is the usual applicant with a passport number of their own.
func karimov(subject, passport string) person {
	return person{
		Subject: subject, LastName: "Каримов", FirstName: "Бахтиёр", LatinName: "KARIMOV BAKHTIYOR",
		BirthPlace: "Ташкент", IssuedBy: "MIA of Uzbekistan", Passport: passport,
		Phone: "+79161234567", Email: "karimov@example.org",
		City: "Москва", Street: "ул. Тверская", House: "7", Apartment: "12", ResidenceExpires: "2031-03-01",
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (p person) address(city string) string {
	return fmt.Sprintf(`{"region":"77","city":%s,"street":%s,"house":%s,"building":%s,"apartment":%s,"postalCode":"125009"}`,
		jsonString(city), jsonString(p.Street), jsonString(p.House), jsonString(p.Building), jsonString(p.Apartment))
}

func (p person) form(docs map[string]string) string {
	series, permit := residenceNumber(p.Passport)
	return fmt.Sprintf(`{
 "applicant": {"lastName":%s,"firstName":%s,"latinName":%s,"birthDate":"1990-04-12","birthPlace":%s,"citizenship":"UZB","sex":"male"},
 "identityDocument": {"type":"foreign_passport","series":"FA","number":%s,"issuedAt":"2019-05-20","issuedBy":%s,"expiresAt":"2031-05-19"},
 "residenceDocument": {"type":"vnzh","series":%s,"number":%s,"issuedAt":"2024-03-01","expiresAt":%s},
 "address": %s,
 "contacts": {"phone":%s,"email":%s},
 "documents": [{"kind":"passport","id":%s},{"kind":"residence_document","id":%s},{"kind":"consent","id":%s}],
 "consent": true}`,
		jsonString(p.LastName), jsonString(p.FirstName), jsonString(p.LatinName), jsonString(p.BirthPlace),
		jsonString(p.Passport), jsonString(p.IssuedBy), jsonString(series), jsonString(permit), jsonString(p.ResidenceExpires), p.address(p.City),
		jsonString(p.Phone), jsonString(p.Email),
		jsonString(docs["passport"]), jsonString(docs["residence_document"]), jsonString(docs["consent"]))
}

// req is one HTTP request of a test, authenticated by a bearer token, a
// browser session, or nothing.
type req struct {
	method, path string
	token        string
	session      *sess
	obo          string
	form         url.Values // an HTML form; the session's CSRF token is added
	json         string
	multipart    *filePart
	lang         string // the pages' language cookie, if set
}

type filePart struct {
	kind, filename string
	content        []byte
}

// sess is a browser session (or, with an empty token, a browser before
// signing in that holds only the pre-session CSRF cookie).
type sess struct{ token, csrf string }

type resp struct {
	status int
	header http.Header
	body   string
}

// client talks to one omsd without following redirects.
type client struct {
	t    *testing.T
	a    *app.App
	cfg  config.Config
	http *http.Client
}

func newClient(t *testing.T, a *app.App, cfg config.Config) *client {
	return &client{t: t, a: a, cfg: cfg, http: &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *client) token(role, subject string) string { return token(c.t, c.cfg, role, subject) }

func (c *client) session(role, subject string) *sess {
	key, err := authn.DevKey(c.cfg.DataDir)
	if err != nil {
		c.t.Fatal(err)
	}
	tok, csrf, err := authn.IssueSession(key, subject, role, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	return &sess{token: tok, csrf: csrf}
}

// anonymousSession is a browser that opened the sign-in page.
func (c *client) anonymousSession() *sess {
	r := c.do(req{method: "GET", path: "/signin"})
	for _, sc := range r.header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(sc, "oms_csrf="); ok {
			v, _, _ = strings.Cut(v, ";")
			return &sess{csrf: v}
		}
	}
	c.t.Fatalf("the sign-in page set no CSRF cookie: %v", r.header)
	return nil
}

func (c *client) do(r req) resp {
	c.t.Helper()
	var body io.Reader
	ctype := ""
	switch {
	case r.form != nil:
		f := url.Values{}
		for k, v := range r.form {
			f[k] = v
		}
		if r.session != nil {
			f.Set("_csrf", r.session.csrf)
		}
		body, ctype = strings.NewReader(f.Encode()), "application/x-www-form-urlencoded"
	case r.json != "":
		body, ctype = strings.NewReader(r.json), "application/json"
	case r.multipart != nil:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("kind", r.multipart.kind)
		name := r.multipart.filename
		if name == "" {
			name = "scan.pdf"
		}
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(r.multipart.content)
		mw.Close()
		body, ctype = &buf, mw.FormDataContentType()
	}
	hr, err := http.NewRequest(r.method, "http://"+c.a.HTTPAddr()+r.path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.obo != "" {
		hr.Header.Set("X-On-Behalf-Of", r.obo)
	}
	if r.lang != "" {
		hr.AddCookie(&http.Cookie{Name: "oms_lang", Value: r.lang})
	}
	if s := r.session; s != nil {
		if s.token != "" {
			hr.AddCookie(&http.Cookie{Name: "oms_session", Value: s.token})
		}
		hr.AddCookie(&http.Cookie{Name: "oms_csrf", Value: s.csrf})
		if r.method != "GET" && r.form == nil {
			hr.Header.Set("X-CSRF-Token", s.csrf)
		}
	}
	res, err := c.http.Do(hr)
	if err != nil {
		c.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}
}

// must sends a request that has to succeed with want and decodes the
// answer into v (if not nil).
func (c *client) must(r req, want int, v any) resp {
	c.t.Helper()
	res := c.do(r)
	if res.status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", r.method, r.path, res.status, res.body, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(res.body), v); err != nil {
			c.t.Fatalf("%s %s: %v in %s", r.method, r.path, err, res.body)
		}
	}
	return res
}

// upload stores a small PDF scan as tok (for obo when an operator) and
// returns its id.
func (c *client) upload(tok, obo, kind, tag string) string {
	c.t.Helper()
	var out struct{ ID string }
	c.must(req{method: "POST", path: "/api/v1/documents", token: tok, obo: obo,
		multipart: &filePart{kind: kind, content: []byte("%PDF-1.7\n% " + tag + " " + kind + "\n%%EOF\n")}}, 201, &out)
	return out.ID
}

// submit uploads the three scans and submits p's form as tok (an
// operator's token with obo set acts for p).
func (c *client) submit(p person, tok, obo string) (result, map[string]string) {
	c.t.Helper()
	docs := map[string]string{}
	for _, kind := range []string{"passport", "residence_document", "consent"} {
		docs[kind] = c.upload(tok, obo, kind, p.Subject)
	}
	var r result
	c.must(req{method: "POST", path: "/api/v1/applications", token: tok, obo: obo, json: p.form(docs)}, 201, &r)
	return r, docs
}

// act runs an application action and returns its result.
func (c *client) act(tok, obo, id, action, body string) result {
	c.t.Helper()
	var r result
	c.must(req{method: "POST", path: "/api/v1/applications/" + id + "/" + action, token: tok, obo: obo, json: body}, 200, &r)
	return r
}

// cabinetPolicy reads the ЕНП of p's policy once the cabinet has caught up.
func (c *client) enpOf(tok string, after uint64) string {
	c.t.Helper()
	var doc struct {
		Policy *struct{ ENP string } `json:"policy"`
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", after), token: tok}, 200, &doc)
	if doc.Policy == nil || doc.Policy.ENP == "" {
		c.t.Fatalf("no policy in the cabinet after %d", after)
	}
	return doc.Policy.ENP
}

// insure submits p's application as tok and has reviewer claim, approve
// and issue it: an insured applicant. It returns the application id, the
// scan ids and the result of the issue.
func (c *client) insure(p person, tok, reviewer string) (string, map[string]string, result) {
	c.t.Helper()
	r, docs := c.submit(p, tok, "")
	var issued result
	for _, s := range []string{"claim", "approve", "issue-policy"} {
		issued = c.act(reviewer, "", r.ApplicationID, s, "")
	}
	return r.ApplicationID, docs, issued
}

// residenceNumber is the series and number, run together, of a residence
// permit of the person whose passport number is given: a person's own, as
// the one-policy-per-person rule keys people by their permit too. Nine
// digits from a hash keep a test run's few hundred people apart.
func residenceNumber(passport string) (series, number string) {
	v := crc32.ChecksumIEEE([]byte(passport)) % 1_000_000_000
	return fmt.Sprintf("%02d", v/10_000_000), fmt.Sprintf("%07d", v%10_000_000)
}

// openVisit lets operator act for applicant as the service wants it: the
// applicant takes a code in their cabinet, the operator opens a visit
// with it. It returns the $all position of the visit's opening.
func (c *client) openVisit(applicant, operator string) uint64 {
	c.t.Helper()
	var code struct{ Code string }
	c.must(req{method: "POST", path: "/api/v1/visits/code", token: c.token("applicant", applicant), json: "{}"}, 201, &code)
	var v struct{ Position uint64 }
	c.must(req{method: "POST", path: "/api/v1/visits", token: c.token("operator", operator),
		json: fmt.Sprintf(`{"applicantId":%s,"code":%s}`, jsonString(applicant), jsonString(code.Code))}, 201, &v)
	return v.Position
}
