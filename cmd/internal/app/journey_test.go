package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/readstore/mongostore/mongotest"
)

type result struct {
	ApplicationID string `json:"applicationId"`
	Revision      uint64 `json:"revision"`
	Position      uint64 `json:"position"`
}

func upload(t *testing.T, a *app.App, tok, kind string, content []byte) string {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("kind", kind)
	fw, _ := mw.CreateFormFile("file", "scan")
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/api/v1/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&out) != nil || out.ID == "" {
		t.Fatalf("upload %s: %d", kind, resp.StatusCode)
	}
	return out.ID
}

func formJSON(passport string, docs map[string]string) string {
	series, permit := residenceNumber(passport)
	return fmt.Sprintf(`{
 "applicant": {"lastName":"Каримов","firstName":"Бахтиёр","latinName":"KARIMOV BAKHTIYOR","birthDate":"1990-04-12","birthPlace":"Ташкент","citizenship":"UZB","sex":"male"},
 "identityDocument": {"type":"foreign_passport","series":"FA","number":"%s","issuedAt":"2019-05-20","issuedBy":"MIA of Uzbekistan","expiresAt":"2031-05-19"},
 "residenceDocument": {"type":"vnzh","series":"%s","number":"%s","issuedAt":"2024-03-01","expiresAt":"2031-03-01"},
 "address": {"region":"77","city":"Москва","street":"ул. Тверская","house":"7","apartment":"12","postalCode":"125009"},
 "contacts": {"phone":"+79161234567","email":"karimov@example.org"},
 "documents": [{"kind":"passport","id":"%s"},{"kind":"residence_document","id":"%s"},{"kind":"consent","id":"%s"}],
 "consent": true}`, passport, series, permit, docs["passport"], docs["residence_document"], docs["consent"])
}

func submit(t *testing.T, a *app.App, tok, passport string) result {
	t.Helper()
	docs := map[string]string{}
	for i, kind := range []string{"passport", "residence_document", "consent"} {
		docs[kind] = upload(t, a, tok, kind, []byte(fmt.Sprintf("%%PDF-1.7\n%s %d\n%%%%EOF\n", passport, i)))
	}
	code, body := call(t, a, "POST", "/api/v1/applications", tok, formJSON(passport, docs))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, body)
	}
	var r result
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSlice is the walking skeleton of issue 2: submit over HTTP, the
// watermill-run projection writes the cabinet, the cabinet shows it.
func TestSlice(t *testing.T) {
	a, cfg := startApp(t)
	alice := token(t, cfg, "applicant", "alice")
	r := submit(t, a, alice, "1234567")
	if r.ApplicationID == "" || r.Position == 0 || r.Revision != 0 {
		t.Fatalf("submit result %+v", r)
	}
	doc := cabinetAfter(t, a, alice, r.Position, "")
	apps := doc["applications"].([]any)
	if len(apps) != 1 {
		t.Fatalf("cabinet: %v", doc)
	}
	app0 := apps[0].(map[string]any)
	if app0["applicationId"] != r.ApplicationID || app0["status"] != "submitted" {
		t.Fatalf("cabinet application: %v", app0)
	}
	// Another applicant sees nothing of it.
	bob := token(t, cfg, "applicant", "bob")
	if other := cabinetAfter(t, a, bob, r.Position, ""); len(other["applications"].([]any)) != 0 {
		t.Fatalf("bob sees alice's application: %v", other)
	}
}

// noStaffID fails if a cabinet, as served or as stored, names a member of
// the insurer's staff: its readers are the applicant and МФЦ operators.
func noStaffID(t *testing.T, a *app.App, applicant string, served map[string]any, id string) {
	t.Helper()
	b, err := json.Marshal(served)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), id) {
		t.Errorf("the cabinet names %s: %s", id, b)
	}
	stored, err := a.Store().Get(context.Background(), cabinet.Collection, applicant)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored.Body), id) {
		t.Errorf("the stored cabinet names %s: %s", id, stored.Body)
	}
}

// The cabinet offers each reader what they may do, as the matrix and the
// domain allow it: an МФЦ operator acting for the applicant may withdraw
// the application for them (with the applicant there), an operator for
// no one sees nothing, and a reviewer is not offered an applicant's
// actions.
func TestCabinetOffersWhatTheReaderMayDo(t *testing.T) {
	a, cfg := startApp(t)
	alice := token(t, cfg, "applicant", "alice")
	op := token(t, cfg, "operator", "op-1")
	newClient(t, a, cfg).openVisit("alice", "op-1")
	r := submit(t, a, alice, "2345678")
	actions := func(tok, query string) []string {
		t.Helper()
		doc := cabinetAfter(t, a, tok, r.Position, query)
		var out []string
		for _, x := range doc["applications"].([]any)[0].(map[string]any)["actions"].([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	if got := actions(alice, ""); !slices.Equal(got, []string{"withdraw", "withdraw-consent"}) {
		t.Fatalf("the applicant's actions: %q", got)
	}
	if got := actions(op, "&applicant=alice"); !slices.Equal(got, []string{"withdraw", "withdraw-consent"}) {
		t.Fatalf("the operator's actions: %q", got)
	}
	code, body := call(t, a, "POST", "/api/v1/applications/"+r.ApplicationID+"/withdraw", op, `{"reason":"x"}`)
	if code != 403 && code != 400 {
		t.Fatalf("an operator naming no applicant withdraws: %d %s", code, body)
	}
}

// Staff read scans within applications: one the applicant uploaded and
// never put into a form is none of theirs (and would be read outside any
// application's access log), until a form refers to it.
func TestStaffReadScansOnlyWithinApplications(t *testing.T) {
	a, cfg := startApp(t)
	alice := token(t, cfg, "applicant", "alice")
	rev := token(t, cfg, "reviewer", "rev-1")
	aud := token(t, cfg, "auditor", "aud-1")
	docs := map[string]string{}
	for i, kind := range []string{"passport", "residence_document", "consent"} {
		docs[kind] = upload(t, a, alice, kind, []byte(fmt.Sprintf("%%PDF-1.7\nattached %d\n%%%%EOF\n", i)))
	}
	loose := upload(t, a, alice, "passport", []byte("%PDF-1.7\nnever submitted\n%%EOF\n"))
	for _, tok := range []string{rev, aud} {
		if code, body := call(t, a, "GET", "/api/v1/documents/"+docs["passport"], tok, ""); code != 404 || !strings.Contains(string(body), "document_not_in_application") {
			t.Fatalf("a staff read of a scan in no application: %d %s", code, body)
		}
	}
	code, body := call(t, a, "POST", "/api/v1/applications", alice, formJSON("3456789", docs))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, body)
	}
	var r result
	_ = json.Unmarshal(body, &r)
	// The scan index is the history's: wait for it through the history's view.
	if code, body := call(t, a, "GET", fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, r.Position), rev, ""); code != 200 {
		t.Fatalf("the application: %d %s", code, body)
	}
	for _, tok := range []string{rev, aud} {
		if code, body := call(t, a, "GET", "/api/v1/documents/"+docs["passport"], tok, ""); code != 200 || !strings.Contains(string(body), "attached 0") {
			t.Fatalf("a staff read of a submitted scan: %d %.200s", code, body)
		}
		if code, _ := call(t, a, "GET", "/api/v1/documents/"+loose, tok, ""); code != 404 {
			t.Fatalf("a staff read of the scan never submitted: %d", code)
		}
	}
	if code, body := call(t, a, "GET", "/api/v1/documents/"+loose, alice, ""); code != 200 || !strings.Contains(string(body), "never submitted") {
		t.Fatalf("the owner reads their loose scan: %d %.200s", code, body)
	}
}

