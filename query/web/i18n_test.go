package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/cabinet"
)

// TestCatalogsHaveTheSameKeys keeps Russian and English in step: a text
// added in one language only would show its key in the other.
func TestCatalogsHaveTheSameKeys(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	ru, en := cats["ru"].Keys(), cats["en"].Keys()
	for _, k := range ru {
		if !slices.Contains(en, k) {
			t.Errorf("en.json lacks %q", k)
		}
		if strings.TrimSpace(cats["ru"].T(k)) == "" || strings.TrimSpace(cats["en"].T(k)) == "" {
			t.Errorf("%q is empty in a catalog", k)
		}
	}
	for _, k := range en {
		if !slices.Contains(ru, k) {
			t.Errorf("ru.json lacks %q", k)
		}
	}
}

// TestEveryUsedKeyExists finds the keys the templates, the Go code and the
// script use and checks the catalog has them.
func TestEveryUsedKeyExists(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	l := cats["ru"]
	used := map[string]string{}
	tmplKey := regexp.MustCompile(`\.T "([a-zA-Z0-9_.]+)"`)
	err = fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, p)
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = p
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	js, err := fs.ReadFile(staticFS, "static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`t\('(js\.[a-zA-Z.]+)'`).FindAllStringSubmatch(string(js), -1) {
		used[m[1]] = "app.js"
	}
	goKey := regexp.MustCompile(`"((?:field|section|step|form|nav|signin|operator|error|review|scan|queue|policy|cabinet|auditor|timeline|address|question|renew|withdraw|action|verify|app|a11y|time|lang|next|status)\.[a-zA-Z0-9_.]*[a-zA-Z0-9_])"`)
	srcs, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range srcs {
		if strings.HasSuffix(src, "_test.go") {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") {
				used[m[1]] = src
			}
		}
	}
	// Keys built from values at run time.
	dynamic := []string{}
	for _, s := range []string{appview.StatusSubmitted, appview.StatusInReview, appview.StatusInfoRequested, appview.StatusApproved,
		appview.StatusRejected, appview.StatusWithdrawn, appview.StatusPolicyActive, appview.StatusPolicyExpired} {
		dynamic = append(dynamic, "status."+s, "next."+s)
	}
	// Every event type the timeline can show: all but those never in an
	// application's stream. A new type needs a name or a place here.
	notInTimeline := []string{schema.TypeDocumentUploaded, "EnpReserved", "IdempotencyKeyClaimed", "IdempotencyKeyCompleted",
		"IdempotencyKeyReleased", "MigrationCompleted", "PersonReserved", schema.TypePersonalDataAccessed, schema.TypeSessionEnded}
	for _, e := range schema.Types() {
		if !slices.Contains(notInTimeline, e) {
			dynamic = append(dynamic, "event."+e)
		}
	}
	for _, r := range []string{roleApplicant, roleOperator, roleReviewer, roleAuditor, roleAdmin, "system"} {
		dynamic = append(dynamic, "role."+r)
	}
	for _, k := range schema.DocumentKinds {
		dynamic = append(dynamic, "scan."+k)
	}
	for _, r := range schema.RejectReasons {
		dynamic = append(dynamic, "reject."+r)
	}
	for _, r := range residenceTypes {
		dynamic = append(dynamic, "residence."+r)
	}
	for _, p := range questionFields {
		dynamic = append(dynamic, "ptr"+p)
	}
	for _, s := range []string{"active", "expired", "superseded"} {
		dynamic = append(dynamic, "policy.status."+s)
	}
	dynamic = append(dynamic, "decision.approved", "decision.rejected", "sex.male", "sex.female", "identity.foreign_passport", "erased.value",
		"consent.method."+schema.ConsentSignedOnPaper)
	for _, k := range dynamic {
		used[k] = "Go code"
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k, where := range used {
		if !l.Has(k) {
			t.Errorf("%s uses %q, which the catalogs lack", where, k)
		}
	}
}

// Lang.T fills {0}, {1}…; a printf verb in a message would reach the page
// as it is.
func TestCatalogsHaveNoPrintfVerbs(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	for code, l := range cats {
		for k, m := range l.messages {
			if v := verb.FindString(m); v != "" {
				t.Errorf("%s %s: %q has %s", code, k, m, v)
			}
		}
	}
}

