package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The auditor's start page lists the open applications a page of 50 at a
// time, with a link to the next page, so that none is reachable only by
// its number (QA: it showed the first 50 and nothing said there were
// more).
func TestAuditorPageWalksEveryOpenApplication(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	const n = 53
	want := map[string]bool{}
	var last uint64
	for i := range n {
		p := karimov(fmt.Sprintf("auditor-page-%d", i), fmt.Sprintf("P%07d", i))
		r, _ := c.submit(p, c.token("applicant", p.Subject), "")
		want[r.ApplicationID] = true
		last = r.Position
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/reviewer/queue?after=%d", last), token: c.token("auditor", "auditor-1")}, 200, nil)
	auditor := c.session("auditor", "auditor-1")
	link := regexp.MustCompile(`href="/auditor/applications/([0-9a-f-]{36})"`)
	next := regexp.MustCompile(`<a class="button" href="(/auditor\?cursor=[^"]+)"`)
	seen := map[string]bool{}
	path := "/auditor"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatalf("more pages than %d applications make", n)
		}
		res := c.do(req{method: "GET", path: path, session: auditor})
		if res.status != 200 {
			t.Fatalf("GET %s: %d %.300s", path, res.status, res.body)
		}
		links := link.FindAllStringSubmatch(res.body, -1)
		if len(links) > 50 {
			t.Fatalf("GET %s lists %d applications, more than a page", path, len(links))
		}
		for _, m := range links {
			if seen[m[1]] {
				t.Fatalf("%s listed twice (at %s)", m[1], path)
			}
			seen[m[1]] = true
		}
		path = ""
		if m := next.FindStringSubmatch(res.body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("application %s is on no page (%d of %d seen)", id, len(seen), n)
		}
	}

	// A mangled cursor is told on the page, in the reader's language.
	res := c.do(req{method: "GET", path: "/auditor?cursor=e30", session: auditor})
	if res.status != 400 || !strings.Contains(res.body, `role="alert"`) {
		t.Fatalf("a mangled cursor: %d %.500s", res.status, res.body)
	}
}

// A page's form sent without its script lands on a page that says why
// nothing happened, in the reader's language, for anyone signed in or
// not, whatever the form held; nothing of it is recorded.
func TestFormWithoutScriptIsExplained(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	form := url.Values{"/applicant/lastName": {"Каримов"}, "/identityDocument/number": {"FA1234567"}}
	for _, s := range []*sess{c.session("applicant", "nojs-1"), c.anonymousSession()} {
		for lang, want := range map[string]string{"ru": "Форма не отправлена", "en": "The form was not sent"} {
			res := c.do(req{method: "POST", path: "/nojs", session: s, form: form, lang: lang})
			if res.status != 200 || !strings.Contains(res.body, want) || strings.Contains(res.body, "FA1234567") {
				t.Fatalf("POST /nojs (%s): %d %.400s", lang, res.status, res.body)
			}
		}
	}
}

// Signing out of a session that has already ended (expired, or ended in
// another tab) goes to the sign-in page, whatever token the old page
// holds, instead of "the form has expired" (QA); a live session still
// needs its own token to be ended.
func TestSignOutAfterTheSessionEnded(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	old := c.session("applicant", "signout-1")
	// The browser dropped the expired cookies; the old page's form still
	// carries its token.
	res := c.do(req{method: "POST", path: "/signout", form: url.Values{"_csrf": {old.csrf}}})
	if res.status != 303 || res.header.Get("Location") != "/signin" {
		t.Fatalf("sign-out without a session: %d %s %.300s", res.status, res.header.Get("Location"), res.body)
	}
	live := c.session("applicant", "signout-2")
	forged := &sess{token: live.token, csrf: "not-" + live.csrf}
	if res := c.do(req{method: "POST", path: "/signout", session: forged, form: url.Values{}}); res.status != 403 {
		t.Fatalf("sign-out of a live session with another token: %d", res.status)
	}
	if res := c.do(req{method: "GET", path: "/cabinet", session: live}); res.status != 200 {
		t.Fatalf("the live session after the refused sign-out: %d", res.status)
	}
}

