package web

import (
	"regexp"
	"strings"
	"testing"

	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// The assigned reviewer's page has the reject form and the release form,
// both with a reason: each element id is unique on the page (the release's
// reason took the reject's id, its label focused the other textarea and
// its errors were named by the other's label).
func TestReviewPageIDsUnique(t *testing.T) {
	r := mustRenderer(t)
	ru := r.langs["ru"]
	v := appview.View{ApplicationID: "a-1", Status: appview.StatusInReview, Assignee: "rev-1", Revision: 3}
	d := ReviewData{View: v, Summary: summarize(ru, v, true), Mine: true,
		Can: map[string]bool{"request-info": true, "approve": true, "reject": true, "release": true}}
	html := renderPage(t, r, "review", d)
	seen := map[string]int{}
	for _, m := range regexp.MustCompile(` id="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		seen[m[1]]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("id %q appears %d times", id, n)
		}
	}
}

// mustRenderer parses the pages and loads the catalogs, as omsd does.
func mustRenderer(t *testing.T) *renderer {
	t.Helper()
	r, err := newRenderer()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// renderPage renders page name with data as a Russian reader gets it.
func renderPage(t *testing.T, r *renderer, name string, data any) string {
	t.Helper()
	return renderPageIn(t, r, "ru", "en", name, data)
}

// renderPageIn renders page name with data in language lang, offering a
// switch to other.
func renderPageIn(t *testing.T, r *renderer, lang, other, name string, data any) string {
	t.Helper()
	var b strings.Builder
	if err := r.pages[name].ExecuteTemplate(&b, "layout", &Page{L: r.langs[lang], Other: r.langs[other], Data: data}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The buttons that send a command straight from the page need the script;
// without it the page says so, as every form does (web QA: Claim, Approve
// and Issue did nothing with no word why).
func TestReviewButtonsSayTheyNeedTheScript(t *testing.T) {
	r := mustRenderer(t)
	ru := r.langs["ru"]
	v := appview.View{ApplicationID: "a-1", Status: appview.StatusSubmitted, Revision: 0}
	for _, action := range []string{"claim", "approve", "issue-policy"} {
		d := ReviewData{View: v, Summary: summarize(ru, v, true), Can: map[string]bool{action: true}}
		html := renderPage(t, r, "review", d)
		start, button := strings.Index(html, "data-actions"), strings.Index(html, "data-command=")
		if start < 0 || button < start || !strings.Contains(html[start:button], "<noscript>") {
			t.Errorf("%s: no notice for a browser without the script before the button:\n%s", action, html)
		}
	}
}

// "Another number" on the code step keeps the page to return to (web QA:
// it led to a bare /signin, and the sign-in then landed on the start page).
func TestAnotherNumberKeepsThePageToReturnTo(t *testing.T) {
	r := mustRenderer(t)
	html := renderPage(t, r, "signin", SigninData{Dev: true, Step: "code", Phone: "+79161234567", Next: "/auditor/applications/a-1?revision=2"})
	if !strings.Contains(html, `href="/signin?next=%2fauditor%2fapplications%2fa-1%3frevision%3d2"`) {
		t.Errorf("the link to another number drops next:\n%s", html)
	}
}

// A refusal on the pages that post without the script marks the input it
// is about, ties the message to it and puts the cursor there, as the
// script's forms do (web QA: only an alert at the top of the page).
func TestServerFormErrorsMarkTheirInput(t *testing.T) {
	r := mustRenderer(t)
	for name, tc := range map[string]struct {
		page      string
		data      any
		input, id string
	}{
		"phone":         {"signin", SigninData{Dev: true, Step: "phone", Error: "Неверный номер"}, `id="phone"`, "signin-error"},
		"sign-in code":  {"signin", SigninData{Dev: true, Step: "code", Phone: "+79161234567", Error: "Неверный код"}, `id="code"`, "signin-error"},
		"operator who":  {"operator", OperatorData{Error: "Нет такого заявителя", ErrorField: "who"}, `id="who"`, "operator-error"},
		"operator code": {"operator", OperatorData{Error: "Неверный код", ErrorField: "code"}, `id="code"`, "operator-error"},
	} {
		html := renderPage(t, r, tc.page, tc.data)
		i := strings.Index(html, tc.input)
		if i < 0 {
			t.Fatalf("%s: no %s", name, tc.input)
		}
		tag := html[strings.LastIndex(html[:i], "<"):]
		tag = tag[:strings.Index(tag, ">")]
		if !strings.Contains(tag, `aria-invalid="true"`) || !strings.Contains(tag, tc.id) || !strings.Contains(tag, "autofocus") || !strings.Contains(html, `id="`+tc.id+`"`) {
			t.Errorf("%s: the input is not marked: %s", name, tag)
		}
	}
	// Without an error nothing is marked.
	if html := renderPage(t, r, "operator", OperatorData{}); strings.Contains(html, "aria-invalid") {
		t.Error("the operator's page marks an input with no error")
	}
}

// An optional section (a renewal's new passport, a correction) announces
// none of its fields as required: the whole section may be left as it is
// (web QA: the renewal's passport number said "required").
func TestOptionalSectionsRequireNothing(t *testing.T) {
	r := mustRenderer(t)
	l := r.langs["ru"]
	plain := identitySection(l, "", schema.IdentityDocument{})
	required := 0
	for _, f := range plain.Fields {
		if f.Required {
			required++
		}
	}
	if required == 0 {
		t.Fatal("the identity section requires nothing; this test tests nothing")
	}
	for name, sec := range map[string]Section{"renewal's passport": plain.optional(), "a correction": correctionSection(l, "identityDocument", schema.Form{})} {
		for _, f := range sec.Fields {
			if f.Required || !sec.Optional {
				t.Errorf("%s: %s required %t, section optional %t", name, f.Ptr, f.Required, sec.Optional)
			}
		}
	}
	for _, f := range plain.Fields {
		if f.Required {
			required--
		}
	}
	if required != 0 {
		t.Error("optional() changed the section it was made from")
	}
}
