package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/query/policypdf/pdfcheck"
	"github.com/omsonline/oms/query/web/webtest"
)

// codes catches the one-time codes omsd logs in dev mode: in this test the
// log is the applicant's SMS.
type codes struct {
	mu   sync.Mutex
	last string
	next slog.Handler
}

func (c *codes) Enabled(context.Context, slog.Level) bool { return true }
func (c *codes) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "dev sign-in") {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "code" {
				c.mu.Lock()
				c.last = a.Value.String()
				c.mu.Unlock()
			}
			return true
		})
	}
	if r.Level >= slog.LevelError {
		return c.next.Handle(ctx, r)
	}
	return nil
}
func (c *codes) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *codes) WithGroup(string) slog.Handler      { return c }

func (c *codes) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	code := c.last
	c.last = ""
	return code
}

func chromium(t *testing.T) string {
	exe := webtest.Chromium(t)
	if exe == "" {
		t.Skip("Chromium is not installed (apt-get install -y chromium); skipping the browser tests locally")
	}
	return exe
}

// scan makes a small PNG that stands in for a scanned document.
func scan(t *testing.T, dir, name string, tint color.RGBA) string {
	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 320; x++ {
			c := color.RGBA{245, 245, 240, 255}
			if y > 20 && y < 60 || (x > 20 && x < 120 && y > 80 && y < 180) {
				c = tint
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type session struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	n     int
	codes *codes
}

func (s *session) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s.shot("failed-" + step)
		s.t.Fatalf("%s: %v", step, err)
	}
}

func (s *session) text(sel string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		s.shot("failed-text")
		s.t.Fatalf("text of %s: %v", sel, err)
	}
	return txt
}

// headerLog collects one header's values, from the browser's events.
type headerLog struct {
	mu   sync.Mutex
	vals []string
}

func (h *headerLog) add(v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.vals = append(h.vals, v)
}

func (h *headerLog) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.vals...)
}

// value is what the input with the id holds.
func (s *session) value(id string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID(id)))
	if err != nil {
		s.shot("failed-value")
		s.t.Fatalf("value of #%s: %v", id, err)
	}
	return v
}

// see waits until the element shows the text, as a person would wait for
// the page to settle, and fails with what it showed instead.
func (s *session) see(sel, want string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
		got, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.shot("failed-see")
	s.t.Fatalf("%s should show %q, shows:\n%s", sel, want, got)
}

func (s *session) shot(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Logf("screenshot %s: %v", name, err)
		return
	}
	s.n++
	p := filepath.Join(s.shots, fmt.Sprintf("%02d-%s.png", s.n, name))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot: %s", p)
}

