package app_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omsonline/oms/query/policypdf/pdfcheck"
	"github.com/omsonline/oms/query/web/webtest"
)

// script is a payload for a free-text field: a script element and an
// attribute break-out with an inline handler, both of which would set
// window.__xss, and a marker that shows where the text landed.
func script(marker string) string {
	return `<script>window.__xss="` + marker + `"</script>"><img src=x onerror="window.__xss='` + marker + `'">` + marker
}

// unescaped are the fragments that appear in a page only if a payload was
// written into it as markup.
var unescaped = []string{`<script>window.__xss`, `<img src=x`, `<b id=xss`, `<i id=xss`, `<u id=xss`}

// elementID finds the id attributes of a page.
var elementID = regexp.MustCompile(`\sid="([^"]+)"`)

// TestPagesEscapeEveryFreeTextField submits markup in every free-text field
// the API accepts it in, renders every page that shows those fields, as
// each role that can see them, and checks that the HTML carries the text
// and never the markup. With Chromium installed it also opens the pages
// and checks that no payload became an element or ran.
func TestPagesEscapeEveryFreeTextField(t *testing.T) {
	otp := &otpLog{}
	a, cfg := startWithLog(t, otp, nil)
	c := newClient(t, a, cfg)
	reviewer := c.token("reviewer", "rev-xss")

	x := karimov("xss-applicant-x", "X1234567")
	x.BirthPlace, x.IssuedBy = script("xssBirthPlace"), script("xssIssuedBy")
	// An address takes letters, digits and some punctuation, quotes among
	// them, which break out of an attribute written unescaped.
	x.City, x.Street = `Москва "xssCity'`, `ул. «Ленина» "xssStreet' (стр. 1)`
	x.House, x.Building, x.Apartment = `5"xssHouse`, `'xssBldg`, `"xssApt"`
	tokX := c.token("applicant", x.Subject)

	// Markup in an address is refused, not stored.
	for _, field := range []string{"city", "street", "house", "building", "apartment"} {
		p := x
		switch field {
		case "city":
			p.City = script("xssCity")
		case "street":
			p.Street = script("xssStreet")
		case "house":
			p.House = `"><b id=xssHouse>`
		case "building":
			p.Building = `<i id=xssBldg>`
		case "apartment":
			p.Apartment = `'><u id=xssApt>`
		}
		res := c.do(req{method: "POST", path: "/api/v1/applications", token: tokX, json: p.form(map[string]string{})})
		if res.status != 422 || !strings.Contains(res.body, "/address/"+field) {
			t.Errorf("markup in %s: %d %.300s, want 422 on the field", field, res.status, res.body)
		}
	}

	// Names are letters only: markup there is refused, not stored.
	for _, field := range []string{"lastName", "firstName", "middleName", "latinName"} {
		p := x
		switch field {
		case "lastName":
			p.LastName = `<b id=xssName>`
		case "firstName":
			p.FirstName = `"><i id=xssName>`
		case "latinName":
			p.LatinName = `<script>alert(1)</script>`
		}
		body := p.form(map[string]string{})
		if field == "middleName" {
			body = strings.Replace(body, `"sex":"male"`, `"sex":"male","middleName":"<u id=xssName>"`, 1)
		}
		res := c.do(req{method: "POST", path: "/api/v1/applications", token: tokX, json: body})
		if res.status != 422 || !strings.Contains(res.body, "/applicant/"+field) {
			t.Errorf("markup in %s: %d %.300s, want 422 on the field", field, res.status, res.body)
		}
	}
	// An e-mail address may quote its local part; markup there is kept if
	// the validator lets it through, and then it must be escaped too.
	emailPayload := `"<b id=xssEmail>"@example.org`
	markers := []string{"xssBirthPlace", "xssIssuedBy", "xssCity", "xssStreet", "xssHouse", "xssBldg", "xssApt", "xssQuestion", "xssAnswer", "xssReject", "xssWithdraw"}
	x.Email = emailPayload
	docs := map[string]string{}
	for _, kind := range []string{"passport", "residence_document", "consent"} {
		docs[kind] = c.upload(tokX, "", kind, x.Subject)
	}
	res := c.do(req{method: "POST", path: "/api/v1/applications", token: tokX, json: x.form(docs)})
	if res.status == 422 && strings.Contains(res.body, "/contacts/email") {
		t.Logf("the e-mail validator refuses %s; the address is tested with a plain one", emailPayload)
		x.Email = "karimov@example.org"
		res = c.do(req{method: "POST", path: "/api/v1/applications", token: tokX, json: x.form(docs)})
	} else {
		markers = append(markers, "xssEmail")
	}
	if res.status != 201 {
		t.Fatalf("submit with markup in the free-text fields: %d %s", res.status, res.body)
	}
	var rx result
	jsonUnmarshal([]byte(res.body), &rx)
	idX := rx.ApplicationID
	c.act(reviewer, "", idX, "claim", "")
	c.act(reviewer, "", idX, "request-info", `{"questions":[{"text":`+jsonString(script("xssQuestion"))+`,"field":"/address/city"}]}`)
	c.act(tokX, "", idX, "provide-info", `{"answers":[{"questionId":"1.1","text":`+jsonString(script("xssAnswer"))+`}]}`)
	c.act(reviewer, "", idX, "approve", "")
	last := c.act(reviewer, "", idX, "issue-policy", "")
	enp := c.enpOf(tokX, last.Position)

	y := karimov("xss-applicant-y", "Y1234567")
	tokY := c.token("applicant", y.Subject)
	ry, _ := c.submit(y, tokY, "")
	c.act(reviewer, "", ry.ApplicationID, "claim", "")
	c.act(reviewer, "", ry.ApplicationID, "reject", `{"reasonCode":"other","reason":`+jsonString(script("xssReject"))+`}`)

	z := karimov("xss-applicant-z", "Z1234567")
	tokZ := c.token("applicant", z.Subject)
	rz, _ := c.submit(z, tokZ, "")
	last = c.act(tokZ, "", rz.ApplicationID, "withdraw", `{"reason":`+jsonString(script("xssWithdraw"))+`}`)
	// One left submitted: its page has the most forms (withdraw, withdraw
	// the consent).
	w := karimov("xss-applicant-w", "W7654321")
	tokW := c.token("applicant", w.Subject)
	rw, _ := c.submit(w, tokW, "")
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/reviewer/queue?after=%d", last.Position), token: reviewer}, 200, nil)
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", last.Position), token: tokZ}, 200, nil)
	// The pages read every read model without ?after=: let all of them
	// catch up (the application views come from the history projection).
	caughtUp(t, a)

	c.openVisit(x.Subject, "mfc-xss")
	sessions := map[string]*sess{
		"x": c.session("applicant", x.Subject), "y": c.session("applicant", y.Subject), "z": c.session("applicant", z.Subject),
		"w":        c.session("applicant", w.Subject),
		"operator": c.session("operator", "mfc-xss"), "reviewer": c.session("reviewer", "rev-xss-2"),
		"auditor": c.session("auditor", "aud-xss"), "admin": c.session("admin", "adm-xss"),
	}
	type view struct{ who, path string }
	views := []view{
		{"x", "/cabinet"}, {"x", "/cabinet/applications/" + idX},
		{"y", "/cabinet"}, {"y", "/cabinet/applications/" + ry.ApplicationID},
		{"z", "/cabinet"}, {"z", "/cabinet/applications/" + rz.ApplicationID},
		{"w", "/cabinet/applications/" + rw.ApplicationID},
		{"operator", "/cabinet?applicant=" + x.Subject}, {"operator", "/cabinet/applications/" + idX + "?applicant=" + x.Subject},
		{"reviewer", "/reviewer"}, {"admin", "/reviewer"},
		{"auditor", "/auditor"},
	}
	for _, id := range []string{idX, ry.ApplicationID, rz.ApplicationID} {
		views = append(views, view{"reviewer", "/reviewer/applications/" + id}, view{"auditor", "/auditor/applications/" + id})
	}
	for rev := 0; rev <= 5; rev++ {
		views = append(views, view{"auditor", fmt.Sprintf("/auditor/applications/%s?revision=%d", idX, rev)},
			view{"auditor", fmt.Sprintf("/auditor/applications/%s/state?revision=%d", idX, rev)})
	}

	seen := map[string]bool{}
	for _, v := range views {
		res := c.do(req{method: "GET", path: v.path, session: sessions[v.who]})
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s as %s: %d %s", v.path, v.who, res.status, res.header.Get("Content-Type"))
			continue
		}
		for _, bad := range unescaped {
			if i := strings.Index(res.body, bad); i >= 0 {
				t.Errorf("%s as %s writes markup unescaped: …%s…", v.path, v.who, res.body[max(0, i-80):min(len(res.body), i+80)])
			}
		}
		for _, m := range markers {
			seen[m] = seen[m] || strings.Contains(res.body, m)
		}
		// Two elements of one id break labels and aria references.
		ids := map[string]bool{}
		for _, m := range elementID.FindAllStringSubmatch(res.body, -1) {
			if ids[m[1]] {
				t.Errorf("%s as %s has two elements with id %q", v.path, v.who, m[1])
			}
			ids[m[1]] = true
		}
	}
	for _, m := range markers {
		if !seen[m] {
			t.Errorf("no page shows the field marked %s, so its escaping is untested", m)
		}
	}

	// The policy extract is a PDF: the text is drawn as text whatever it
	// holds.
	pdf := c.must(req{method: "GET", path: "/api/v1/policies/" + enp + "/pdf", token: tokX}, 200, nil)
	if txt, err := pdfcheck.Text([]byte(pdf.body)); err == nil && strings.Contains(txt, "<script") {
		t.Errorf("the extract holds markup: %s", txt)
	}

	browserCheck(t, "http://"+a.HTTPAddr(), sessions, func(yield func(who, path string) bool) {
		for _, v := range views {
			// One revision of the timeline stands for all: the same
			// templates render them.
			if strings.Contains(v.path, "revision=") && !strings.HasSuffix(v.path, "revision=2") {
				continue
			}
			if !yield(v.who, v.path) {
				return
			}
		}
	})
}