// The pages promise only channels the service has: the footer sent
// people with questions to a support chat, and there is none (help is at
// an МФЦ, and a reviewer's questions come in the cabinet).
func TestCatalogsPromiseNoSupportChat(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	// RE2's \b knows only ASCII letters; a chat in Russian needs \p{L}.
	chat := regexp.MustCompile(`(?i)(?:^|\P{L})(?:chat|чат(?:е|а|у|ом|ы)?)(?:\P{L}|$)`)
	for code, l := range cats {
		for k, m := range l.messages {
			if chat.MatchString(m) {
				t.Errorf("%s %s: %q offers a chat the service does not have", code, k, m)
			}
		}
	}
}

// Erased data read in the page's language, once: not the bilingual
// marker, not six times over in an address, not as a catalog key.
func TestSummaryShowsErasedDataOnce(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	m := piicrypt.Marker
	v := appview.View{Form: schema.Form{
		Applicant: schema.Applicant{LastName: m, FirstName: m, Sex: m, Citizenship: "UZB"},
		Address:   schema.Address{Region: "77", City: m, Street: m, House: m, PostalCode: m},
	}}
	for code, l := range cats {
		s := summarize(l, v, true)
		want := l.T("erased.value")
		if s.Name != want {
			t.Errorf("%s: name %q, want %q", code, s.Name, want)
		}
		for _, g := range s.Groups {
			for _, r := range g.Rows {
				if strings.Contains(r.Value, m) || strings.Contains(r.Value, "sex.") || strings.Count(r.Value, want) > 1 {
					t.Errorf("%s: %s shows %q", code, r.Ptr, r.Value)
				}
			}
		}
	}
}

// Applications made the same hour share the first digits of their UUIDv7
// ids, the clock; the number a page shows must tell them apart.
func TestShortNamesTellApplicationsApart(t *testing.T) {
	short := funcs["short"].(func(string) string)
	a, b := "01a21e79-b606-7d2c-8a1e-3c55d0e1f0aa", "01a21e79-b6ff-7011-9b42-77e0a9c3d4bb"
	if short(a) == short(b) || short(a) != "d0e1f0aa" {
		t.Fatalf("short(%s) = %q, short(%s) = %q", a, short(a), b, short(b))
	}
}

// The timeline's diff reads as the pages do, not as JSON.
func TestTimelineValues(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	ru := cats["ru"]
	for _, c := range []struct {
		path string
		v    any
		want string
	}{
		{"/status", "in_review", ru.T("status.in_review")},
		{"/policy/status", "active", ru.T("policy.status.active")},
		{"/decision/outcome", "rejected", ru.T("decision.rejected")},
		{"/form/documents/0/size", float64(2097152), "2097152"},
		{"/form/applicant/sex", "male", ru.T("sex.male")},
		{"/form/residenceDocument/type", "vnzh", ru.T("residence.vnzh")},
		{"/form/documents/1/kind", "consent", ru.T("scan.consent")},
		{"/submittedAt", "2026-03-01T09:30:00Z", ru.DateTime(time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC))},
		{"/form/applicant/birthDate", "1990-04-12", "12.04.1990"},
		{"/form/applicant/lastName", piicrypt.Marker, ru.T("erased.value")},
		{"/decision", map[string]any{"outcome": "rejected", "reason": "нет", "by": "rev-1"}, "Кем принято: rev-1; Итог: " + ru.T("decision.rejected") + "; Пояснение: нет"},
		{"/form/documents/0", map[string]any{"kind": "passport", "nickname": "x"}, "Вид: " + ru.T("scan.passport") + "; nickname: x"},
		{"/waiting", true, ru.T("value.true")},
		{"/questions/2/documentKind", "passport", ru.T("scan.passport")},
		{"/consent/method", schema.ConsentSignedOnPaper, "скан согласия, подписанного от руки"},
		{"/questions/0", nil, "—"},
	} {
		if got := ru.Value(c.path, c.v); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.path, c.v, got, c.want)
		}
	}
}