func get(t *testing.T, a *app.App, tok, path string, v any) int {
	t.Helper()
	code, body := call(t, a, "GET", path, tok, "")
	if code == 200 && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: %v in %s", path, err, body)
		}
	}
	return code
}

// TestJourneyReadModels walks the seed's journey over HTTP and checks what
// every reader sees at each step: the cabinet, the reviewer queue, the
// application view, the audit history and the auditor's time travel.
func TestJourneyReadModels(t *testing.T) {
	a, cfg := startApp(t)
	alice := token(t, cfg, "applicant", "alice")
	rev := token(t, cfg, "reviewer", "rev-1")
	aud := token(t, cfg, "auditor", "aud-1")
	r := submit(t, a, alice, "7654321")
	id := r.ApplicationID

	act := func(tok, action, body string) result {
		t.Helper()
		code, b := call(t, a, "POST", "/api/v1/applications/"+id+"/"+action, tok, body)
		if code != 200 {
			t.Fatalf("%s: %d %s", action, code, b)
		}
		var res result
		json.Unmarshal(b, &res)
		return res
	}

	var q struct {
		Items []struct {
			ApplicationID        string `json:"applicationId"`
			Status               string `json:"status"`
			Assignee             string `json:"assignee"`
			Waiting              bool   `json:"waitingOnApplicant"`
			DeadlineDate         string `json:"deadlineDate"`
			WorkingDaysRemaining int    `json:"workingDaysRemaining"`
			Overdue              bool   `json:"overdue"`
			Applicant            struct{ LastName string }
		} `json:"items"`
	}
	if code := get(t, a, rev, fmt.Sprintf("/api/v1/reviewer/queue?after=%d", r.Position), &q); code != 200 {
		t.Fatalf("queue: %d", code)
	}
	if len(q.Items) != 1 || q.Items[0].ApplicationID != id || q.Items[0].Status != "submitted" || q.Items[0].Applicant.LastName != "Каримов" ||
		q.Items[0].WorkingDaysRemaining < 9 || q.Items[0].WorkingDaysRemaining > 10 || q.Items[0].Overdue || q.Items[0].DeadlineDate == "" {
		t.Fatalf("queue after submit: %+v", q.Items)
	}
	if code := get(t, a, alice, "/api/v1/reviewer/queue", nil); code != 403 {
		t.Fatalf("applicant reads the queue: %d", code)
	}

	act(rev, "claim", "")
	r2 := act(rev, "request-info", `{"questions":[{"text":"Уточните дату выдачи ВНЖ","field":"/residenceDocument/issuedAt"}]}`)
	get(t, a, rev, fmt.Sprintf("/api/v1/reviewer/queue?assignee=me&after=%d", r2.Position), &q)
	if len(q.Items) != 1 || q.Items[0].Assignee != "rev-1" || !q.Items[0].Waiting || q.Items[0].Status != "info_requested" {
		t.Fatalf("queue while waiting: %+v", q.Items)
	}
	get(t, a, rev, "/api/v1/reviewer/queue?assignee=none", &q)
	if len(q.Items) != 0 {
		t.Fatalf("unassigned filter: %+v", q.Items)
	}
	doc := cabinetAfter(t, a, alice, r2.Position, "")
	noStaffID(t, a, "alice", doc, "rev-1")
	app0 := doc["applications"].([]any)[0].(map[string]any)
	if app0["status"] != "info_requested" || len(app0["openQuestions"].([]any)) != 1 || !strings.Contains(fmt.Sprint(app0["actions"]), "provide-info") {
		t.Fatalf("cabinet while info requested: %v", app0)
	}

	act(alice, "provide-info", `{"answers":[{"questionId":"1.1","text":"1 марта 2024"}]}`)
	act(rev, "approve", "")
	r6 := act(rev, "issue-policy", "")

	doc = cabinetAfter(t, a, alice, r6.Position, "")
	noStaffID(t, a, "alice", doc, "rev-1")
	pol, _ := doc["policy"].(map[string]any)
	if pol == nil || len(pol["enp"].(string)) != 16 || pol["status"] != "active" {
		t.Fatalf("cabinet policy: %v", doc["policy"])
	}
	kinds := []string{}
	for _, n := range doc["inbox"].([]any) {
		m := n.(map[string]any)
		kinds = append(kinds, m["kind"].(string))
		if m["title"].(map[string]any)["ru"] == "" || m["title"].(map[string]any)["en"] == "" {
			t.Fatalf("notification without both languages: %v", m)
		}
	}
	if got := strings.Join(kinds, ","); got != "ApplicationSubmitted,InfoRequested,ApplicationApproved,PolicyIssued" {
		t.Fatalf("inbox: %s", got)
	}
	get(t, a, rev, fmt.Sprintf("/api/v1/reviewer/queue?after=%d", r6.Position), &q)
	if len(q.Items) != 0 {
		t.Fatalf("an insured application stays in the queue: %+v", q.Items)
	}

	// The views and the history below are read without ?after=: let every
	// projection (the history one serves both) catch up first.
	caughtUp(t, a)
	// The application view: the owner's hides the reviewer, staff see it.
	var own, staff map[string]any
	if code := get(t, a, alice, "/api/v1/applications/"+id, &own); code != 200 || own["assignee"] != nil {
		t.Fatalf("owner view: %d %v", code, own["assignee"])
	}
	if code := get(t, a, rev, "/api/v1/applications/"+id, &staff); code != 200 || staff["assignee"] != "rev-1" {
		t.Fatalf("staff view: %d %v", code, staff["assignee"])
	}
	if code := get(t, a, token(t, cfg, "applicant", "mallory"), "/api/v1/applications/"+id, nil); code != 404 {
		t.Fatalf("another applicant reads it: %d", code)
	}

	// The audit history: every event, in order, with actor and diff.
	var h struct {
		Entries []struct {
			Revision uint64
			Type     string
			Actor    struct{ ID, Role string }
			Diff     []struct{ Path, Op string }
		}
	}
	if code := get(t, a, aud, "/api/v1/applications/"+id+"/history", &h); code != 200 {
		t.Fatalf("history: %d", code)
	}
	var types []string
	for i, e := range h.Entries {
		if e.Revision != uint64(i) || len(e.Diff) == 0 || e.Actor.ID == "" {
			t.Fatalf("history entry %d: %+v", i, e)
		}
		types = append(types, e.Type)
	}
	if got := strings.Join(types, ","); got != "ApplicationSubmitted,ApplicationClaimed,InfoRequested,InfoProvided,ApplicationApproved,PolicyIssued" {
		t.Fatalf("history types: %s", got)
	}
	if h.Entries[1].Actor.ID != "rev-1" || h.Entries[1].Actor.Role != "reviewer" {
		t.Fatalf("claim actor: %+v", h.Entries[1].Actor)
	}
	if code := get(t, a, alice, "/api/v1/applications/"+id+"/history", nil); code != 403 {
		t.Fatalf("applicant reads the history: %d", code)
	}

	// Time travel: the state at revision 2 is "info requested" with an
	// unanswered question, whatever happened since.
	var st struct {
		Revision     uint64
		LastRevision uint64
		State        struct {
			Status    string
			Questions []struct{ Answered bool }
		}
		Steps []struct{ Type string }
	}
	if code := get(t, a, aud, "/api/v1/applications/"+id+"/state?revision=2", &st); code != 200 {
		t.Fatalf("time travel: %d", code)
	}
	if st.Revision != 2 || st.LastRevision != 5 || st.State.Status != "info_requested" || len(st.State.Questions) != 1 || st.State.Questions[0].Answered || len(st.Steps) != 3 {
		t.Fatalf("state at revision 2: %+v", st)
	}
	if code := get(t, a, rev, "/api/v1/applications/"+id+"/state?revision=2", nil); code != 403 {
		t.Fatalf("reviewer time travel: %d", code)
	}
	if code := get(t, a, aud, "/api/v1/applications/"+id+"/state?at=yesterday", nil); code != 400 {
		t.Fatalf("bad at: %d", code)
	}
}

