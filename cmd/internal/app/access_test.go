package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/history"
)

// accessPage is GET /api/v1/applications/:id/access.
type accessPage struct {
	Entries    []history.AccessEntry `json:"entries"`
	NextCursor string                `json:"nextCursor"`
}

// accessLog reads an application's whole access log as auditor tok, page
// by page.
func accessLog(c *client, tok, appID string, after uint64) []history.AccessEntry {
	c.t.Helper()
	var out []history.AccessEntry
	cursor := ""
	for {
		path := fmt.Sprintf("/api/v1/applications/%s/access?after=%d&limit=3", appID, after)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var p accessPage
		c.must(req{method: "GET", path: path, token: tok}, 200, &p)
		out = append(out, p.Entries...)
		if p.NextCursor == "" {
			return out
		}
		if len(p.Entries) != 3 {
			c.t.Fatalf("a page of %d entries with a next cursor", len(p.Entries))
		}
		cursor = p.NextCursor
	}
}

func streamLen(t *testing.T, a *app.App, stream string) int {
	t.Helper()
	evs, err := a.Events().Load(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestStaffReadsAreInTheAccessLog walks every kind of staff read of one
// applicant's data against a whole omsd (the real event store, projections
// and read models) and checks the application's access log: each read once,
// in order, with who (id and role, and for whom an МФЦ operator acted),
// what and when; the applicant's own reads not at all; the application's
// stream, whose revision reviewers send in If-Match, untouched. The
// auditor's pages read through the same API and are recorded the same
// way, and a rebuild of the history gives the same log.
func TestStaffReadsAreInTheAccessLog(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("alice-access", "AC1234567")
	alice := c.token("applicant", p.Subject)
	fixer := c.token("reviewer", "rev-fixtures")
	id, docs, issued := c.insure(p, alice, fixer)
	enp := c.enpOf(alice, issued.Position)
	// Bob's application waits in the queue; Alice's, insured, does not.
	bob := karimov("bob-access", "BC7654321")
	rb, _ := c.submit(bob, c.token("applicant", bob.Subject), "")
	caughtUp(t, a)
	revisions := streamLen(t, a, schema.ApplicationStream(id))

	// The applicant's own reads are not recorded.
	for _, path := range []string{"/api/v1/applications/" + id, "/api/v1/documents/" + docs["passport"], "/api/v1/policies/" + enp + "/pdf", "/api/v1/cabinet"} {
		c.must(req{method: "GET", path: path, token: alice}, 200, nil)
	}

	rev, aud := c.token("reviewer", "rev-7"), c.token("auditor", "aud-7")
	op, adm := c.token("operator", "op-7"), c.token("admin", "adm-7")
	c.openVisit(p.Subject, "op-7")
	start := time.Now().UTC().Add(-time.Second)
	type read struct {
		tok, obo, path      string
		role, actor, what   string
		route, onBehalfOf   string
		app                 string
		bodyHas, bodyHasNot string
	}
	reads := []read{
		{tok: rev, path: "/api/v1/applications/" + id, role: "reviewer", actor: "rev-7", what: "application", route: "GET /api/v1/applications/:id", bodyHas: p.Passport},
		{tok: rev, path: "/api/v1/reviewer/queue", role: "reviewer", actor: "rev-7", what: "queue", route: "GET /api/v1/reviewer/queue", app: rb.ApplicationID, bodyHas: rb.ApplicationID},
		{tok: rev, path: "/api/v1/documents/" + docs["passport"], role: "reviewer", actor: "rev-7", what: "document:passport", route: "GET /api/v1/documents/:id", bodyHas: "%PDF"},
		{tok: aud, path: "/api/v1/applications/" + id + "/history", role: "auditor", actor: "aud-7", what: "history", route: "GET /api/v1/applications/:id/history"},
		{tok: aud, path: "/api/v1/applications/" + id + "/state?revision=0", role: "auditor", actor: "aud-7", what: "state", route: "GET /api/v1/applications/:id/state"},
		{tok: aud, path: "/api/v1/policies/" + enp + "/pdf", role: "auditor", actor: "aud-7", what: "policy_pdf", route: "GET /api/v1/policies/:enp/pdf", bodyHas: "%PDF"},
		{tok: op, path: "/api/v1/cabinet?applicant=" + p.Subject, role: "operator", actor: "op-7", what: "cabinet", route: "GET /api/v1/cabinet", onBehalfOf: p.Subject, bodyHas: id},
		{tok: op, obo: p.Subject, path: "/api/v1/applications/" + id, role: "operator", actor: "op-7", what: "application", route: "GET /api/v1/applications/:id", onBehalfOf: p.Subject},
		{tok: adm, path: "/api/v1/applications/" + id, role: "admin", actor: "adm-7", what: "application", route: "GET /api/v1/applications/:id"},
	}
	for _, x := range reads {
		res := c.must(req{method: "GET", path: x.path, token: x.tok, obo: x.obo}, 200, nil)
		if x.bodyHas != "" && !strings.Contains(res.body, x.bodyHas) {
			t.Fatalf("GET %s as %s did not serve the data: %.200s", x.path, x.actor, res.body)
		}
	}
	end := time.Now().UTC().Add(time.Second)
	head := caughtUp(t, a)

	check := func(appID string, want []read, got []history.AccessEntry) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("access log of %s has %d entries, want %d: %+v", appID, len(got), len(want), got)
		}
		for i, w := range want {
			e := got[i]
			if e.ApplicationID != appID || e.Actor.ID != w.actor || e.Actor.Role != w.role || e.What != w.what || e.Route != w.route || e.OnBehalfOf != w.onBehalfOf {
				t.Errorf("entry %d of %s: %+v, want %s %s %s %s on behalf of %q", i, appID, e, w.role, w.actor, w.what, w.route, w.onBehalfOf)
			}
			if e.AccessedAt.Before(start) || e.AccessedAt.After(end) || e.EventID == "" || e.CorrelationID == "" || e.CausationID == "" {
				t.Errorf("entry %d of %s: time %s not within the reads, or no ids: %+v", i, appID, e.AccessedAt, e)
			}
			if i > 0 && e.Position <= got[i-1].Position {
				t.Errorf("entry %d of %s is out of order", i, appID)
			}
		}
	}
	var wantA []read
	for _, x := range reads {
		if x.app == "" {
			wantA = append(wantA, x)
		}
	}
	logA := accessLog(c, aud, id, head)
	check(id, wantA, logA)
	check(rb.ApplicationID, []read{reads[1]}, accessLog(c, adm, rb.ApplicationID, head))
	// Reading the log records nothing: it names staff, not the applicant.
	if again := accessLog(c, aud, id, caughtUp(t, a)); len(again) != len(logA) {
		t.Errorf("reading the access log changed it: %d entries, then %d", len(logA), len(again))
	}
	if n := streamLen(t, a, schema.ApplicationStream(id)); n != revisions {
		t.Errorf("reads moved the application's stream from %d to %d events", revisions, n)
	}

	// The records carry ids, never the data.
	for _, actor := range []string{"rev-7", "aud-7", "op-7", "adm-7"} {
		evs, err := a.Events().Load(context.Background(), schema.AccessStream(actor))
		if err != nil || len(evs) == 0 {
			t.Fatalf("access stream of %s: %d events, %v", actor, len(evs), err)
		}
		for _, ev := range evs {
			raw := string(ev.Data)
			for _, pd := range []string{p.LastName, p.FirstName, p.LatinName, p.Passport, p.Phone, p.Email, p.Street, enp} {
				if strings.Contains(raw, pd) {
					t.Errorf("an access record of %s holds personal data %q: %s", actor, pd, raw)
				}
			}
			if ev.Envelope.Type != schema.TypePersonalDataAccessed || ev.Envelope.Actor.ID != actor {
				t.Errorf("access record envelope: %+v", ev.Envelope)
			}
		}
	}
	if n := streamLen(t, a, schema.AccessStream(p.Subject)); n != 0 {
		t.Errorf("the applicant's own reads left %d access records", n)
	}

	// Only auditors (and administrators) read the log.
	for _, tok := range []string{rev, alice, fixer} {
		c.must(req{method: "GET", path: "/api/v1/applications/" + id + "/access", token: tok}, 403, nil)
	}
	c.must(req{method: "GET", path: "/api/v1/applications/" + id + "/access", token: op, obo: p.Subject}, 403, nil)
	c.must(req{method: "GET", path: "/api/v1/applications/00000000-0000-0000-0000-000000000000/access", token: aud}, 404, nil)

	// The auditor's timeline page shows the log, and its own reads of the
	// history and the state (made through the API in-process) are
	// recorded like any other.
	page := c.must(req{method: "GET", path: "/auditor/applications/" + id, session: c.session("auditor", "aud-page")}, 200, nil)
	for _, want := range []string{"Обращения сотрудников к персональным данным", "rev-7", "op-7", "adm-7", "Скан: ", "Выписка о полисе (PDF)", "Кабинет заявителя"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the timeline page lacks %q", want)
		}
	}
	logA = accessLog(c, aud, id, caughtUp(t, a))
	if n := len(logA); n != len(wantA)+2 || logA[n-2].What != "history" || logA[n-1].What != "state" || logA[n-1].Actor.ID != "aud-page" {
		t.Errorf("the timeline page's reads: %+v", logA[len(wantA):])
	}

	// A rebuild of the history gives the same log, each read once.
	before := rebuildEqual(t, a, []string{"history"}, []string{history.Access})[history.Access]
	t.Logf("%d access entries for the application, %d in the store, equal after a rebuild", len(logA), len(before))
}

