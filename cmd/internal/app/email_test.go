package app_test

import (
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/projections/email/smtptest"
)

func waitMessages(t *testing.T, srv *smtptest.Server, n int) []smtptest.Message {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := srv.Messages(); len(m) >= n {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("got %d e-mails, want %d", len(srv.Messages()), n)
	return nil
}

// TestEmailNotificationsExactlyOnceAcrossRestart walks the journey with
// e-mail on, checks each inbox notification arrives once as a letter, then
// restarts omsd on the same data and checks nothing is sent again while a
// new notification still is.
func TestEmailNotificationsExactlyOnceAcrossRestart(t *testing.T) {
	srv := smtptest.Start(t)
	cfgDir := t.TempDir()
	start := func() *app.App {
		a, _ := startWithLog(t, slog.DiscardHandler, func(c *configT) {
			c.DataDir = cfgDir
			c.SMTPURL = "smtp://" + srv.Addr + "?starttls=off"
			c.SMTPFrom = "ОМС онлайн <noreply@oms.example>"
			c.PublicURL = "https://oms.example"
		})
		return a
	}
	a := start()
	cfg := cfgOf(cfgDir)
	alice := token(t, cfg, "applicant", "alice")
	rev := token(t, cfg, "reviewer", "rev-1")
	r := submit(t, a, alice, "7770001")
	for _, s := range []struct{ tok, action, body string }{
		{rev, "claim", ""},
		{rev, "request-info", `{"questions":[{"text":"Уточните дату","field":"/residenceDocument/issuedAt"}]}`},
		{alice, "provide-info", `{"answers":[{"questionId":"1.1","text":"1 марта 2024"}]}`},
		{rev, "approve", ""},
		{rev, "issue-policy", ""},
	} {
		if code, b := call(t, a, "POST", "/api/v1/applications/"+r.ApplicationID+"/"+s.action, s.tok, s.body); code != 200 {
			t.Fatalf("%s: %d %s", s.action, code, b)
		}
	}
	msgs := waitMessages(t, srv, 4)
	time.Sleep(300 * time.Millisecond) // would a fifth come?
	msgs = srv.Messages()
	if len(msgs) != 4 {
		t.Fatalf("%d e-mails, want 4 (submitted, info requested, approved, issued)", len(msgs))
	}
	dec := new(mime.WordDecoder)
	ids := map[string]bool{}
	var subjects []string
	for _, m := range msgs {
		if len(m.To) != 1 || m.To[0] != "karimov@example.org" || m.From != "noreply@oms.example" {
			t.Errorf("envelope %s → %v", m.From, m.To)
		}
		subj, err := dec.DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, subj)
		ids[m.Header.Get("Message-ID")] = true
		body, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(m.Body))))
		if !strings.Contains(string(body), "https://oms.example/cabinet") || !strings.Contains(string(body), "Your cabinet") {
			t.Errorf("letter body:\n%s", body)
		}
	}
	if len(ids) != 4 {
		t.Errorf("Message-IDs are not distinct: %v", ids)
	}
	want := []string{"Заявление принято в работу / Application accepted for processing", "Нужны дополнительные сведения / More information is needed",
		"Заявление одобрено / Application approved", "Полис ОМС оформлен / Your OMS policy is issued"}
	for i, w := range want {
		if subjects[i] != w {
			t.Errorf("letter %d: %q, want %q", i, subjects[i], w)
		}
	}

	// A restart replays nothing.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = start()
	time.Sleep(1500 * time.Millisecond)
	if n := len(srv.Messages()); n != 4 {
		t.Fatalf("after the restart %d e-mails, want still 4", n)
	}
	// And the next notification still goes out, once.
	body := `{"address":{"region":"78","city":"Санкт-Петербург","street":"Невский пр.","house":"1","postalCode":"191186"}}`
	if code, b := call(t, a, "POST", "/api/v1/applications/"+r.ApplicationID+"/change-address", alice, body); code != 200 {
		t.Fatalf("change-address: %d %s", code, b)
	}
	msgs = waitMessages(t, srv, 5)
	time.Sleep(300 * time.Millisecond)
	if n := len(srv.Messages()); n != 5 {
		t.Fatalf("%d e-mails after the address change, want 5", n)
	}
	if s, _ := dec.DecodeHeader(msgs[4].Header.Get("Subject")); !strings.Contains(s, "Адрес изменён") {
		t.Fatalf("fifth letter: %q", s)
	}
}