// TestSliceOnMongo runs the slice with read models and scans in MongoDB
// (an in-process FerretDB here; a real MongoDB with OMS_TEST_MONGO_URI).
func TestSliceOnMongo(t *testing.T) {
	uri := os.Getenv(mongotest.EnvURI)
	if uri == "" {
		uri = mongotest.URI(t)
	}
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.ESDBListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.MongoURI, cfg.MongoDatabase = uri, mongotest.Database(t)
	t.Cleanup(func() { mongotest.DropDatabase(t, uri, cfg.MongoDatabase) })
	a, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	alice := token(t, cfg, "applicant", "alice")
	r := submit(t, a, alice, "1112223")
	doc := cabinetAfter(t, a, alice, r.Position, "")
	apps := doc["applications"].([]any)
	if len(apps) != 1 || apps[0].(map[string]any)["status"] != "submitted" {
		t.Fatalf("cabinet on MongoDB: %v", doc)
	}
	// The scan is in GridFS and reads back through the API.
	var view struct {
		Form struct {
			Documents []struct{ ID, SHA256 string }
		}
	}
	if code := get(t, a, alice, fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, r.Position), &view); code != 200 || len(view.Form.Documents) != 3 {
		t.Fatalf("view: %d %+v", code, view)
	}
	code, body := call(t, a, "GET", "/api/v1/documents/"+view.Form.Documents[0].ID, alice, "")
	if code != 200 || !strings.HasPrefix(string(body), "%PDF-") {
		t.Fatalf("scan from GridFS: %d %q", code, body)
	}
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		runChild(dir)
		return
	}
	mongotest.Main(m)
}