// TestStaffReadRefusedWhenAccessLogIsDown closes omsd's event store client
// under it, so no access record can be appended: staff reads answer 503
// with the bilingual problem and none of the data, pages included, while
// the applicant (whose reads are not recorded) still reads their own.
func TestStaffReadRefusedWhenAccessLogIsDown(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("alice-down", "AD1234567")
	alice := c.token("applicant", p.Subject)
	fixer := c.token("reviewer", "rev-fixtures")
	id, docs, issued := c.insure(p, alice, fixer)
	enp := c.enpOf(alice, issued.Position)
	caughtUp(t, a)
	rev := c.token("reviewer", "rev-down")
	c.must(req{method: "GET", path: "/api/v1/applications/" + id, token: rev}, 200, nil) // recorded while it can be
	// The visit is opened while the store is up; this node remembers it
	// for visit.DefaultOpenCacheTTL, so what refuses below is the log.
	c.openVisit(p.Subject, "op-down")

	if err := a.Events().Close(); err != nil {
		t.Fatal(err)
	}
	refused := []req{
		{method: "GET", path: "/api/v1/applications/" + id, token: rev},
		{method: "GET", path: "/api/v1/applications/" + id + "/history", token: c.token("auditor", "aud-down")},
		{method: "GET", path: "/api/v1/policies/" + enp + "/pdf", token: rev},
		{method: "GET", path: "/api/v1/cabinet?applicant=" + p.Subject, token: c.token("operator", "op-down")},
		{method: "GET", path: "/api/v1/applications/" + id, token: c.token("operator", "op-down"), obo: p.Subject},
	}
	for _, x := range refused {
		res := c.do(x)
		var prob struct {
			Code   string
			Detail struct{ RU, EN string }
		}
		_ = json.Unmarshal([]byte(res.body), &prob)
		if res.status != 503 || prob.Code != "access_log_unavailable" || prob.Detail.RU == "" || prob.Detail.EN == "" ||
			res.header.Get("Retry-After") == "" || !strings.HasPrefix(res.header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("GET %s with the access log down: %d %v %.300s", x.path, res.status, res.header, res.body)
		}
		for _, pd := range []string{p.LastName, p.Passport, p.Street, "%PDF", enp + "-01"} {
			if strings.Contains(res.body, pd) {
				t.Errorf("GET %s with the access log down served %q", x.path, pd)
			}
		}
		if res.header.Get("Content-Disposition") != "" {
			t.Errorf("GET %s with the access log down kept a download's headers: %v", x.path, res.header)
		}
	}
	// A scan is looked up in the event store itself: it is not served
	// either way.
	if res := c.do(req{method: "GET", path: "/api/v1/documents/" + docs["passport"], token: rev}); res.status == 200 || strings.Contains(res.body, "%PDF") {
		t.Errorf("a scan was served with the event store down: %d", res.status)
	}
	// The reviewer's page reads through the same API: refused as well.
	page := c.do(req{method: "GET", path: "/reviewer/applications/" + id, session: c.session("reviewer", "rev-down")})
	if page.status != 503 || strings.Contains(page.body, p.Passport) || strings.Contains(page.body, p.LastName) {
		t.Errorf("the reviewer's page with the access log down: %d", page.status)
	}
	// The applicant's own reads are not recorded, so they still work.
	res := c.must(req{method: "GET", path: "/api/v1/applications/" + id, token: alice}, 200, nil)
	if !strings.Contains(res.body, p.Passport) {
		t.Errorf("the applicant's own application: %.200s", res.body)
	}
}

