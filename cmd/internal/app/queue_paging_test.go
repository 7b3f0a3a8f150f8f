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