func (s *session) signIn(phone, role, lands string) {
	s.t.Helper()
	s.do("sign-in page "+role,
		chromedp.Navigate(s.base+"/signin"),
		chromedp.SendKeys(chromedp.ID("phone"), phone),
		chromedp.SetValue(chromedp.ID("role"), role),
		chromedp.Click(chromedp.CSS(`form[action="/signin/code"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	code := s.codes.take()
	if len(code) != 6 {
		s.t.Fatalf("no one-time code in the log for %s (got %q)", role, code)
	}
	s.do("enter code "+role,
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.CSS(`form[action="/signin/verify"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	s.see("h1", lands)
}

func (s *session) typeInto(fields map[string]string) []chromedp.Action[chromedp.Void] {
	var out []chromedp.Action[chromedp.Void]
	for id, v := range fields {
		out = append(out, chromedp.SendKeys(chromedp.ID(id), v))
	}
	return out
}

// TestSeedJourneyInBrowser is the seed's story in a browser: an applicant
// fills in the form with one mistake, fixes it and submits; a reviewer asks
// a question (and meets a stale page on the way); the applicant answers;
// the reviewer approves and issues the policy; the applicant downloads the
// extract; an auditor scrubs through the timeline.
func TestSeedJourneyInBrowser(t *testing.T) {
	exe := chromium(t)
	started := time.Now()
	cc := &codes{next: slog.NewTextHandler(os.Stderr, nil)}
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ESDBListen = "127.0.0.1:0"
	a, err := app.Start(context.Background(), cfg, slog.New(cc))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	shots, err := os.MkdirTemp("", "oms-browser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots go to %s", shots)
	files := t.TempDir()
	downloads := t.TempDir()

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A browser set to Russian: the pages follow the browser's
		// language, and the journey reads the Russian texts.
		chromedp.Flag("accept-lang", "ru-RU,ru"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// The browser starts with the first action on its own context; actions
	// later run on contexts with timeouts, whose end must not close it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancelAll := context.WithTimeout(ctx, 150*time.Second)
	defer cancelAll()
	s := &session{t: t, ctx: ctx, base: "http://" + a.HTTPAddr(), shots: shots, codes: cc}

	// 1. The applicant signs in with a phone number and a code.
	s.signIn("+7 916 123-45-67", "applicant", "Личный кабинет")
	s.see("main", "У вас пока нет заявлений")
	s.shot("cabinet-empty")
	s.do("open the form", chromedp.Click(chromedp.CSS(`a[href="/cabinet/new"].button`)), chromedp.WaitVisible(chromedp.ID("step-personal")))
	s.see("#step-personal h2", "Шаг 1 из 5")

	step1 := s.typeInto(map[string]string{
		"f-applicant-lastName": "Каримов", "f-applicant-firstName": "Бахтиёр", "f-applicant-latinName": "KARIMOV BAKHTIYOR",
		"f-applicant-birthPlace": "Ташкент", "f-applicant-citizenship": "UZB",
	})
	step1 = append(step1, chromedp.SetValue(chromedp.ID("f-applicant-birthDate"), "1990-04-12"), chromedp.SetValue(chromedp.ID("f-applicant-sex"), "male"))
	s.do("personal data", step1...)
	s.shot("form-step1")
	s.do("to documents", chromedp.Click(chromedp.CSS(`#step-personal [data-next]`)), chromedp.WaitVisible(chromedp.ID("step-documents")))
	step2 := s.typeInto(map[string]string{
		"f-identityDocument-series": "FA", "f-identityDocument-number": "1234567", "f-identityDocument-issuedBy": "MIA of Uzbekistan",
		"f-residenceDocument-series": "82", "f-residenceDocument-number": "1234567",
	})
	step2 = append(step2,
		chromedp.SetValue(chromedp.ID("f-identityDocument-issuedAt"), "2019-05-20"), chromedp.SetValue(chromedp.ID("f-identityDocument-expiresAt"), "2031-05-19"),
		chromedp.SetValue(chromedp.ID("f-residenceDocument-type"), "vnzh"),
		chromedp.SetValue(chromedp.ID("f-residenceDocument-issuedAt"), "2024-03-01"), chromedp.SetValue(chromedp.ID("f-residenceDocument-expiresAt"), "2031-03-01"))
	s.do("documents", step2...)
	s.do("to address", chromedp.Click(chromedp.CSS(`#step-documents [data-next]`)), chromedp.WaitVisible(chromedp.ID("step-address")))
	// The one mistake: a domestic phone number instead of +7….
	s.do("address", s.typeInto(map[string]string{
		"f-address-region": "77", "f-address-city": "Москва", "f-address-street": "ул. Тверская", "f-address-house": "7",
		"f-address-apartment": "12", "f-address-postalCode": "125009", "f-contacts-phone": "8 916 123", "f-contacts-email": "karimov@example.org",
	})...)
	s.do("to scans", chromedp.Click(chromedp.CSS(`#step-address [data-next]`)), chromedp.WaitVisible(chromedp.ID("step-scans")))
	// The requests the page sends: the submissions' Idempotency-Keys, and
	// how many scans went up.
	subKeys, uploads := &headerLog{}, &headerLog{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.Method == "POST" {
			switch {
			case strings.HasSuffix(e.Request.URL, "/api/v1/applications"):
				key, _ := e.Request.Headers["Idempotency-Key"].(string)
				subKeys.add(key)
			case strings.HasSuffix(e.Request.URL, "/api/v1/documents"):
				uploads.add(e.Request.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	s.do("watch the requests", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
		return err
	}))
	// A file over the limit is refused at once, before it is sent.
	big := filepath.Join(files, "big.pdf")
	if err := os.WriteFile(big, append([]byte("%PDF-1.7\n"), make([]byte, 11<<20)...), 0o600); err != nil {
		t.Fatal(err)
	}
	s.do("a too large scan", chromedp.SetUploadFiles(chromedp.ID("up-passport-0"), []string{big}))
	s.see("#f-documents-0-err", "Файл больше 10 МБ")
	if n := len(uploads.all()); n != 0 {
		t.Errorf("the too large scan was sent (%d uploads)", n)
	}
	for i, kind := range []string{"passport", "residence_document", "consent"} {
		p := scan(t, files, kind, color.RGBA{uint8(40 + 60*i), 90, 160, 255})
		s.do("upload "+kind, chromedp.SetUploadFiles(chromedp.ID("up-"+kind+"-"+fmt.Sprint(i)), []string{p}))
		s.see(fmt.Sprintf(`[data-field="/documents/%d"] .upload-status`, i), "Загружено: "+kind+".png")
	}
	s.shot("form-scans-uploaded")
	// Switching the language reloads the page: what was typed and uploaded
	// is kept (the tab's draft), and survives the switch back.
	for _, lang := range []struct{ h1, uploaded string }{{"Application for an OMS policy", "File uploaded earlier"}, {"Заявление на полис ОМС", "Файл загружен ранее"}} {
		s.do("switch the language", chromedp.Click(chromedp.CSS(`a.lang`)), chromedp.WaitVisible(chromedp.ID("step-personal")))
		s.see("h1", lang.h1)
		if last, region := s.value("f-applicant-lastName"), s.value("f-address-region"); last != "Каримов" || region != "77" {
			t.Fatalf("after the language switch the form holds %q and %q", last, region)
		}
		s.do("to the scans", chromedp.Click(chromedp.CSS(`[data-goto="scans"]`)), chromedp.WaitVisible(chromedp.ID("step-scans")))
		s.see(`[data-field="/documents/2"] .upload-status`, lang.uploaded)
	}
	// The session ends in the middle of the form (its cookie is gone, as
	// after eight hours): signing in again as the same person finds the
	// form as it was (QA: it was lost with the session).
	if _, err := chromedp.Call(s.ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "oms_session", URL: s.base}); err != nil {
		t.Fatalf("end the session: %v", err)
	}
	// The person stepped away two hours before the session ended: the
	// refusal dates the draft anew, so the sign-in page keeps it (review).
	if _, err := chromedp.Run(s.ctx, chromedp.Evaluate[any](`Object.keys(sessionStorage).filter(function (k) { return k.indexOf('oms-draft-') === 0 && !/:idem$/.test(k); }).forEach(function (k) { var d = JSON.parse(sessionStorage.getItem(k)); d._savedAt = Date.now() - 2*3600e3; sessionStorage.setItem(k, JSON.stringify(d)); })`)); err != nil {
		t.Fatal(err)
	}
	s.do("send it signed out", chromedp.Click(chromedp.CSS(`#step-scans [data-next]`)), chromedp.WaitVisible(chromedp.ID("step-consent")),
		chromedp.Click(chromedp.CSS(`#step-consent button[type=submit]`)))
	s.see("[data-alert]", "введённое в форму сохранится")
	if href, err := chromedp.Run(s.ctx, chromedp.AttributeValue(chromedp.CSS(`[data-alert-signin] a`), "href")); err != nil || !strings.HasSuffix(href.Value, "/signin?next=%2Fcabinet%2Fnew") {
		t.Errorf("the sign-in link after the session ended: %+v %v", href, err)
	}
	// A page nobody is signed in to keeps this draft, typed a moment ago,
	// and drops one left for half an hour.
	if _, err := chromedp.Run(s.ctx, chromedp.Evaluate[any](`sessionStorage.setItem('oms-draft-feedfacefeedfacefeedface', JSON.stringify({_savedAt: Date.now() - 31*60e3, "/applicant/lastName": "Давний"}))`)); err != nil {
		t.Fatal(err)
	}
	s.do("a page nobody is signed in to", chromedp.Navigate(s.base+"/signin"), chromedp.WaitVisible(chromedp.ID("phone")))
	if got, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`Object.keys(sessionStorage).filter(function (k) { return k.indexOf('oms-draft-') === 0 && !/:idem$/.test(k); }).sort().join(' ')`)); err != nil ||
		strings.Contains(got, "feedface") || got == "" {
		t.Errorf("drafts on a signed-out page: %q (%v), want this one's and not the old one", got, err)
	}
	s.signIn("+7 916 123-45-67", "applicant", "Личный кабинет")
	s.do("open the form again", chromedp.Navigate(s.base+"/cabinet/new"), chromedp.WaitVisible(chromedp.ID("step-personal")))
	if last, region := s.value("f-applicant-lastName"), s.value("f-address-region"); last != "Каримов" || region != "77" {
		t.Fatalf("after signing in again the form holds %q and %q", last, region)
	}
	s.do("to the scans", chromedp.Click(chromedp.CSS(`[data-goto="scans"]`)), chromedp.WaitVisible(chromedp.ID("step-scans")))
	s.see(`[data-field="/documents/2"] .upload-status`, "Файл загружен ранее")
	s.do("to consent", chromedp.Click(chromedp.CSS(`#step-scans [data-next]`)), chromedp.WaitVisible(chromedp.ID("step-consent")))
	s.do("consent and submit", chromedp.Click(chromedp.ID("f-consent")), chromedp.Click(chromedp.CSS(`#step-consent button[type=submit]`)))

	// The answer names the one field, beside the field, and the form
	// returns to the step it is on.
	s.see("[data-alert]", "Исправьте, пожалуйста, ошибки")
	// Named with its section, as two sections have a "Series".
	s.see("[data-alert]", "Контакты · Телефон")
	s.see("#f-contacts-phone-err", "+79161234567")
	s.do("the phone's step is shown", chromedp.WaitVisible(chromedp.ID("f-contacts-phone")))
	if inv, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("f-contacts-phone"), "aria-invalid")); inv.Value != "true" {
		t.Errorf("the phone input is not marked invalid: %+v", inv)
	}
	s.shot("form-error-inline")
	// Sent again as it is (as after an answer lost on the way), the same
	// body goes with the same Idempotency-Key.
	s.do("send it again unchanged", chromedp.Click(chromedp.CSS(`[data-goto="consent"]`)), chromedp.WaitVisible(chromedp.ID("step-consent")),
		chromedp.Click(chromedp.CSS(`#step-consent button[type=submit]`)))
	for deadline := time.Now().Add(10 * time.Second); len(subKeys.all()) < 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second try was not sent")
		}
	}
	s.see("#f-contacts-phone-err", "+79161234567")
	s.do("fix the phone", clear("f-contacts-phone"), chromedp.SendKeys(chromedp.ID("f-contacts-phone"), "+79161234567"),
		chromedp.Click(chromedp.CSS(`[data-goto="consent"]`)), chromedp.WaitVisible(chromedp.ID("step-consent")),
		chromedp.Click(chromedp.CSS(`#step-consent button[type=submit]`)))
	s.see("h1", "Личный кабинет")
	// Sent, the form's draft is gone from the tab.
	if n, err := chromedp.Run(s.ctx, chromedp.Evaluate[int](`Object.keys(sessionStorage).filter(function (k) { return k.indexOf('oms-draft-') === 0; }).length`)); err != nil || n != 0 {
		t.Errorf("%d drafts left after the submission (%v)", n, err)
	}
	s.see(".apps", "Подано")
	s.see(".inbox", "Заявление принято в работу")
	appID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("[data-app]").dataset.app`))
	if err != nil || len(appID) != 36 {
		t.Fatalf("application id on the cabinet: %q %v", appID, err)
	}
	s.shot("cabinet-submitted")
	// Each try of the submission carried an Idempotency-Key: the same for
	// the same body, a new one for the corrected body (the server would
	// refuse a key it holds with another body). The first try, signed
	// out, had the consent unticked: another body.
	keys := subKeys.all()
	if len(keys) != 4 || keys[1] == "" || keys[1] == keys[0] || keys[2] != keys[1] || keys[3] == "" || keys[3] == keys[1] {
		t.Errorf("the submissions' Idempotency-Keys: %q, want signed-out, k, k, another", keys)
	}

	// A draft left in the tab by an earlier sign-in (a form never sent) is
	// dropped by the next page, not kept for whoever signs in next.
	if _, err := chromedp.Run(s.ctx, chromedp.Evaluate[any](`sessionStorage.setItem('oms-draft-0123456789abcdef01234567', '{"/applicant/lastName":"Чужой"}')`)); err != nil {
		t.Fatal(err)
	}

	// 2. A reviewer takes it from the queue, after a colleague's tab has
	// moved it on: the stale page says so instead of overwriting.
	s.signIn("+7 999 000-00-01", "reviewer", "Очередь заявлений")
	if n, err := chromedp.Run(s.ctx, chromedp.Evaluate[int](`Object.keys(sessionStorage).filter(function (k) { return k.indexOf('oms-draft-') === 0; }).length`)); err != nil || n != 0 {
		t.Errorf("%d drafts of another sign-in left in the tab (%v)", n, err)
	}
	s.see("table.queue", "Каримов Бахтиёр")
	s.see("table.queue", "осталось раб. дн.")
	s.shot("queue")
	s.do("open the application", chromedp.Click(chromedp.CSS(`table.queue a[href="/reviewer/applications/`+appID+`"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-command$="/claim"]`)))
	s.see("main", "Скан паспорта")
	// Each scan is opened (decrypted) and its read recorded in the access
	// log before it is served, so the images may still be loading when the
	// page is: give them up to ten seconds.
	loaded := 0
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		loaded, _ = chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll(".scans img")].filter(i => i.complete && i.naturalWidth > 0).length`))
		if loaded == 3 || time.Now().After(deadline) {
			break
		}
	}
	if loaded != 3 {
		t.Errorf("the reviewer sees %d of 3 scans inline", loaded)
	}
	other, cancelOther := chromedp.NewContext(ctx)
	defer cancelOther()
	if err := chromedp.Do(other, chromedp.Navigate(s.base+"/reviewer/applications/"+appID), chromedp.Click(chromedp.CSS(`[data-command$="/claim"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-api$="/request-info"]`))); err != nil {
		t.Fatalf("claim in the other tab: %v", err)
	}
	s.do("claim on the stale page", chromedp.Click(chromedp.CSS(`[data-command$="/claim"]`)))
	s.see("[data-alert]", "Заявление изменилось с тех пор, как страница была открыта")
	s.shot("review-stale-409")
	s.do("reload", chromedp.Click(chromedp.CSS(`[data-alert] [data-reload]`)), chromedp.WaitVisible(chromedp.CSS(`form[data-api$="/request-info"]`)))
	s.see("h1", "На рассмотрении")
	// The session ends on a form that keeps no draft (a reviewer's, with
	// an applicant's data on a shared computer): the page says the text
	// is not kept, rather than promise it (walkthrough QA).
	if _, err := chromedp.Call(s.ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "oms_session", URL: s.base}); err != nil {
		t.Fatalf("end the session: %v", err)
	}
	s.do("ask signed out",
		chromedp.SendKeys(chromedp.ID("f-questions-0-text"), "Вопрос, который не дойдёт."),
		chromedp.Click(chromedp.CSS(`form[data-api$="/request-info"] button[type=submit]`)))
	s.see(`form[data-api$="/request-info"] [data-alert]`, "Эта форма не сохраняется в браузере")
	s.signIn("+7 999 000-00-01", "reviewer", "Очередь заявлений")
	s.do("back to the application", chromedp.Navigate(s.base+"/reviewer/applications/"+appID), chromedp.WaitVisible(chromedp.CSS(`form[data-api$="/request-info"]`)))
	// Moved on in the other tab (returned to the queue and taken again)
	// while an explanation is typed here: the refusal says the form is
	// not kept before its button reloads the page (QA: the text was lost
	// without a word).
	if err := chromedp.Do(other, chromedp.Navigate(s.base+"/reviewer/applications/"+appID),
		chromedp.Click(chromedp.CSS(`form[data-api$="/release"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-command$="/claim"]`)), chromedp.Click(chromedp.CSS(`[data-command$="/claim"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-api$="/request-info"]`))); err != nil {
		t.Fatalf("release and claim in the other tab: %v", err)
	}
	s.do("reject on the stale page",
		chromedp.SetValue(chromedp.ID("f-reasonCode"), "other"),
		chromedp.SendKeys(chromedp.ID("f-reason"), "Объяснение, которое не дойдёт."),
		chromedp.Click(chromedp.CSS(`form[data-api$="/reject"] button[type=submit]`)))
	s.see(`form[data-api$="/reject"] [data-alert]`, "скопируйте введённое")
	s.do("reload", chromedp.Click(chromedp.CSS(`form[data-api$="/reject"] [data-alert] [data-reload]`)), chromedp.WaitVisible(chromedp.CSS(`form[data-api$="/request-info"]`)))
	// A third row filled while the second is left empty: the error about
	// it is shown beside it, not beside the empty row (QA: the body has
	// no hole, so the server's /questions/1 is the page's third row).
	s.do("ask with a third row wanting its text",
		chromedp.SendKeys(chromedp.ID("f-questions-0-text"), "Уточните дату выдачи ВНЖ: на скане она плохо видна."),
		chromedp.SetValue(chromedp.ID("f-questions-0-field"), "/residenceDocument/issuedAt"),
		chromedp.SetValue(chromedp.ID("f-questions-2-field"), "/address"),
		chromedp.Click(chromedp.CSS(`form[data-api$="/request-info"] button[type=submit]`)))
	errText := func(id string) string {
		got, _ := chromedp.Run(s.ctx, chromedp.Evaluate[string](`(document.getElementById(`+strconv.Quote(id)+`) || {}).textContent || ''`))
		return strings.TrimSpace(got)
	}
	for deadline := time.Now().Add(10 * time.Second); errText("f-questions-2-text-err") == "" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if errText("f-questions-2-text-err") == "" {
		s.shot("failed-question-row")
		t.Error("the third row's missing text is not said beside it")
	}
	if got := errText("f-questions-1-text-err"); got != "" {
		t.Errorf("the empty second row is blamed: %q", got)
	}
	s.do("ask a question",
		chromedp.SetValue(chromedp.ID("f-questions-2-field"), ""),
		chromedp.Click(chromedp.CSS(`form[data-api$="/request-info"] button[type=submit]`)))
	s.see("h1", "Нужны сведения")
	s.see("main", "Уточните дату выдачи ВНЖ")
	s.shot("review-info-requested")

	// 3. The applicant answers.
	s.signIn("+79161234567", "applicant", "Личный кабинет")
	s.see(".apps", "Нужны сведения")
	s.see(".inbox", "Нужны дополнительные сведения")
	s.do("open the questions", chromedp.Click(chromedp.CSS(`.apps a.button.primary`)), chromedp.WaitVisible(chromedp.ID("questions")))
	s.see("#questions", "Уточните дату выдачи ВНЖ")
	s.see("#questions", "Дата выдачи документа о праве проживания")
	s.shot("applicant-question")
	// What is typed into the answer survives switching the language there
	// and back (QA: only the application form kept it).
	s.do("type the answer", chromedp.SendKeys(chromedp.ID("f-answers-0-text"), "ВНЖ выдан 1 марта 2024 года, скан приложил заново."))
	for _, h := range []string{"The reviewer's questions", "Вопросы специалиста"} {
		s.do("switch the language", chromedp.Click(chromedp.CSS(`a.lang`)), chromedp.WaitVisible(chromedp.ID("questions")))
		s.see("#q-h", h)
		if got := s.value("f-answers-0-text"); got != "ВНЖ выдан 1 марта 2024 года, скан приложил заново." {
			t.Fatalf("after the language switch the answer holds %q", got)
		}
	}
	s.do("answer", chromedp.Click(chromedp.CSS(`#questions button[type=submit]`)))
	s.see("h1", "На рассмотрении")
	s.shot("applicant-answered")

	// 4. The reviewer approves and issues.
	s.signIn("+79990000001", "reviewer", "Очередь заявлений")
	s.do("open it again", chromedp.Navigate(s.base+"/reviewer/applications/"+appID), chromedp.WaitVisible(chromedp.CSS(`[data-command$="/approve"]`)))
	s.see("main", "ВНЖ выдан 1 марта 2024 года")
	s.do("approve", chromedp.Click(chromedp.CSS(`[data-command$="/approve"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-command$="/issue-policy"]`)))
	s.see("h1", "Одобрено")
	s.do("issue", chromedp.Click(chromedp.CSS(`[data-command$="/issue-policy"]`)))
	s.see("h1", "Полис действует")
	s.shot("review-issued")

	// 5. The applicant downloads the extract.
	s.signIn("+79161234567", "applicant", "Личный кабинет")
	s.see(".policy", "Полис ОМС")
	s.see(".inbox", "Полис ОМС оформлен")
	enp := strings.TrimSpace(s.text("[data-enp]"))
	if !regexp.MustCompile(`^\d{16}$`).MatchString(enp) {
		t.Fatalf("ЕНП on the policy card: %q", enp)
	}
	s.shot("cabinet-policy")
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	s.do("download the PDF", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: ptr(true),
		})
		return err
	}), chromedp.Click(chromedp.CSS(`a[data-pdf]`)))
	var pdfPath string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the download was cancelled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			pdfPath = filepath.Join(downloads, ev.GUID)
			break
		}
	}
	pdf, err := os.ReadFile(pdfPath)
	if err != nil {
		t.Fatal(err)
	}
	in, err := pdfcheck.Inspect(pdf)
	if err != nil || in.Pages != 1 || !pdfcheck.IsA4(in.MediaBoxes[0]) || in.EmbeddedFontFiles == 0 {
		t.Fatalf("downloaded extract: %+v %v", in, err)
	}
	if txt, err := pdfcheck.Text(pdf); err == nil {
		if !strings.Contains(txt, "Каримов Бахтиёр") || !strings.Contains(txt, enp) {
			t.Errorf("the extract lacks the name or the ЕНП:\n%s", txt)
		}
	} else if pdfcheck.MustHaveTools() {
		t.Fatal(err)
	}
	// The same address again is refused, named as the whole address, not
	// as its first field.
	s.do("open the address change", chromedp.Click(chromedp.CSS(`a[href$="#change-address"]`)), chromedp.WaitVisible(chromedp.ID("change-address")),
		chromedp.Click(chromedp.CSS(`#change-address button[type=submit]`)))
	s.see("#change-address [data-alert-list]", "Адрес проживания в России: Это тот же адрес")

	// An МФЦ operator acts for the applicant during a visit, and the
	// applicant closes access while the operator is typing a new address:
	// the refusal says nothing was sent and opens the visit again in
	// another tab, and what was typed stays to send again (QA: the bare
	// refusal named a page, and going there lost the form).
	// The applicant's side goes through the API with their token: the
	// browser holds the operator's session.
	applicant := func(path string, out any) {
		t.Helper()
		key, err := authn.DevKey(cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := authn.IssueDev(key, authn.DevSubject("applicant", "+79161234567"), "applicant", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		r, err := http.NewRequest("POST", s.base+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("POST %s as the applicant: %s", path, res.Status)
		}
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var visitCode struct{ Code string }
	applicant("/api/v1/visits/code", &visitCode)
	s.signIn("+79990000003", "operator", "Приём заявителя")
	s.do("open the visit", chromedp.SendKeys(chromedp.ID("who"), "+79161234567"), chromedp.SendKeys(chromedp.ID("code"), visitCode.Code),
		chromedp.Click(chromedp.CSS(`form[action="/operator"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`a[href$="#change-address"]`)))
	s.do("the operator opens the address change", chromedp.Click(chromedp.CSS(`a[href$="#change-address"]`)), chromedp.WaitVisible(chromedp.ID("change-address")),
		clear("f-address-street"), chromedp.SendKeys(chromedp.ID("f-address-street"), "ул. Новая"))
	var closed struct{ Closed bool }
	applicant("/api/v1/visits/close", &closed)
	if !closed.Closed {
		t.Fatal("the applicant's close closed nothing")
	}
	s.do("send after the visit ended", chromedp.Click(chromedp.CSS(`#change-address button[type=submit]`)))
	s.see("#change-address [data-alert]", "Приём с заявителем закончился")
	href, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.querySelector('#change-address [data-alert-visit] a').href`))
	if u, perr := url.Parse(href); err != nil || perr != nil || u.Path != "/operator" || u.Query().Get("visit") != "required" || u.Query().Get("who") == "" ||
		!strings.HasPrefix(u.Query().Get("next"), "/cabinet/applications/") {
		t.Errorf("the link to open the visit again: %q %v", href, err)
	}
	if got := s.value("f-address-street"); got != "ул. Новая" {
		t.Errorf("the typed street is gone: %q", got)
	}
	s.shot("operator-visit-ended")

	// 6. The auditor scrubs the timeline with the keyboard.
	s.signIn("+79990000002", "auditor", "Аудит заявлений")
	s.do("open the history", chromedp.SendKeys(chromedp.ID("app-id"), appID), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("revision")))
	s.see("h1", "История заявления")
	s.see(".timeline", "Заявление подано")
	s.see(".timeline", "Полис оформлен")
	s.see(".timeline", "Специалист")
	// Submitted, claimed, released and claimed again (the stale page
	// above), asked, answered, approved, issued.
	s.see("#state-panel", "Состояние на ревизии 7 из 7")
	s.shot("timeline-latest")
	s.do("scrub to the start", chromedp.Focus(chromedp.ID("revision")), chromedp.KeyEvent(kb.Home))
	s.see("#state-panel", "Состояние на ревизии 0 из 7")
	s.see("#state-panel", "Подано")
	s.do("four steps on", chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight))
	s.see("#state-panel", "Состояние на ревизии 4 из 7")
	s.see("#state-panel", "Нужны сведения")
	s.see("#state-panel", "ждёт ответа")
	s.shot("timeline-revision-4")
	// The session ends (signed out in another tab): the next step sends
	// the page to sign in, to come back to it (web QA: the slider moved,
	// the panel did not, and nothing said why).
	if _, err := chromedp.Call(s.ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "oms_session", URL: s.base}); err != nil {
		t.Fatalf("end the session: %v", err)
	}
	s.do("one more step, signed out", chromedp.KeyEvent(kb.ArrowRight), chromedp.WaitVisible(chromedp.ID("phone")))
	if at, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`location.pathname + location.search`)); err != nil || !strings.HasPrefix(at, "/signin?next=") ||
		!strings.Contains(at, url.QueryEscape("/auditor/applications/"+appID+"?revision=5")) {
		t.Errorf("after the session ended the slider led to %q (%v)", at, err)
	}
	t.Logf("browser journey took %s", time.Since(started).Round(time.Millisecond))
}

func ptr[T any](v T) *T { return &v }

// clear empties an input, as selecting its text and deleting it would.
func clear(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(e => { e.value = ""; return true })(document.getElementById(%q))`, id))(ctx, t)
		return err
	})
}
