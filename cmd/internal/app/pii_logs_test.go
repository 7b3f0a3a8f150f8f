package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/projections/email/smtptest"
)

// capture keeps every log record omsd writes, at every level, with all its
// attributes (groups and those added by With) rendered as text.
type capture struct {
	mu    *sync.Mutex
	lines *[]string
	otp   *string
	attrs string
}

func newCapture() *capture {
	return &capture{mu: &sync.Mutex{}, lines: &[]string{}, otp: new(string)}
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", r.Level, r.Message, c.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve().Any())
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.lines = append(*c.lines, b.String())
	if strings.HasPrefix(r.Message, "dev sign-in") {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "code" {
				*c.otp = a.Value.String()
			}
			return true
		})
	}
	return nil
}
func (c *capture) WithAttrs(as []slog.Attr) slog.Handler {
	d := *c
	for _, a := range as {
		d.attrs += fmt.Sprintf(" %s=%v", a.Key, a.Value.Resolve().Any())
	}
	return &d
}
func (c *capture) WithGroup(name string) slog.Handler {
	d := *c
	d.attrs += " [" + name + "]"
	return &d
}

func (c *capture) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(*c.lines, "\n")
}

func (c *capture) code() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.otp
}

// TestJourneyLogsHoldNoPersonalData runs the whole journey, by browser
// session and by API, with e-mail on and failures on the way, capturing
// every log line omsd writes at debug level; none may hold the applicant's
// name, document numbers, phone, e-mail or address.
func TestJourneyLogsHoldNoPersonalData(t *testing.T) {
	logs := newCapture()
	srv := smtptest.Start(t)
	a, cfg := startWithLog(t, logs, func(c *configT) {
		c.SMTPURL = "smtp://" + srv.Addr + "?starttls=off"
		c.LogLevel = "debug"
	})
	c := newClient(t, a, cfg)
	const phone = "+79035557788"
	p := person{
		Subject: authn.DevSubject("applicant", phone), LastName: "Абдуллаев", FirstName: "Шерзод", LatinName: "ABDULLAEV SHERZOD",
		BirthPlace: "Самарканд", IssuedBy: "Samarkand regional office", Passport: "FB9876543",
		Phone: phone, Email: "sherzod.a@example.org",
		City: "Новосибирск", Street: "ул. Ленина", House: "15", Apartment: "42", ResidenceExpires: "2031-03-01",
	}

	// Sign in as a browser does: the phone, then the code from the log.
	browser := c.anonymousSession()
	signin := url.Values{"phone": {"+7 (903) 555-77-88"}, "role": {"applicant"}}
	c.must(req{method: "POST", path: "/signin/code", session: browser, form: signin}, 200, nil)
	signin.Set("code", logs.code())
	res := c.must(req{method: "POST", path: "/signin/verify", session: browser, form: signin}, 303, nil)
	page := &sess{}
	for _, sc := range res.header.Values("Set-Cookie") {
		name, rest, _ := strings.Cut(sc, "=")
		value, _, _ := strings.Cut(rest, ";")
		switch name {
		case "oms_session":
			page.token = value
		case "oms_csrf":
			page.csrf = value
		}
	}
	if page.token == "" {
		t.Fatalf("no session after sign-in: %v", res.header)
	}

	// The form as the page's script sends it: cookie and CSRF header.
	docs := map[string]string{}
	for _, kind := range []string{"passport", "residence_document", "consent"} {
		var up struct{ ID string }
		c.must(req{method: "POST", path: "/api/v1/documents", session: page, multipart: &filePart{kind: kind, filename: p.LastName + ".pdf", content: []byte("%PDF-1.7\n%%EOF\n")}}, 201, &up)
		docs[kind] = up.ID
	}
	var r result
	c.must(req{method: "POST", path: "/api/v1/applications", session: page, json: p.form(docs)}, 201, &r)
	id := r.ApplicationID
	// A second, refused submission carries the same data.
	c.must(req{method: "POST", path: "/api/v1/applications", session: page, json: p.form(docs)}, 409, nil)
	bad := p
	bad.Email = "not an address " + p.Email
	c.must(req{method: "POST", path: "/api/v1/applications", session: page, json: bad.form(docs)}, 422, nil)

	rev := c.token("reviewer", "rev-logs")
	c.act(rev, "", id, "claim", "")
	c.act(rev, "", id, "request-info", `{"questions":[{"text":"Уточните улицу","field":"/address/street"}]}`)
	corrected := p.address("Новосибирск")
	corrected = strings.Replace(corrected, p.Street, "ул. Кирова", 1)
	c.must(req{method: "POST", path: "/api/v1/applications/" + id + "/provide-info", session: page,
		json: `{"answers":[{"questionId":"1.1","text":"Я переехал на ул. Кирова, 15"}],"corrections":{"address":` + corrected + `}}`}, 200, nil)
	c.must(req{method: "POST", path: "/api/v1/applications/" + id + "/approve", session: page}, 403, nil)
	c.act(rev, "", id, "approve", "")
	last := c.act(rev, "", id, "issue-policy", "")
	enp := c.enpOf(page.token, last.Position)
	last = c.act(c.token("applicant", p.Subject), "", id, "change-address",
		`{"address":{"region":"54","city":"Новосибирск","street":"ул. Гоголя","house":"3","postalCode":"630000"}}`)

	caughtUp(t, a) // most reads below carry no ?after=
	op := c.token("operator", "mfc-logs")
	c.openVisit(p.Subject, "mfc-logs")
	for _, rq := range []req{
		{method: "GET", path: fmt.Sprintf("/cabinet?after=%d", last.Position), session: page},
		{method: "GET", path: "/cabinet/applications/" + id, session: page},
		{method: "GET", path: "/api/v1/policies/" + enp + "/pdf", session: page},
		{method: "GET", path: "/api/v1/documents/" + docs["passport"], session: page},
		{method: "GET", path: "/verify/" + enp + "?doc=" + enp + "-02"},
		{method: "GET", path: "/api/v1/cabinet?applicant=" + p.Subject, token: op},
		{method: "GET", path: "/cabinet?applicant=" + p.Subject, session: c.session("operator", "mfc-logs")},
		{method: "GET", path: "/api/v1/applications/" + id + "/history", token: c.token("auditor", "aud-logs")},
		{method: "GET", path: "/api/v1/applications/" + id + "/state?revision=3", token: c.token("auditor", "aud-logs")},
		{method: "GET", path: "/auditor/applications/" + id, session: c.session("auditor", "aud-logs")},
		{method: "GET", path: "/reviewer/applications/" + id, session: c.session("reviewer", "rev-logs")},
		{method: "GET", path: "/api/v1/admin/projections", token: c.token("admin", "adm-logs")},
	} {
		if res := c.do(rq); res.status != 200 {
			t.Errorf("%s %s: %d %.200s", rq.method, rq.path, res.status, res.body)
		}
	}
	waitMessages(t, srv, 4)

	all := logs.all()
	if !strings.Contains(all, "dev sign-in") || !strings.Contains(all, "email: notification sent") {
		t.Fatalf("the capture missed lines it should have:\n%s", all)
	}
	for _, personal := range []string{
		p.LastName, p.FirstName, p.LatinName, "ABDULLAEV", p.Passport, p.BirthPlace, p.IssuedBy,
		p.Phone, "79035557788", "9035557788", "903) 555", p.Email, "sherzod.a",
		p.Street, "Ленина", "Кирова", "Гоголя", p.City, "1990-04-12",
	} {
		if i := strings.Index(all, personal); i >= 0 {
			t.Errorf("personal data %q in the logs: …%s…", personal, all[max(0, i-200):min(len(all), i+100)])
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("%d log lines:\n%s", strings.Count(all, "\n")+1, all)
	}
}