func TestMetrics(t *testing.T) {
	a, cfg := startApp(t)
	alice := token(t, cfg, "applicant", "alice")
	r := submit(t, a, alice, "5550001")
	cabinetAfter(t, a, alice, r.Position, "")
	call(t, a, "POST", "/api/v1/applications/"+r.ApplicationID+"/approve", alice, "")
	if code, _ := call(t, a, "GET", "/api/v1/cabinet", "", ""); code != 401 {
		t.Fatalf("the cabinet without a token: %d", code)
	}
	scrape := func() string {
		t.Helper()
		code, body := call(t, a, "GET", "/metrics", "", "")
		if code != 200 {
			t.Fatalf("metrics: %d", code)
		}
		return string(body)
	}
	// A method no route takes is counted as unmatched, not under an empty
	// route or a mount point (ops QA).
	for _, m := range []string{"DELETE /healthz", "PATCH /api/v1/cabinet"} {
		method, path, _ := strings.Cut(m, " ")
		if code, _ := call(t, a, method, path, "", ""); code != 405 && code != 401 {
			t.Fatalf("%s: %d", m, code)
		}
	}
	text := scrape()
	for _, bad := range []string{`route=""`, `route="/api"`} {
		if strings.Contains(text, bad) {
			t.Errorf("metrics have a series with %s", bad)
		}
	}
	for _, want := range []string{
		`oms_http_request_duration_seconds_count{method="DELETE",route="unmatched",status="405"} 1`,
		`oms_commands_total{command="submit",outcome="ok"} 1`,
		`oms_commands_total{command="approve",outcome="forbidden"} 1`,
		`oms_http_request_duration_seconds_count{method="GET",route="/api/v1/cabinet",status="200"} 1`,
		`oms_eventstore_append_duration_seconds_count{outcome="ok"}`,
		// A refusal before routing is counted on its route (it was
		// counted as "/api", the authentication's mount point).
		`oms_http_request_duration_seconds_count{method="GET",route="/api/v1/cabinet",status="401"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The node appends events of its own meanwhile (the lease's renewals,
	// the start's migrations, the sweeper's progress), so the cabinet's
	// position is at or past the submission's, and its lag comes back to
	// 0 once it has them too; an exact position failed about one run in five.
	metric := func(text, name string) (uint64, bool) {
		for _, l := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(l, name+" "); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				return n, err == nil
			}
		}
		return 0, false
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pos, okPos := metric(text, `oms_projection_position{projection="cabinet"}`)
		behind, okBehind := metric(text, `oms_projection_events_behind{projection="cabinet"}`)
		if !okPos || !okBehind {
			t.Fatalf("metrics lack the cabinet's position or lag:\n%s", text)
		}
		if pos >= r.Position && behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cabinet's position %d (the submission's %d), %d events behind, 5 s on", pos, r.Position, behind)
		}
		time.Sleep(50 * time.Millisecond)
		text = scrape()
	}
}

// Labels must be copies: fiber hands out the method in the request
// buffer, which the connection's next request overwrites, and a label
// kept from it turned POST into "GETT" and broke /metrics with duplicate
// series after a few thousand requests.
func TestMetricLabelsSurviveConnectionReuse(t *testing.T) {
	a, cfg := startApp(t)
	alice := token(t, cfg, "applicant", "alice")
	// call shares http.DefaultClient's keep-alive connections, so the
	// POSTs and GETs below reuse the same few connections.
	r := submit(t, a, alice, "5550002")
	for range 20 {
		call(t, a, "GET", "/api/v1/cabinet?after="+strconv.FormatUint(r.Position, 10), alice, "")
		call(t, a, "POST", "/api/v1/applications/"+r.ApplicationID+"/approve", alice, "")
		call(t, a, "DELETE", "/api/v1/cabinet", alice, "")
	}
	code, body := call(t, a, "GET", "/metrics", "", "")
	if code != 200 {
		t.Fatalf("metrics: %d %.300s", code, body)
	}
	text := string(body)
	for _, m := range regexp.MustCompile(`method="([^"]*)"`).FindAllStringSubmatch(text, -1) {
		if !slices.Contains([]string{"GET", "POST", "DELETE"}, m[1]) {
			t.Errorf("metric with method %q", m[1])
		}
	}
	for _, want := range []string{
		`oms_http_request_duration_seconds_count{method="POST",route="/api/v1/applications",status="201"} 1`,
		`oms_http_request_duration_seconds_count{method="POST",route="/api/v1/applications/:id/approve",status="403"} 20`,
		`oms_commands_total{command="approve",outcome="forbidden"} 20`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// Once the consent is withdrawn, the pages no longer offer what the
// commands refuse: no address change on the cabinet or on the
// application's page, and no reminder to renew. Both still offer the
// renewal (the cabinet's link goes to the application's page), which asks
// for the consent signed anew: that is how it is given again (QA: the
// cabinet hid it while the command took it).
func TestPagesOfferNoNewDataAfterConsentIsWithdrawn(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("withdrawer", "W1234567")
	// A residence document that ends soon makes the policy renewable now.
	p.ResidenceExpires = time.Now().In(time.FixedZone("MSK", 3*3600)).AddDate(0, 0, 10).Format(time.DateOnly)
	tok, rev := c.token("applicant", p.Subject), c.token("reviewer", "rev-1")
	r, _ := c.submit(p, tok, "")
	c.act(rev, "", r.ApplicationID, "claim", "")
	c.act(rev, "", r.ApplicationID, "approve", "")
	last := c.act(rev, "", r.ApplicationID, "issue-policy", "")
	page := c.session("applicant", p.Subject)
	offers := func(pos uint64) (cabinet, application string) {
		t.Helper()
		cab := c.must(req{method: "GET", path: fmt.Sprintf("/cabinet?after=%d", pos), session: page}, 200, nil)
		app := c.must(req{method: "GET", path: fmt.Sprintf("/cabinet/applications/%s?after=%d", r.ApplicationID, pos), session: page}, 200, nil)
		return cab.body, app.body
	}
	cab, app := offers(last.Position)
	for _, want := range []string{"#change-address", "#renew"} {
		if !strings.Contains(cab, want) {
			t.Fatalf("the cabinet page does not offer %s before the withdrawal; this test tests nothing", want)
		}
	}
	for _, want := range []string{`id="change-address"`, `id="renew"`} {
		if !strings.Contains(app, want) {
			t.Fatalf("the application page has no %s before the withdrawal; this test tests nothing", want)
		}
	}
	// The id an МФЦ operator asks for is on the cabinet (lifecycle QA: the
	// operator's page asked for an id no page showed).
	if !strings.Contains(cab, "<code>"+p.Subject+"</code>") || !strings.Contains(cab, "Ваш идентификатор для МФЦ") {
		t.Errorf("the cabinet does not show the applicant's id")
	}
	// What to do next says so too, as the policy card does.
	if !strings.Contains(cab, "срок полиса скоро закончится — продлите его") {
		t.Errorf("the cabinet's next step does not say to renew")
	}
	w := c.act(tok, "", r.ApplicationID, "withdraw-consent", `{}`)
	cab, app = offers(w.Position)
	if strings.Contains(cab, "продлите его") {
		t.Errorf("after the withdrawal the next step still says to renew")
	}
	if strings.Contains(cab, "#change-address") {
		t.Errorf("the cabinet page offers the address change after the withdrawal")
	}
	if !strings.Contains(cab, "#renew") || !strings.Contains(cab, "скан заново подписанного согласия") {
		t.Errorf("the cabinet page does not offer the renewal with a newly signed consent after the withdrawal")
	}
	if strings.Contains(app, `id="change-address"`) {
		t.Errorf("the application page has the address change after the withdrawal")
	}
	if !strings.Contains(app, `id="renew"`) || !strings.Contains(app, `data-upload="consent"`) || !strings.Contains(app, "подпишите его заново") {
		t.Errorf("the application page does not offer the renewal with the consent signed anew")
	}
}

// The form for a new application says at once when the command would
// refuse it, instead of after five steps: an open application (or policy)
// already there.
func TestNewApplicationPageSaysWhenOneCannotApply(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("second-try", "S1234567")
	tok := c.token("applicant", p.Subject)
	page := c.session("applicant", p.Subject)
	if res := c.do(req{method: "GET", path: "/cabinet/new", session: page}); res.status != 200 || !strings.Contains(res.body, `data-api="/api/v1/applications"`) {
		t.Fatalf("the form for someone with nothing yet: %d", res.status)
	}
	r, _ := c.submit(p, tok, "")
	res := c.do(req{method: "GET", path: fmt.Sprintf("/cabinet/new?after=%d", r.Position), session: page})
	if res.status != 409 || !strings.Contains(res.body, "открытое заявление") || strings.Contains(res.body, `data-api="/api/v1/applications"`) ||
		!strings.Contains(res.body, "Новое заявление подать нельзя") || strings.Contains(res.body, "Что-то пошло не так") || !strings.Contains(res.body, `href="/cabinet"`) {
		t.Fatalf("the form with an application open: %d %.400s", res.status, res.body)
	}
	cab := c.must(req{method: "GET", path: fmt.Sprintf("/cabinet?after=%d", r.Position), session: page}, 200, nil)
	if strings.Contains(cab.body, `class="button primary" href="/cabinet/new`) {
		t.Error("the cabinet offers a new application while one is open")
	}
}

// submittedOne starts omsd and submits one application of a new
// applicant, for the tests that go on from there.
func submittedOne(t *testing.T, subject, passport string) (*client, person, result) {
	t.Helper()
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov(subject, passport)
	r, _ := c.submit(p, c.token("applicant", p.Subject), "")
	return c, p, r
}

// Where the reviewer decides, the deadline is in sight: the staff view of
// an application in the queue carries it, and the reviewer's page shows it.
func TestReviewerSeesTheDeadline(t *testing.T) {
	c, p, r := submittedOne(t, "deadline-applicant", "D1234567")
	rev := c.token("reviewer", "rev-deadline")
	// Wait for the queue too: the deadline is the queue's.
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/reviewer/queue?after=%d", r.Position), token: rev}, 200, nil)
	var sv struct {
		Deadline *struct {
			Date                 string
			WorkingDaysRemaining int
			Overdue              bool
		}
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, r.Position), token: rev}, 200, &sv)
	if sv.Deadline == nil || len(sv.Deadline.Date) != 10 || sv.Deadline.WorkingDaysRemaining < 9 || sv.Deadline.Overdue {
		t.Fatalf("the staff view's deadline: %+v", sv.Deadline)
	}
	var own struct{ Deadline any }
	c.must(req{method: "GET", path: "/api/v1/applications/" + r.ApplicationID, token: c.token("applicant", p.Subject)}, 200, &own)
	if own.Deadline != nil {
		t.Errorf("the owner's view carries the insurer's deadline: %v", own.Deadline)
	}
	page := c.must(req{method: "GET", path: "/reviewer/applications/" + r.ApplicationID, session: c.session("reviewer", "rev-deadline")}, 200, nil)
	d, _ := time.Parse(time.DateOnly, sv.Deadline.Date)
	if !strings.Contains(page.body, "Срок рассмотрения") || !strings.Contains(page.body, d.Format("02.01.2006")) {
		t.Errorf("the reviewer's page does not show the deadline %s", sv.Deadline.Date)
	}
	// Approval meets the review term: waiting for the policy, the
	// application is decided, not counting down.
	c.act(rev, "", r.ApplicationID, "claim", "")
	ok := c.act(rev, "", r.ApplicationID, "approve", "")
	var decided struct {
		Status   string
		Deadline *struct {
			Overdue, Decided     bool
			WorkingDaysRemaining int
		}
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, ok.Position), token: rev}, 200, &decided)
	if decided.Status != "approved" || decided.Deadline == nil || !decided.Deadline.Decided || decided.Deadline.Overdue || decided.Deadline.WorkingDaysRemaining < 9 {
		t.Fatalf("approved: %+v %+v", decided, decided.Deadline)
	}
	page = c.must(req{method: "GET", path: "/reviewer/applications/" + r.ApplicationID, session: c.session("reviewer", "rev-deadline")}, 200, nil)
	if !strings.Contains(page.body, "решение принято в срок") {
		t.Errorf("the reviewer's page of an approved application does not say the decision was in time")
	}
}