// pageCheck is what the browser reports of a page: whether a payload ran
// and how many elements payloads made.
type pageCheck struct {
	Ran      string `json:"ran"`
	Injected int    `json:"injected"`
	At       string `json:"at"`
}

// browserCheck opens every view in Chromium with its session and checks
// that no payload became an element or ran.
func browserCheck(t *testing.T, base string, sessions map[string]*sess, views func(func(who, path string) bool)) {
	exe := webtest.Chromium(t)
	if exe == "" {
		t.Log("Chromium is not installed: only the HTML was checked")
		return
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	for who, path := range views {
		s := sessions[who]
		step, cancelStep := context.WithTimeout(ctx, 15*time.Second)
		// The session cookie is httpOnly when the server sets it, but the
		// server reads it all the same when a script sets it.
		err := chromedp.Do(step,
			chromedp.Navigate(base+"/static/app.css"),
			func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				_, err := chromedp.Evaluate[string](`document.cookie = "oms_session=`+s.token+`; path=/"`)(ctx, tg)
				return chromedp.Void{}, err
			},
			chromedp.Navigate(base+path),
			chromedp.WaitReady("body"),
		)
		var out pageCheck
		if err == nil {
			out, err = chromedp.Run(step, chromedp.Evaluate[pageCheck](
				`({ran: String(window.__xss || ""), injected: document.querySelectorAll('[id^="xss"], img[src="x"], script:not([src]):not([type])').length, at: location.pathname})`))
		}
		cancelStep()
		if err != nil {
			t.Errorf("%s as %s in Chromium: %v", path, who, err)
			continue
		}
		if want, _, _ := strings.Cut(path, "?"); out.At != want {
			t.Errorf("%s as %s in Chromium: landed on %s", path, who, out.At)
		}
		if out.Ran != "" || out.Injected != 0 {
			t.Errorf("%s as %s in Chromium: payload %q ran, %d injected elements", path, who, out.Ran, out.Injected)
		}
	}
}