// TestAVisitIsToldToTheApplicant: an operator's visit shows in the
// applicant's inbox and goes to their e-mail, so that a visit opened with
// a code seen over their shoulder does not go unnoticed.
func TestAVisitIsToldToTheApplicant(t *testing.T) {
	srv := smtptest.Start(t)
	dir := t.TempDir()
	a, _ := startWithLog(t, slog.DiscardHandler, func(c *configT) {
		c.DataDir = dir
		c.SMTPURL = "smtp://" + srv.Addr + "?starttls=off"
		c.SMTPFrom = "ОМС онлайн <noreply@oms.example>"
	})
	cfg := cfgOf(dir)
	c := newClient(t, a, cfg)
	submit(t, a, token(t, cfg, "applicant", "alice"), "7770002")
	waitMessages(t, srv, 1) // accepted for processing
	c.openVisit("alice", "op-told")
	msgs := waitMessages(t, srv, 2)
	subj, err := new(mime.WordDecoder).DecodeHeader(msgs[1].Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if subj != "Оператор МФЦ открыл приём / An MFC operator opened a visit" || msgs[1].To[0] != "karimov@example.org" {
		t.Fatalf("the visit's letter: %q to %v", subj, msgs[1].To)
	}
	var doc struct {
		Inbox []struct {
			Kind string
			Body struct{ RU, EN string }
		}
	}
	c.must(req{method: "GET", path: "/api/v1/cabinet", token: token(t, cfg, "applicant", "alice")}, 200, &doc)
	last := doc.Inbox[len(doc.Inbox)-1]
	if last.Kind != "VisitOpened" || !strings.Contains(last.Body.RU, "закройте доступ") || strings.Contains(last.Body.RU+last.Body.EN, "op-told") {
		t.Fatalf("the inbox's last notice: %+v", last)
	}
	// A person who has not applied yet is told in the inbox; there is no
	// address to write to.
	pos := c.openVisit("first-timer", "op-told")
	var empty struct {
		Applications []any
		Inbox        []struct{ Kind string }
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", pos), token: token(t, cfg, "applicant", "first-timer")}, 200, &empty)
	if len(empty.Inbox) != 1 || empty.Inbox[0].Kind != "VisitOpened" || len(empty.Applications) != 0 {
		t.Fatalf("the first-timer's cabinet: %+v", empty)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("%d e-mails, want 2", n)
	}
}

// Without OMS_PUBLIC_URL the letters link the cabinet at the listen
// address, the setting's documented default, as the extract's link does
// (decisions QA: they had no link at all).
func TestLettersLinkTheCabinetWithoutAPublicURL(t *testing.T) {
	srv := smtptest.Start(t)
	// A port of its own: the default is built from the configured address,
	// which in the other tests is port 0.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	a, cfg := startWithLog(t, slog.DiscardHandler, func(c *configT) {
		c.HTTPAddr = addr
		c.SMTPURL = "smtp://" + srv.Addr + "?starttls=off"
		c.SMTPFrom = "ОМС онлайн <noreply@oms.example>"
	})
	submit(t, a, token(t, cfg, "applicant", "alice"), "7770002")
	m := waitMessages(t, srv, 1)[0]
	body, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(m.Body))))
	if want := "http://" + a.HTTPAddr() + "/cabinet"; !strings.Contains(string(body), want) {
		t.Errorf("the letter does not link %s:\n%s", want, body)
	}
}