// TestKillNineKeepsAccessLogExactlyOnce kills omsd with SIGKILL while
// reviewers read applications, scans and the queue, restarts it on the
// same files and compares the history projection's collections, the
// access log and its scan index included, with a rebuild from scratch:
// no read lost that was answered, none recorded twice. On MongoDB a
// flush's collections and its checkpoint are separate writes, so the
// restart replays events over documents that already have them.
func TestKillNineKeepsAccessLogExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts omsd in a child process")
	}
	onBothStores(t, func(t *testing.T, store config.Config, small bool) {
		readers, load := 3, 2*time.Second
		if small {
			readers, load = 2, 1500*time.Millisecond
		}
		killNineReading(t, store, readers, load)
	})
}

func killNineReading(t *testing.T, store config.Config, readers int, load time.Duration) {
	var served atomic.Int64
	b := killUnderLoad(t, store, readers, load, func() bool { return served.Load() >= 20 }, func(client remoteClient, cfg config.Config, w int, stop <-chan struct{}) {
		rev := token(t, cfg, "reviewer", "rev-1")
		aud := token(t, cfg, "auditor", "aud-1")
		tok := token(t, cfg, "applicant", fmt.Sprintf("kill-%d", w))
		for i := 0; !stopped(stop); i++ {
			id, pos, ok := submitAt(client, tok, fmt.Sprintf("%d%06d", w+1, i))
			if !ok {
				return
			}
			var view struct {
				Form struct {
					Documents []struct{ ID string }
				}
			}
			after := fmt.Sprintf("?after=%d", pos)
			for j, path := range []string{"/api/v1/applications/" + id + after, "/api/v1/applications/" + id + "/history" + after, "/api/v1/reviewer/queue"} {
				tk := rev
				if j == 1 {
					tk = aud
				}
				code, body, err := client.request(tk, "GET", path, "")
				if err != nil {
					return
				}
				// A queue page records one entry per row, and may be
				// empty: only the reads of one application are counted.
				if code == 200 && j < 2 {
					served.Add(1)
					if j == 0 {
						_ = json.Unmarshal(body, &view)
					}
				}
			}
			for _, d := range view.Form.Documents {
				if code, _, err := client.request(rev, "GET", "/api/v1/documents/"+d.ID, ""); err != nil {
					return
				} else if code == 200 {
					served.Add(1)
				}
			}
		}
	})
	if served.Load() < 10 {
		t.Fatalf("only %d staff reads served before the kill", served.Load())
	}
	before := rebuildEqual(t, b, []string{"history"}, []string{history.Entries, history.Applications, history.Access, history.Documents})
	// Every answered read of an application is in the log (queue pages
	// add more entries on top).
	if n := len(before[history.Access]); int64(n) < served.Load() {
		t.Errorf("%d staff reads were answered, the access log has %d entries", served.Load(), n)
	}
	t.Logf("%d staff reads answered before kill -9; %d access entries; equal to a rebuild", served.Load(), len(before[history.Access]))
}