// Who may not apply anew is told before the form: an open application, an
// active or expired policy (renewed on its own application), an erased
// account; a rejected or withdrawn application leaves the way open.
func TestCannotApply(t *testing.T) {
	app := func(status string, erased bool) cabinet.Application {
		a := cabinet.Application{Status: status}
		if erased {
			a.Erased = &appview.Erasure{}
		}
		return a
	}
	for _, c := range []struct {
		apps []cabinet.Application
		want string
	}{
		{nil, ""},
		{[]cabinet.Application{app(appview.StatusRejected, false), app(appview.StatusWithdrawn, false)}, ""},
		{[]cabinet.Application{app(appview.StatusSubmitted, false)}, "cabinet.cannotApply.open"},
		{[]cabinet.Application{app(appview.StatusPolicyActive, false)}, "cabinet.cannotApply.open"},
		{[]cabinet.Application{app(appview.StatusPolicyExpired, false)}, "cabinet.cannotApply.open"},
		{[]cabinet.Application{app(appview.StatusPolicyExpired, false), app(appview.StatusRejected, true)}, "cabinet.cannotApply.erased"},
	} {
		if got := cannotApply(cabinet.Doc{Applications: c.apps}); got != c.want {
			t.Errorf("%+v: %q, want %q", c.apps, got, c.want)
		}
	}
}

// A review deadline reads right in each of its states: running, overdue,
// paused with days left, paused when already late (not "-3 left"), and
// provisional where the year's calendar is not decreed yet. A paused one
// shows no date: the date moves when the clock restarts.
func TestDeadlineStates(t *testing.T) {
	r := mustRenderer(t)
	ru := r.langs["ru"]
	for _, c := range []struct {
		left                          int
		overdue, waiting, provisional bool
		want, not                     []string
	}{
		{left: 4, want: []string{"21.12.2026", ru.T("queue.daysLeft", 4)}, not: []string{"*"}},
		{left: -2, overdue: true, want: []string{"21.12.2026", ru.T("queue.overdue")}},
		{left: 7, waiting: true, want: []string{ru.T("queue.paused", 7)}, not: []string{"21.12.2026"}},
		{left: -3, waiting: true, want: []string{ru.T("queue.pausedLate", 3)}, not: []string{"21.12.2026", "-3"}},
		{left: 9, provisional: true, want: []string{"21.12.2026", `<abbr title="` + ru.T("deadline.provisional") + `">*</abbr>`}},
	} {
		var b strings.Builder
		data := map[string]any{"L": ru, "Date": "2026-12-21", "Left": c.left, "Overdue": c.overdue, "Waiting": c.waiting, "Provisional": c.provisional}
		if err := r.fragment.ExecuteTemplate(&b, "deadline", data); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%+v: %q lacks %q", c, b.String(), w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(b.String(), n) {
				t.Errorf("%+v: %q shows %q", c, b.String(), n)
			}
		}
	}
}

// The application's page says what to do next as the cabinet does, the
// erasure and a withdrawn consent included; it said "the policy is active,
// download the extract" after the consent was withdrawn, and "you may
// apply again" after an erasure that bars it.
func TestNextStep(t *testing.T) {
	for _, c := range []struct {
		status            string
		erased, withdrawn bool
		want              string
	}{
		{appview.StatusPolicyActive, false, false, "next.policy_active"},
		{appview.StatusPolicyActive, false, true, "next.consentWithdrawn"},
		{appview.StatusPolicyExpired, false, true, "next.consentWithdrawn"},
		{appview.StatusWithdrawn, true, true, "next.erased"},
		{appview.StatusInReview, false, false, "next.in_review"},
	} {
		if got := nextStep(c.status, c.erased, c.withdrawn); got != c.want {
			t.Errorf("%+v: %s, want %s", c, got, c.want)
		}
	}
	r := mustRenderer(t)
	for _, k := range []string{"next.consentWithdrawn", "next.erased"} {
		if !r.langs["ru"].Has(k) || !r.langs["en"].Has(k) {
			t.Errorf("no text for %s", k)
		}
	}
}