// A browser that prefers English gets the pages in English until the
// person picks a language on the site; Russian otherwise (walkthrough QA:
// an English browser got Russian).
func TestPagesFollowTheBrowsersLanguage(t *testing.T) {
	a, _ := startApp(t)
	for _, tc := range []struct {
		accept, cookie, want string
	}{
		{"en-US,en;q=0.9", "", `<html lang="en">`},
		{"en", "", `<html lang="en">`},
		{"de-DE,de;q=0.9,en;q=0.8", "", `<html lang="en">`},
		{"ru-RU,ru;q=0.9,en;q=0.8", "", `<html lang="ru">`},
		{"", "", `<html lang="ru">`},
		{"uz-UZ,uz;q=0.9", "", `<html lang="ru">`},
		{"en-US,en;q=0.9", "ru", `<html lang="ru">`},
		{"ru-RU", "en", `<html lang="en">`},
	} {
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/signin", nil)
		if tc.accept != "" {
			req.Header.Set("Accept-Language", tc.accept)
		}
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: "oms_lang", Value: tc.cookie})
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), tc.want) {
			t.Errorf("Accept-Language %q, cookie %q: want %s", tc.accept, tc.cookie, tc.want)
		}
	}
}

// The language link on a refused page switches the language: the pages'
// switch never ran in front of a refusal, and the link changed nothing
// (web QA: a reviewer's /cabinet?lang=en stayed a Russian 403; so did an
// unknown address's 404).
func TestTheLanguageLinkWorksOnARefusal(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	reviewer := c.session("reviewer", "rev-lang")
	res := c.do(req{method: "GET", path: "/cabinet?lang=en", session: reviewer})
	if res.status != 303 || res.header.Get("Location") != "/cabinet" || !strings.Contains(res.header.Get("Set-Cookie"), "oms_lang=en") {
		t.Errorf("/cabinet?lang=en: %d to %q, cookie %q", res.status, res.header.Get("Location"), res.header.Get("Set-Cookie"))
	}
	again := c.do(req{method: "GET", path: "/cabinet", session: reviewer, lang: "en"})
	if again.status != 403 || !strings.Contains(again.body, `lang="en"`) || !strings.Contains(again.body, "You do not have access to this page") {
		t.Errorf("/cabinet in English: %d %.400s", again.status, again.body)
	}
	// A browser at an unknown address (the English 404 itself is
	// TestUnknownAddressAnswersInTheCallersFormat's).
	r, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/no-such-page?lang=en", nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/no-such-page" || !strings.Contains(resp.Header.Get("Set-Cookie"), "oms_lang=en") {
		t.Errorf("/no-such-page?lang=en: %d to %q, cookie %q", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Set-Cookie"))
	}
}

// A filter the queue refuses is said in the page's words, on its input,
// not in the API's ("region: …", the status codes) (web QA).
func TestQueueFilterRefusalsNameThePagesInputs(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	rev := c.session("reviewer", "rev-filter")
	for _, tc := range []struct{ path, says, input string }{
		{"/reviewer?region=7", "Регион «7»", `id="fl-region"`},
		{"/reviewer?status=bogus", "Выберите статус из списка", `id="fl-status"`},
	} {
		res := c.do(req{method: "GET", path: tc.path, session: rev})
		i, e := strings.Index(res.body, tc.input), strings.Index(res.body, `id="queue-error">`)
		if res.status != 400 || i < 0 || e < 0 {
			t.Fatalf("%s: %d %.3000s", tc.path, res.status, res.body)
		}
		said := res.body[e : e+strings.Index(res.body[e:], "</p>")]
		if !strings.Contains(said, tc.says) || strings.Contains(said, "region:") || strings.Contains(said, "in_review") {
			t.Errorf("%s: the page says %q", tc.path, said)
		}
		if tag := res.body[i : i+strings.Index(res.body[i:], ">")]; !strings.Contains(tag, `aria-invalid="true"`) {
			t.Errorf("%s: the input is not marked: %s", tc.path, tag)
		}
	}
}