// submitAt submits a fresh application and returns its id and position.
func submitAt(c remoteClient, tok, passport string) (string, uint64, bool) {
	docs := map[string]string{}
	for i, kind := range []string{"passport", "residence_document", "consent"} {
		id, ok := c.upload(tok, kind, []byte(fmt.Sprintf("%%PDF-1.7\n%s %d\n%%%%EOF\n", passport, i)))
		if !ok {
			return "", 0, false
		}
		docs[kind] = id
	}
	code, body, err := c.request(tok, "POST", "/api/v1/applications", formJSON(passport, docs))
	if err != nil || code != 201 {
		return "", 0, false
	}
	var r result
	if json.Unmarshal(body, &r) != nil {
		return "", 0, false
	}
	return r.ApplicationID, r.Position, true
}

// A person's access log gathers every staff read of their data: of their
// applications (a queue page names applications only), their cabinet, and
// a scan they uploaded and never submitted, which no application's log
// lists (review: recorded, but shown on no auditor's page). One person's
// log holds no other's, even where one id is a prefix of the other's.
func TestAPersonsAccessLog(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	carol, dora := karimov("carol-access", "CA1234567"), karimov("carol-access/2", "CA7654321")
	carolTok := c.token("applicant", carol.Subject)
	rc, _ := c.submit(carol, carolTok, "")
	rd, _ := c.submit(dora, c.token("applicant", dora.Subject), "")
	loose := c.upload(carolTok, "", "passport", carol.Subject+" re-scan")
	c.openVisit(carol.Subject, "op-9")
	caughtUp(t, a)

	op, rev, aud := c.token("operator", "op-9"), c.token("reviewer", "rev-9"), c.token("auditor", "aud-9")
	c.must(req{method: "GET", path: "/api/v1/documents/" + loose, token: op, obo: carol.Subject}, 200, nil)
	c.must(req{method: "GET", path: "/api/v1/cabinet?applicant=" + carol.Subject, token: op}, 200, nil)
	c.must(req{method: "GET", path: "/api/v1/reviewer/queue", token: rev}, 200, nil)
	c.must(req{method: "GET", path: "/api/v1/applications/" + rc.ApplicationID, token: rev}, 200, nil)
	c.must(req{method: "GET", path: "/api/v1/applications/" + rd.ApplicationID, token: rev}, 200, nil)
	head := caughtUp(t, a)

	personLog := func(id string) []history.AccessEntry {
		t.Helper()
		var out []history.AccessEntry
		cursor := ""
		for page := 0; ; page++ {
			if page == 10 {
				t.Fatalf("the log of %s does not end: %d entries so far", id, len(out))
			}
			path := fmt.Sprintf("/api/v1/applicants/%s/access?after=%d&limit=2", url.PathEscape(id), head)
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var p struct {
				ApplicantID string                `json:"applicantId"`
				Entries     []history.AccessEntry `json:"entries"`
				NextCursor  string                `json:"nextCursor"`
			}
			c.must(req{method: "GET", path: path, token: aud}, 200, &p)
			if p.ApplicantID != id {
				t.Fatalf("the log of %q answered for %q", id, p.ApplicantID)
			}
			out = append(out, p.Entries...)
			if p.NextCursor == "" {
				return out
			}
			cursor = p.NextCursor
		}
	}
	type want struct {
		actor, what, document string
		apps                  []string
	}
	check := func(id string, got []history.AccessEntry, ws []want) {
		t.Helper()
		if len(got) != len(ws) {
			t.Fatalf("the log of %s has %d entries, want %d: %+v", id, len(got), len(ws), got)
		}
		for i, w := range ws {
			e := got[i]
			if e.ApplicantID != id || e.ApplicationID != "" || e.Actor.ID != w.actor || e.What != w.what || e.DocumentID != w.document ||
				!slices.Equal(e.ApplicationIDs, w.apps) || (i > 0 && e.Position <= got[i-1].Position) {
				t.Errorf("entry %d of %s: %+v, want %+v", i, id, e, w)
			}
		}
	}
	check(carol.Subject, personLog(carol.Subject), []want{
		{actor: "op-9", what: "document:passport", document: loose},
		{actor: "op-9", what: "cabinet", apps: []string{rc.ApplicationID}},
		{actor: "rev-9", what: "queue", apps: []string{rc.ApplicationID}},
		{actor: "rev-9", what: "application", apps: []string{rc.ApplicationID}},
	})
	check(dora.Subject, personLog(dora.Subject), []want{
		{actor: "rev-9", what: "queue", apps: []string{rd.ApplicationID}},
		{actor: "rev-9", what: "application", apps: []string{rd.ApplicationID}},
	})
	if got := personLog("nobody-read-me"); len(got) != 0 {
		t.Errorf("a person nobody read: %+v", got)
	}
	// The application's own log has no read of the loose scan.
	for _, e := range accessLog(c, aud, rc.ApplicationID, head) {
		if e.DocumentID == loose {
			t.Errorf("the application's log lists the read of a scan it never held: %+v", e)
		}
	}
	// Auditors and administrators only; an id no applicant can have is a 400.
	for _, tok := range []string{rev, carolTok} {
		c.must(req{method: "GET", path: "/api/v1/applicants/" + carol.Subject + "/access", token: tok}, 403, nil)
	}
	c.must(req{method: "GET", path: "/api/v1/applicants/" + carol.Subject + "/access", token: op, obo: carol.Subject}, 403, nil)
	c.must(req{method: "GET", path: "/api/v1/applicants/" + carol.Subject + "/access", token: c.token("admin", "adm-9")}, 200, nil)
	if res := c.do(req{method: "GET", path: "/api/v1/applicants/two%20words/access", token: aud}); res.status != 400 || !strings.Contains(res.body, `"bad_applicant"`) || !strings.Contains(res.body, `"ru"`) {
		t.Errorf("an id with a space: %d %.300s", res.status, res.body)
	}
	// The auditor's pages: the timeline links to the person's log, whose
	// page shows the read of the loose scan.
	auditor := c.session("auditor", "aud-page-9")
	timeline := c.must(req{method: "GET", path: "/auditor/applications/" + rc.ApplicationID, session: auditor}, 200, nil)
	personPage := "/auditor/applicants/" + url.PathEscape(carol.Subject) + "/access"
	if !strings.Contains(timeline.body, `href="`+personPage+`"`) {
		t.Errorf("the timeline does not link to the person's log %s", personPage)
	}
	page := c.must(req{method: "GET", path: personPage, session: auditor}, 200, nil)
	for _, want := range []string{"Обращения к персональным данным заявителя", "op-9", "Скан: ", "Кабинет заявителя", `href="/auditor/applications/` + rc.ApplicationID + `"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the person's page lacks %q", want)
		}
	}
	other := c.must(req{method: "GET", path: "/auditor/applicants/" + url.PathEscape(dora.Subject) + "/access", session: auditor}, 200, nil)
	if strings.Contains(other.body, "op-9") || !strings.Contains(other.body, "rev-9") {
		t.Errorf("the page of %s shows another person's reads, or not theirs", dora.Subject)
	}
	c.must(req{method: "GET", path: personPage, session: c.session("reviewer", "rev-page-9")}, 403, nil)
	// A rebuild gives the same logs.
	caughtUp(t, a)
	rebuildEqual(t, a, []string{"history"}, []string{history.Access})
}