// Erased scans are named, not linked: the download can only refuse, and a
// browser showed its problem JSON.
func TestErasedScansAreNotLinked(t *testing.T) {
	r := mustRenderer(t)
	ru := r.langs["ru"]
	v := appview.View{Form: schema.Form{Documents: []schema.DocumentRef{{Kind: "passport", ID: "d-1", ContentType: "image/png"}}}}
	render := func(v appview.View) string {
		var b strings.Builder
		if err := r.fragment.ExecuteTemplate(&b, "summary", map[string]any{"L": ru, "S": summarize(ru, v, true)}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if html := render(v); !strings.Contains(html, `href="/api/v1/documents/d-1"`) {
		t.Fatalf("a scan is not linked: %s", html)
	}
	v.Erased = &appview.Erasure{}
	html := render(v)
	if strings.Contains(html, "/api/v1/documents/") || !strings.Contains(html, ru.T("erased.value")) {
		t.Errorf("an erased scan: %s", html)
	}
}

// Staff pages name a citizenship as the form does, keeping the code.
func TestCountryNames(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lang, code, want string }{
		{"ru", "UZB", "Узбекистан (UZB)"},
		{"en", "UZB", "Uzbekistan (UZB)"},
		// Beyond the form's first choices: every citizenship has a name.
		{"ru", "DEU", "Германия (DEU)"},
		{"en", "DEU", "Germany (DEU)"},
		{"ru", "XXA", "Лицо без гражданства (XXA)"},
		{"ru", "QQQ", "QQQ"},
		{"ru", "", ""},
	} {
		if got := cats[tc.lang].Country(tc.code); got != tc.want {
			t.Errorf("%s: Country(%q) = %q, want %q", tc.lang, tc.code, got, tc.want)
		}
	}
	// The audit timeline names a changed citizenship by the same name.
	if got := cats["en"].Value("/form/applicant/citizenship", "KOR"); got != "South Korea" {
		t.Errorf("Value(citizenship KOR) = %q", got)
	}
	// A question's field by its label, not its pointer (web QA).
	for lang, c := range cats {
		got := c.Value("/questions/0/field", "/applicant/birthPlace")
		if got == "" || strings.Contains(got, "/") || got != fieldLabel(c, "/applicant/birthPlace") {
			t.Errorf("%s: Value(question field) = %q", lang, got)
		}
	}
}

// The form offers every citizenship: its first choices in their order,
// then the others by name in the reader's alphabet, never Russia nor a
// territory nobody is a citizen of (the command refuses both).
func TestCountryChoices(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Languages {
		opts := cats[lang].countries
		// 249 ISO codes, less Russia and 7 territories without citizens,
		// plus the stateless.
		if len(opts) != 242 {
			t.Errorf("%s: %d choices, want 242", lang, len(opts))
		}
		for i, c := range citizenships {
			if i >= len(opts) || opts[i].Value != c {
				t.Fatalf("%s: choice %d is %+v, want %s first", lang, i, opts[min(i, len(opts)-1)], c)
			}
		}
		seen := map[string]bool{}
		for _, o := range opts {
			if o.Value == "RUS" || o.Value == "ATA" || seen[o.Value] || o.Label == "" || o.Label == o.Value {
				t.Errorf("%s: choice %+v (repeated: %t)", lang, o, seen[o.Value])
			}
			seen[o.Value] = true
		}
	}
	// By name, not by code (CHE < DEU < JPN): Германия < Швейцария < Япония,
	// and Germany < Japan < Switzerland.
	for lang, want := range map[string][]string{"ru": {"DEU", "CHE", "JPN"}, "en": {"DEU", "JPN", "CHE"}} {
		var order []string
		for _, o := range cats[lang].countries[len(citizenships):] {
			if o.Value == "DEU" || o.Value == "JPN" || o.Value == "CHE" {
				order = append(order, o.Value)
			}
		}
		if !slices.Equal(order, want) {
			t.Errorf("%s order: %v, want %v", lang, order, want)
		}
	}
}

// The cabinet shows when the policy took effect and the terms before a
// renewal, which the API had and the page left out.
func TestCabinetShowsPolicyTerms(t *testing.T) {
	r := mustRenderer(t)
	ru := r.langs["ru"]
	old := appview.Policy{ENP: "9000000000000016", ValidFrom: "2025-11-26", ValidTo: "2026-11-25", Status: "superseded", Document: schema.PolicyDocument{Number: "9000000000000016-01", Version: 1}}
	cur := appview.Policy{ENP: "9000000000000016", ValidFrom: "2026-11-26", ValidTo: "2027-11-25", Status: "active", Document: schema.PolicyDocument{Number: "9000000000000016-02", Version: 2}}
	d := CabinetData{Doc: cabinet.Doc{Policy: &cur, PastPolicies: []appview.Policy{old}}, Policy: &PolicyCard{Policy: cur}}
	html := renderPage(t, r, "cabinet", d)
	for _, want := range []string{ru.T("policy.validFrom"), "26.11.2026", ru.T("policy.past"), "26.11.2025 — 25.11.2026", "9000000000000016-01"} {
		if !strings.Contains(html, want) {
			t.Errorf("the cabinet lacks %q", want)
		}
	}
}

// A question about no field and no scan can be answered only in words:
// its answer is not offered as optional, as one about a field is.
func TestTextOnlyQuestionIsNotOptional(t *testing.T) {
	r := mustRenderer(t)
	ru := r.langs["ru"]
	d := ApplicationData{View: appview.View{ApplicationID: "a-1", Status: appview.StatusInfoRequested}, CanAnswer: true, Open: []QuestionForm{
		{Index: 0, Question: appview.Question{Question: schema.Question{ID: "1.1", Text: "Где вы работаете?"}}, TextOnly: true},
		{Index: 1, Question: appview.Question{Question: schema.Question{ID: "1.2", Text: "Уточните улицу", Field: "/address/street"}}},
	}}
	html := renderPage(t, r, "application", d)
	first, second, ok := strings.Cut(html[strings.Index(html, "Где вы работаете?"):], "Уточните улицу")
	if !ok {
		t.Fatal("the questions are not on the page")
	}
	opt := "(" + ru.T("form.optional") + ")"
	if strings.Contains(first, opt) || !strings.Contains(second, opt) {
		t.Errorf("optional marks: text-only %v, field question %v", strings.Contains(first, opt), strings.Contains(second, opt))
	}
}

// A rejection on the applicant's page names its reason from the code, in
// the reader's language, and then the reviewer's words as written.
func TestRejectionNamesItsReasonInTheReadersLanguage(t *testing.T) {
	r := mustRenderer(t)
	v := appview.View{ApplicationID: "a-1", Status: appview.StatusRejected,
		Decision: &appview.Decision{Outcome: "rejected", ReasonCode: schema.RejectInvalidDocuments, Reason: "Скан паспорта нечитаемый"}}
	for lang, want := range map[string][]string{
		"en": {"Invalid documents.", `The reviewer&#39;s note: «<span class="said">Скан паспорта нечитаемый</span>»`},
		"ru": {"Недействительные документы.", `Комментарий специалиста: «<span class="said">Скан паспорта нечитаемый</span>»`},
	} {
		other := map[string]string{"en": "ru", "ru": "en"}[lang]
		html := renderPageIn(t, r, lang, other, "application", ApplicationData{View: v})
		for _, w := range want {
			if !strings.Contains(html, w) {
				t.Errorf("%s: the page lacks %q", lang, w)
			}
		}
	}
}

// Answered questions stay on the applicant's page with their answers.
func TestAnsweredQuestionsStayOnThePage(t *testing.T) {
	r := mustRenderer(t)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	d := ApplicationData{View: appview.View{ApplicationID: "a-1", Status: appview.StatusInReview}, Answered: []appview.Question{
		{Question: schema.Question{ID: "1.1", Text: "Где вы работаете?"}, Answered: true, Answer: "В ООО «Ромашка»", AnsweredAt: at},
		{Question: schema.Question{ID: "1.2", Text: "Приложите скан паспорта", DocumentKind: "passport"}, Answered: true, AnsweredAt: at},
	}}
	html := renderPage(t, r, "application", d)
	for _, want := range []string{"Вопросы специалиста и ваши ответы", "Где вы работаете?", `«<span class="said">В ООО «Ромашка»</span>»`, "Приложите скан паспорта", "отвечено исправлением или сканом"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// An expired policy is told it has expired, not that it "ends soon".
func TestExpiredPolicyIsNotToldItEndsSoon(t *testing.T) {
	r := mustRenderer(t)
	ru := r.langs["ru"]
	for status, want := range map[string]string{"expired": "policy.renewNoticeExpired", "active": "policy.renewNotice"} {
		d := CabinetData{Policy: &PolicyCard{Policy: appview.Policy{ENP: "9000000000000016", ValidTo: "2026-11-01", Status: status}, RenewOffered: true}}
		html := renderPage(t, r, "cabinet", d)
		other := map[string]string{"policy.renewNoticeExpired": "policy.renewNotice", "policy.renewNotice": "policy.renewNoticeExpired"}[want]
		if !strings.Contains(html, ru.T(want)) || strings.Contains(html, ru.T(other)) {
			t.Errorf("a %s policy's notice is not %s", status, want)
		}
	}
}

// A question the page offers no correction or scan for is answered in
// words only, so its answer is not marked optional (QA: one about /consent
// said "optional" and the API then refused the empty answer).
func TestQuestionsAnsweredOnlyInWords(t *testing.T) {
	for _, c := range []struct {
		field, kind string
		want        bool
	}{
		{"", "", true},
		{"/consent", "", true},
		{"/consentVersion", "", true},
		{"/address/street", "", false},
		{"/address", "", false},
		{"/applicant/lastName", "", false},
		{"/contacts", "", false},
		{"/consent", "consent", false},
		{"", "passport", false},
		{"/addressee", "", true},
	} {
		if got := textOnly(c.field, c.kind); got != c.want {
			t.Errorf("textOnly(%q, %q) = %v, want %v", c.field, c.kind, got, c.want)
		}
	}
}

// Every form the page script sends to the API posts to /nojs when the
// script does not run, never a GET to the page with the fields in the URL
// (QA: with JavaScript off the application form put the passport number
// and address into the address bar and sent nothing).
func TestScriptFormsFallBackToAPost(t *testing.T) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v %v", files, err)
	}
	tag := regexp.MustCompile(`<form\b[^>]*>`)
	n := 0
	for _, f := range files {
		b, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range tag.FindAllString(string(b), -1) {
			if !strings.Contains(form, "data-api=") {
				continue
			}
			n++
			if !strings.Contains(form, `method="post"`) || !strings.Contains(form, `action="/nojs"`) {
				t.Errorf("%s: %s", f, form)
			}
		}
	}
	if n < 9 {
		t.Fatalf("%d script forms found; the pattern no longer finds them", n)
	}
}

// The residence document's series and expiry are required for some types
// and not others, so the form does not call them optional; their hints
// say for which types they are needed (QA: "(optional)" fields were then
// refused as required for an RVP).
func TestResidenceFieldsAreNotCalledOptional(t *testing.T) {
	r := mustRenderer(t)
	for name, l := range r.langs {
		sec := residenceSection(l, "", schema.ResidenceDocument{})
		for _, f := range sec.Fields {
			switch f.Ptr {
			case "/residenceDocument/series", "/residenceDocument/expiresAt":
				if f.Opt != "" || f.Hint == "" {
					t.Errorf("%s: %s marked %q, hint %q", name, f.Ptr, f.Opt, f.Hint)
				}
			}
		}
	}
}

// On a policy's last day the cabinet says so, not "0 days left", which
// reads as already over (QA).
func TestPolicyLastDay(t *testing.T) {
	r := mustRenderer(t)
	for name, l := range r.langs {
		cur := appview.Policy{ENP: "9000000000000016", ValidFrom: "2026-11-26", ValidTo: "2027-11-25", Status: "active", Document: schema.PolicyDocument{Number: "9000000000000016-01", Version: 1}}
		for days, want := range map[int]string{0: l.T("policy.lastDay"), 3: l.T("policy.daysLeft", 3)} {
			d := CabinetData{Doc: cabinet.Doc{Policy: &cur}, Policy: &PolicyCard{Policy: cur, DaysLeft: days}}
			other := map[string]string{"ru": "en", "en": "ru"}[name]
			html := renderPageIn(t, r, name, other, "cabinet", d)
			if !strings.Contains(html, want) || days == 0 && strings.Contains(html, l.T("policy.daysLeft", 0)) {
				t.Errorf("%s, %d days left: the cabinet lacks %q", name, days, want)
			}
		}
	}
}