// The auditor's timeline page replays to ?revision= or ?at= as the API
// does, and a wrong one is refused in words rather than quietly showing
// the latest state.
func TestAuditorPageTimeTravel(t *testing.T) {
	c, _, r := submittedOne(t, "travel-applicant", "T1234567")
	rev := c.token("reviewer", "rev-travel")
	last := c.act(rev, "", r.ApplicationID, "claim", "")
	aud := c.session("auditor", "aud-travel")
	base := fmt.Sprintf("/auditor/applications/%s", r.ApplicationID)
	c.must(req{method: "GET", path: fmt.Sprintf("%s?after=%d", base, last.Position), session: aud}, 200, nil)
	at0 := c.must(req{method: "GET", path: base + "?revision=0", session: aud}, 200, nil)
	now := c.must(req{method: "GET", path: base + "?at=" + url.QueryEscape(time.Now().UTC().Add(time.Minute).Format(time.RFC3339)), session: aud}, 200, nil)
	if !strings.Contains(at0.body, "badge-submitted") || !strings.Contains(now.body, "badge-in_review") {
		t.Errorf("revision 0 or now shows the wrong state")
	}
	// The diff names each field as the form does, with its pointer.
	if !strings.Contains(now.body, `Анкета · Адрес проживания · Город или населённый пункт<br><code class="ptr">/form/address/city</code>`) {
		t.Errorf("the timeline does not name the changed fields")
	}
	// Each event to the second, with its log position: events of one
	// minute in their order.
	if !regexp.MustCompile(`\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d МСК</time>\s*· позиция в журнале <code>\d+</code>`).MatchString(now.body) {
		t.Errorf("the timeline gives no time to the second and log position")
	}
	for _, bad := range []string{"?revision=abc", "?revision=-1", "?at=yesterday", "?at=2000-01-01T00:00:00Z"} {
		if res := c.do(req{method: "GET", path: base + bad, session: aud}); res.status < 400 || res.status >= 500 {
			t.Errorf("%s: %d, want a refusal", bad, res.status)
		}
	}
}

// A queue filter the API refuses keeps the reviewer on the queue page,
// with the form as typed and the reason beside it.
func TestQueueFilterRefusalKeepsTheForm(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	res := c.do(req{method: "GET", path: "/reviewer?region=abc", session: c.session("reviewer", "rev-filter")})
	if res.status != 400 || !strings.Contains(res.body, `id="fl-region" name="region" value="abc"`) ||
		!strings.Contains(res.body, "не код субъекта РФ") || strings.Contains(res.body, "Что-то пошло не так") {
		t.Fatalf("a refused filter: %d %.600s", res.status, res.body)
	}
}

// A link to one reviewer's work (?assignee=<id>) shows exactly that, and
// the form says so; the page dropped the id and showed everyone's.
func TestQueuePageFiltersByAReviewersID(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	theirs, _ := c.submit(karimov("queue-a", "Q1000001"), c.token("applicant", "queue-a"), "")
	others, _ := c.submit(karimov("queue-b", "Q1000002"), c.token("applicant", "queue-b"), "")
	claimed := c.act(c.token("reviewer", "rev-away"), "", theirs.ApplicationID, "claim", "")
	page := c.must(req{method: "GET", path: fmt.Sprintf("/reviewer?assignee=rev-away&after=%d", max(claimed.Position, others.Position)),
		session: c.session("reviewer", "rev-lead")}, 200, nil)
	if !strings.Contains(page.body, "/reviewer/applications/"+theirs.ApplicationID) || strings.Contains(page.body, "/reviewer/applications/"+others.ApplicationID) {
		t.Errorf("the queue filtered by rev-away lists the wrong applications")
	}
	if !strings.Contains(page.body, `<option value="rev-away" selected>`) {
		t.Errorf("the form does not show the filter applied")
	}
}

