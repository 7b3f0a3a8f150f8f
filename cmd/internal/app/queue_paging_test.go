package app_test

import (
	"fmt"
	"strings"
	"testing"
)

// A pass through the queue page by page sees an application that an
// applicant's answer brought back from the waiting tail to a place the
// pass had gone past: the next page lists it under earlier (queue QA: the
// cursor alone never showed it again, so the one application that had
// just become workable was the one the reviewer missed).
func TestAPassThroughTheQueueSeesAnAnsweredApplication(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	rev := c.token("reviewer", "rev-pass")
	var ids []string
	var answerer string
	for i, name := range []string{"pass-1", "pass-2", "pass-3"} {
		p := karimov(name, fmt.Sprintf("PS%07d", 1000+i))
		tok := c.token("applicant", p.Subject)
		r, _ := c.submit(p, tok, "")
		ids = append(ids, r.ApplicationID)
		if i == 0 {
			answerer = tok
		}
	}
	// The first waits on its applicant: it goes to the waiting tail.
	c.act(rev, "", ids[0], "claim", "")
	asked := c.act(rev, "", ids[0], "request-info", `{"questions":[{"text":"Уточните дату","field":"/residenceDocument/issuedAt"}]}`)

	type row struct{ ApplicationID string }
	var page struct {
		Items, Earlier []row
		NextCursor     string
	}
	read := func(q string) {
		t.Helper()
		page.Items, page.Earlier, page.NextCursor = nil, nil, ""
		c.must(req{method: "GET", path: "/api/v1/reviewer/queue?limit=1&" + q, token: rev}, 200, &page)
	}
	idsOf := func(rs []row) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ApplicationID)
		}
		return strings.Join(out, ",")
	}
	read(fmt.Sprintf("after=%d", asked.Position))
	if idsOf(page.Items) != ids[1] || page.Earlier != nil {
		t.Fatalf("page 1: %+v, want %s", page, ids[1])
	}
	read("cursor=" + page.NextCursor)
	if idsOf(page.Items) != ids[2] || page.Earlier != nil {
		t.Fatalf("page 2: %+v, want %s", page, ids[2])
	}
	// The answer brings the first back to its deadline, before page 1's
	// place (the same deadline, an earlier id).
	answered := c.act(answerer, "", ids[0], "provide-info", `{"answers":[{"questionId":"1.1","text":"1 марта 2024"}]}`)
	cursor := page.NextCursor
	// The reviewer's page says so above the rest.
	html := c.must(req{method: "GET", path: fmt.Sprintf("/reviewer?after=%d&cursor=%s", answered.Position, cursor), session: c.session("reviewer", "rev-pass")}, 200, nil)
	if !strings.Contains(html.body, "Вернулись выше по очереди") || !strings.Contains(html.body, `data-app="`+ids[0]+`"`) || strings.Contains(html.body, "Заявлений нет.") {
		t.Errorf("the queue page after the answer does not show it as moved up: %.3000s", html.body)
	}
	read(fmt.Sprintf("after=%d&cursor=%s", answered.Position, cursor))
	if idsOf(page.Earlier) != ids[0] || len(page.Items) != 0 || page.NextCursor != "" {
		t.Fatalf("page 3 after the answer: %+v, want %s under earlier and no more", page, ids[0])
	}
}

// An application whose reviewer is gone does not stay theirs for good:
// an administrator takes it from them at any step they held it at, and
// another reviewer claims it and decides (decisions QA: waiting on the
// applicant or approved, only the absent reviewer could ever reject it).
func TestAnAdministratorTakesAnApplicationFromAReviewerWhoLeft(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	r1, r2, adm := c.token("reviewer", "rev-left"), c.token("reviewer", "rev-next"), c.token("admin", "adm-queue")
	for i, step := range [][]string{
		{"request-info", `{"questions":[{"text":"Уточните дату"}]}`},
		{"approve", ""},
	} {
		p := karimov(fmt.Sprintf("left-%d", i), fmt.Sprintf("LF%07d", i))
		r, _ := c.submit(p, c.token("applicant", p.Subject), "")
		c.act(r1, "", r.ApplicationID, "claim", "")
		held := c.act(r1, "", r.ApplicationID, step[0], step[1])
		var before struct{ Status string }
		c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, held.Position), token: r2}, 200, &before)
		// The next reviewer may not decide it while it is the other's.
		if res := c.do(req{method: "POST", path: "/api/v1/applications/" + r.ApplicationID + "/reject", token: r2, json: `{"reasonCode":"other","reason":"Проверка"}`}); res.status != 403 {
			t.Fatalf("%s: another's reject before the release: %d %s", before.Status, res.status, res.body)
		}
		c.act(adm, "", r.ApplicationID, "release", `{"reason":"Специалист уволился"}`)
		// Unclaimed, it is nobody's to decide until claimed.
		if res := c.do(req{method: "POST", path: "/api/v1/applications/" + r.ApplicationID + "/reject", token: r2, json: `{"reasonCode":"other","reason":"Проверка"}`}); res.status != 409 || !strings.Contains(res.body, "not_claimed") {
			t.Fatalf("%s: a reject of the released application before a claim: %d %s", before.Status, res.status, res.body)
		}
		claimed := c.act(r2, "", r.ApplicationID, "claim", "")
		var view struct{ Status, Assignee string }
		c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, claimed.Position), token: r2}, 200, &view)
		if view.Status != before.Status || view.Assignee != "rev-next" {
			t.Fatalf("after the release and the claim: %+v, want %s held by rev-next", view, before.Status)
		}
		c.act(r2, "", r.ApplicationID, "reject", `{"reasonCode":"other","reason":"Проверка"}`)
	}
}