// An МФЦ operator may name the applicant in ?applicant= instead of the
// header, as the refusal without either tells them to, on the application
// view too.
func TestOperatorNamesTheApplicantInTheQuery(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("query-named", "QN1234567")
	r, _ := c.submit(p, c.token("applicant", p.Subject), "")
	op := c.token("operator", "op-q")
	c.openVisit(p.Subject, "op-q")
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d&applicant=%s", r.ApplicationID, r.Position, p.Subject), token: op}, 200, nil)
}

// An operator who opens the cabinet of an account with no applications
// (a mistyped number, or a first visit) is told so and asked to check,
// not shown an applicant's "you have no applications yet".
func TestOperatorIsWarnedOfAnEmptyCabinet(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	c.openVisit("nobody-xyz", "op-empty")
	page := c.must(req{method: "GET", path: "/cabinet?applicant=nobody-xyz", session: c.session("operator", "op-empty")}, 200, nil)
	if !strings.Contains(page.body, "нет ни одного заявления") || strings.Contains(page.body, "У вас пока нет заявлений") {
		t.Errorf("the operator's view of an empty cabinet: %.2000s", page.body)
	}
	own := c.must(req{method: "GET", path: "/cabinet", session: c.session("applicant", "nobody-xyz")}, 200, nil)
	if !strings.Contains(own.body, "У вас пока нет заявлений") {
		t.Errorf("the applicant's own empty cabinet lost its words")
	}
}

// An МФЦ operator finds an applicant by their phone written the way people
// write it at home, or by their id, and opens the visit with the code the
// applicant shows; a mistyped number or a name is refused, where it was
// taken for an applicant id and opened the empty cabinet of nobody, where
// a submission then held the real person's passport (QA).
func TestOperatorFindsApplicantByPhone(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	op := c.session("operator", "op-phone")
	code := func(subject string) string {
		t.Helper()
		var out struct{ Code string }
		c.must(req{method: "POST", path: "/api/v1/visits/code", token: c.token("applicant", subject), json: "{}"}, 201, &out)
		return out.Code
	}
	open := func(who, code string) resp {
		t.Helper()
		return c.do(req{method: "POST", path: "/operator", session: op, form: url.Values{"who": {who}, "code": {code}}})
	}
	phoneID := authn.DevSubject("applicant", "+79160000004")
	for _, typed := range []string{"+7 916 000-00-04", "89160000004", "79160000004", "9160000004"} {
		// Read aloud in halves, typed with a space: taken as well.
		k := code(phoneID)
		if r := open(typed, k[:3]+" "+k[3:]); r.status != 303 || r.header.Get("Location") != "/cabinet?applicant="+phoneID {
			t.Errorf("%q: %d to %q, want 303 to the cabinet of %s", typed, r.status, r.header.Get("Location"), phoneID)
		}
	}
	for _, typed := range []string{"+7916", "8916000000", "+7 (916", ""} {
		if r := open(typed, "123456"); r.status != 422 || !strings.Contains(r.body, `role="alert"`) || !strings.Contains(r.body, "Заявителя не нашлось") {
			t.Errorf("%q: %d, want the lookup again with the error", typed, r.status)
		}
	}
	id := authn.DevSubject("applicant", "+79160000005")
	for _, typed := range []string{id, strings.ToUpper(id)} {
		if r := open(typed, code(id)); r.status != 303 || r.header.Get("Location") != "/cabinet?applicant="+id {
			t.Errorf("by id %s: %d to %q", typed, r.status, r.header.Get("Location"))
		}
	}
	// An id that is no UUID (omsctl demo's, a token's) is taken: its code
	// says the person is there. A name may be such an id; without a code
	// the operator is told to ask for one.
	for _, typed := range []string{"Ivanov", "abc"} {
		if r := open(typed, "123456"); r.status != 409 || !strings.Contains(r.body, "нет действующего кода") {
			t.Errorf("%q: %d, want the lookup again asking for the applicant's code", typed, r.status)
		}
	}
	if r := open("demo-run-1", code("demo-run-1")); r.status != 303 || r.header.Get("Location") != "/cabinet?applicant=demo-run-1" {
		t.Errorf("by an id that is no UUID: %d to %q", r.status, r.header.Get("Location"))
	}
	// Without the applicant's code, or with a wrong one, nothing opens,
	// and the page says what to do, keeping what was typed.
	other := authn.DevSubject("applicant", "+79160000006")
	if r := open("+79160000006", "123456"); r.status != 409 || !strings.Contains(r.body, "нет действующего кода") || !strings.Contains(r.body, `value="&#43;79160000006"`) {
		t.Errorf("no code: %d %.300s", r.status, r.body)
	}
	k := code(other)
	wrong := "000000"
	if k == wrong {
		wrong = "000001"
	}
	if r := open("+79160000006", wrong); r.status != 403 || !strings.Contains(r.body, "Осталось попыток: 4") {
		t.Errorf("a wrong code: %d %.300s", r.status, r.body)
	}
	picker := "/operator?" + url.Values{"next": {"/cabinet?applicant=" + other}, "visit": {"required"}, "who": {other}}.Encode()
	if r := c.do(req{method: "GET", path: "/cabinet?applicant=" + other, session: op}); r.status != 303 || r.header.Get("Location") != picker {
		t.Errorf("the cabinet without a visit: %d to %q, want the picker asking for the code", r.status, r.header.Get("Location"))
	}
	if r := c.do(req{method: "GET", path: picker, session: op}); !strings.Contains(r.body, "не открыт или закончился") || !strings.Contains(r.body, `value="`+other+`"`) {
		t.Errorf("the picker sent back to: %.500s", r.body)
	}
	// A form without its CSRF token opens nothing, even with the code.
	r := c.do(req{method: "POST", path: "/operator", session: &sess{token: op.token, csrf: "forged"}, form: url.Values{"who": {other}, "code": {k}}})
	if r.status != 403 {
		t.Errorf("a forged form: %d", r.status)
	}
	if r := open(other, k); r.status != 303 {
		t.Errorf("the right code after a wrong one and a forged form: %d %.300s", r.status, r.body)
	}
}

// The operator's banner names the applicant by their newest application
// (name and date of birth, to compare with the passport in hand), not by
// an opaque id alone.
func TestOperatorBannerNamesTheApplicant(t *testing.T) {
	c, p, r := submittedOne(t, "banner-applicant", "B1234567")
	op := c.session("operator", "op-banner")
	c.openVisit(p.Subject, "op-banner")
	page := c.must(req{method: "GET", path: fmt.Sprintf("/cabinet?applicant=%s&after=%d", url.QueryEscape(p.Subject), r.Position), session: op}, 200, nil)
	if !strings.Contains(page.body, "Вы работаете от имени заявителя: Каримов Бахтиёр, 12.04.1990") {
		t.Errorf("the operator's banner does not name the applicant: %s", regexp.MustCompile(`(?s)<div class="obo">.*?</div></div>`).FindString(page.body))
	}
	// Someone else's cabinet is not called "mine" to the operator (QA).
	if !strings.Contains(page.body, "<h1>Кабинет заявителя</h1>") || strings.Contains(page.body, "Мои заявления") {
		t.Errorf("the operator's view is titled as the applicant's own")
	}
	own := c.must(req{method: "GET", path: fmt.Sprintf("/cabinet?after=%d", r.Position), session: c.session("applicant", p.Subject)}, 200, nil)
	if strings.Contains(own.body, "Вы работаете от имени") || !strings.Contains(own.body, "<h1>Личный кабинет</h1>") {
		t.Errorf("the applicant's own cabinet has the operator's banner, or lost its title")
	}
}

// An application whose reviewer cannot go on does not wait for them past
// its deadline: an administrator returns it to the queue, saying why, and
// another reviewer takes it; the reviewer who has it may let it go too.
func TestStuckApplicationGoesBackToTheQueue(t *testing.T) {
	c, _, r := submittedOne(t, "released-applicant", "R1234567")
	rev1, rev2, admin := c.token("reviewer", "rev-away"), c.token("reviewer", "rev-next"), c.token("admin", "admin-1")
	base := "/api/v1/applications/" + r.ApplicationID
	var res result
	c.must(req{method: "POST", path: base + "/claim", token: rev1, json: `{}`}, 200, &res)
	page := c.must(req{method: "GET", path: fmt.Sprintf("/reviewer/applications/%s?after=%d", r.ApplicationID, res.Position), session: c.session("reviewer", "rev-away")}, 200, nil)
	if !strings.Contains(page.body, base+"/release") {
		t.Errorf("the reviewer's page offers no way to let the application go")
	}
	c.must(req{method: "POST", path: base + "/claim", token: rev2, json: `{}`}, 409, nil)
	c.must(req{method: "POST", path: base + "/release", token: rev2, json: `{}`}, 403, nil)
	c.must(req{method: "POST", path: base + "/release", token: admin, json: `{}`}, 422, nil)
	c.must(req{method: "POST", path: base + "/release", token: admin, json: `{"reason":"В отпуске до 5 марта"}`}, 200, &res)
	var q struct {
		Items []struct {
			ApplicationID, Status, Assignee string
		}
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/reviewer/queue?after=%d", res.Position), token: rev2}, 200, &q)
	found := false
	for _, it := range q.Items {
		if it.ApplicationID == r.ApplicationID {
			found = true
			if it.Status != "submitted" || it.Assignee != "" {
				t.Errorf("back in the queue as %s with %q", it.Status, it.Assignee)
			}
		}
	}
	if !found {
		t.Fatal("the released application is not in the queue")
	}
	// Why it was taken is kept for the staff (the review page, the
	// timeline), not shown to the applicant.
	page = c.must(req{method: "GET", path: fmt.Sprintf("/reviewer/applications/%s?after=%d", r.ApplicationID, res.Position), session: c.session("reviewer", "rev-next")}, 200, nil)
	if !strings.Contains(page.body, "В отпуске до 5 марта") {
		t.Errorf("the review page does not say why the application came back")
	}
	own := c.must(req{method: "GET", path: fmt.Sprintf("%s?after=%d", base, res.Position), token: c.token("applicant", "released-applicant")}, 200, nil)
	if strings.Contains(own.body, `"released":`) || strings.Contains(own.body, "В отпуске") {
		t.Errorf("the applicant's view tells of the release: %s", own.body)
	}
	c.must(req{method: "POST", path: base + "/claim", token: rev2, json: `{}`}, 200, &res)
	c.must(req{method: "POST", path: base + "/release", token: rev2, json: `{}`}, 200, nil)
}

// Staff find an application by the number its pages show (the last 8 hex
// digits of its id), which is what a person quotes: it is not in the
// queue once closed, and the whole id was the only way in.
func TestAuditorFindsAnApplicationByItsNumber(t *testing.T) {
	c, _, r := submittedOne(t, "numbered-applicant", "N1234567")
	aud := c.token("auditor", "aud-number")
	number := r.ApplicationID[len(r.ApplicationID)-8:]
	var m struct {
		Number       string
		Applications []string
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/by-number/%s?after=%d", strings.ToUpper(number), r.Position), token: aud}, 200, &m)
	if m.Number != number || len(m.Applications) != 1 || m.Applications[0] != r.ApplicationID {
		t.Fatalf("by number %s: %+v", number, m)
	}
	c.must(req{method: "GET", path: "/api/v1/applications/by-number/" + number, token: c.token("applicant", "numbered-applicant")}, 403, nil)
	c.must(req{method: "GET", path: "/api/v1/applications/by-number/12345", token: aud}, 400, nil)
	page := c.session("auditor", "aud-number")
	if res := c.do(req{method: "GET", path: "/auditor?id=" + url.QueryEscape("№ "+number), session: page}); res.status != 303 || res.header.Get("Location") != "/auditor/applications/"+r.ApplicationID {
		t.Errorf("the auditor's lookup of № %s: %d to %q", number, res.status, res.header.Get("Location"))
	}
	missing := "00000000"
	if number == missing {
		missing = "00000001"
	}
	if res := c.must(req{method: "GET", path: "/auditor?id=" + missing, session: page}, 200, nil); !strings.Contains(res.body, "Заявления с номером "+missing+" нет") {
		t.Errorf("an unknown number is not said to be unknown")
	}
	// A reviewer finds it from the queue page the same way (walkthrough
	// QA: the queue had no way to find the number a person quotes).
	rev := c.session("reviewer", "rev-number")
	if res := c.do(req{method: "GET", path: "/reviewer?find=" + url.QueryEscape("№ "+strings.ToUpper(number)), session: rev}); res.status != 303 || res.header.Get("Location") != "/reviewer/applications/"+r.ApplicationID {
		t.Errorf("the reviewer's lookup of № %s: %d to %q", number, res.status, res.header.Get("Location"))
	}
	if res := c.must(req{method: "GET", path: "/reviewer?find=" + missing, session: rev}, 200, nil); !strings.Contains(res.body, "Заявления с номером "+missing+" нет") || !strings.Contains(res.body, `value="`+missing+`"`) {
		t.Errorf("the reviewer's lookup of an unknown number: %.1500s", res.body)
	}
}

// The scans on the operator's view of an application open: a link sends
// no X-On-Behalf-Of, so it names the applicant (QA: each answered a JSON
// on_behalf_required).
func TestOperatorScanLinksOpen(t *testing.T) {
	c, p, r := submittedOne(t, "scan-links", "SL1234567")
	op := c.session("operator", "op-scans")
	c.openVisit(p.Subject, "op-scans")
	page := c.must(req{method: "GET", path: fmt.Sprintf("/cabinet/applications/%s?applicant=%s&after=%d", r.ApplicationID, url.QueryEscape(p.Subject), r.Position), session: op}, 200, nil)
	links := regexp.MustCompile(`href="(/api/v1/documents/[^"]+)"`).FindAllStringSubmatch(page.body, -1)
	if len(links) != 3 {
		t.Fatalf("%d scan links on the operator's page", len(links))
	}
	for _, l := range links {
		path := strings.ReplaceAll(l[1], "&amp;", "&")
		if res := c.do(req{method: "GET", path: path, session: op}); res.status != 200 {
			t.Errorf("GET %s as the operator: %d %.200s", path, res.status, res.body)
		}
	}
}

// The reviewer's page of a decided application says what was decided,
// why, by whom and when, and, once issued, which policy: it showed only
// the status badge, while the API had it all (QA). "No response to the
// request" is offered, and taken, only once a request's term to answer
// has run out: not without a request, and not the day it was asked; the
// term is on the reviewer's page, in the applicant's cabinet and in
// their notice.
func TestTheReviewPageShowsTheDecisionAndThePolicy(t *testing.T) {
	c, _, r := submittedOne(t, "decided-applicant", "DD1234567")
	rev := c.token("reviewer", "rev-decide")
	page := func(id string, after uint64) string {
		return c.must(req{method: "GET", path: fmt.Sprintf("/reviewer/applications/%s?after=%d", id, after), session: c.session("reviewer", "rev-decide")}, 200, nil).body
	}
	claimed := c.act(rev, "", r.ApplicationID, "claim", "{}")
	if body := page(r.ApplicationID, claimed.Position); strings.Contains(body, `value="no_response"`) {
		t.Error("no response to a request is offered while none was made")
	}
	if res := c.do(req{method: "POST", path: "/api/v1/applications/" + r.ApplicationID + "/reject", token: rev,
		json: `{"reasonCode":"no_response","reason":"Вы не ответили."}`}); res.status != 422 || !strings.Contains(res.body, "no_open_request") {
		t.Fatalf("no_response without a request: %d %.300s", res.status, res.body)
	}
	asked := c.act(rev, "", r.ApplicationID, "request-info", `{"questions":[{"text":"Уточните дату выдачи ВНЖ."}]}`)
	var view struct {
		Questions []struct{ AnswerBy string }
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, asked.Position), token: rev}, 200, &view)
	if len(view.Questions) != 1 || view.Questions[0].AnswerBy <= time.Now().Format(time.DateOnly) {
		t.Fatalf("the request's term: %+v, want a day ahead", view.Questions)
	}
	answerBy := view.Questions[0].AnswerBy
	body := page(r.ApplicationID, asked.Position)
	if strings.Contains(body, `value="no_response"`) {
		t.Error("no response to the request is offered the day it was asked")
	}
	if !strings.Contains(body, `data-answer-by="`+answerBy+`"`) {
		t.Errorf("the reviewer's page does not show the term %s", answerBy)
	}
	if res := c.do(req{method: "POST", path: "/api/v1/applications/" + r.ApplicationID + "/reject", token: rev,
		json: `{"reasonCode":"no_response","reason":"Вы не ответили."}`}); res.status != 422 || !strings.Contains(res.body, "answer_term_running") {
		t.Fatalf("no_response within the term: %d %.300s", res.status, res.body)
	}
	var cab struct {
		Inbox []struct {
			Kind string
			Body struct{ RU string }
		}
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", asked.Position), token: c.token("applicant", "decided-applicant")}, 200, &cab)
	if n := cab.Inbox[len(cab.Inbox)-1]; n.Kind != "InfoRequested" || !strings.Contains(n.Body.RU, "включительно") {
		t.Errorf("the applicant's notice of the request does not give the term: %+v", n)
	}
	// An administrator sees the page, and the scans named but not linked:
	// they may not read them (QA: each link answered a raw 403).
	if body := page(r.ApplicationID, asked.Position); !strings.Contains(body, `href="/api/v1/documents/`) {
		t.Error("the reviewer's page links no scan")
	}
	adminPage := c.must(req{method: "GET", path: fmt.Sprintf("/reviewer/applications/%s?after=%d", r.ApplicationID, asked.Position), session: c.session("admin", "adm-decide")}, 200, nil)
	if strings.Contains(adminPage.body, "/api/v1/documents/") || !strings.Contains(adminPage.body, "открывают проверяющие и аудиторы") {
		t.Errorf("the administrator's page links the scans, or does not name them: %.2000s", adminPage.body)
	}
	own := c.must(req{method: "GET", path: fmt.Sprintf("/cabinet/applications/%s?after=%d", r.ApplicationID, asked.Position), session: c.session("applicant", "decided-applicant")}, 200, nil)
	if !strings.Contains(own.body, `data-answer-by="`+answerBy+`"`) {
		t.Errorf("the applicant's page does not show the term %s", answerBy)
	}
	done := c.act(rev, "", r.ApplicationID, "reject", `{"reasonCode":"invalid_documents","reason":"Срок действия ВНЖ истёк."}`)
	body = page(r.ApplicationID, done.Position)
	for _, want := range []string{`data-decision="rejected"`, "Недействительные документы", "Срок действия ВНЖ истёк.", "rev-decide"} {
		if !strings.Contains(body, want) {
			t.Errorf("the decided application's page lacks %q", want)
		}
	}

	// Another person's application, issued: its page names the policy.
	q := karimov("issued-applicant", "DI1234567")
	r2, _ := c.submit(q, c.token("applicant", q.Subject), "")
	c.act(rev, "", r2.ApplicationID, "claim", "{}")
	c.act(rev, "", r2.ApplicationID, "approve", "{}")
	issued := c.act(rev, "", r2.ApplicationID, "issue-policy", "")
	enp := c.enpOf(c.token("applicant", q.Subject), issued.Position)
	body = page(r2.ApplicationID, issued.Position)
	if !strings.Contains(body, `data-policy="`+enp+`"`) || !strings.Contains(body, `data-decision="approved"`) {
		t.Errorf("the issued application's page does not show policy %s: %.3000s", enp, body)
	}
}
