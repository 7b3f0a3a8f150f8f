package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
)

// secrets are the applicant's personal values as they travel: in JSON (the
// event store and the read models keep JSON) and as plain text.
func secrets(p person) []string {
	var out []string
	for _, s := range []string{p.LastName, p.FirstName, p.LatinName, p.BirthPlace, p.IssuedBy, p.Passport, p.Phone, p.Email, p.Street} {
		out = append(out, s, strings.Trim(jsonString(s), `"`))
	}
	return out
}

// grepTree reports the files under dir whose bytes contain any secret.
func grepTree(t *testing.T, dir string, secrets []string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				rel, _ := filepath.Rel(dir, path)
				hits = append(hits, fmt.Sprintf("%s holds %q", rel, s))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestEraseApplicantData runs the 152-ФЗ erasure end to end, on the
// embedded read store and on MongoDB (FerretDB; scans in GridFS): an applicant whose application was rejected asks to be
// erased; an administrator erases them; afterwards no byte of their
// personal data is left in the event store's files, the read models, the
// scans or the logs, while history, time travel and rebuilds still work and
// show «данные удалены / erased». An applicant with a live policy cannot be
// erased.
func TestEraseApplicantData(t *testing.T) {
	onBothStores(t, func(t *testing.T, store config.Config, _ bool) {
		logs := newCapture()
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.HTTPAddr, cfg.ESDBListen = "127.0.0.1:0", "127.0.0.1:0"
		cfg.MongoURI, cfg.MongoDatabase = store.MongoURI, store.MongoDatabase
		a, err := app.Start(context.Background(), cfg, slog.New(logs))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		blobs := runErasure(t, newClient(t, a, cfg), a, cfg.DataDir, logs)
		// Every scan is gone from the blob store (files, or GridFS).
		for _, sum := range blobs {
			if _, _, err := a.Store().OpenBlob(context.Background(), sum); err == nil {
				t.Errorf("scan blob %s is still in the store", sum)
			}
		}
	})
}

// runErasure returns the blob ids of the erased scans.
func runErasure(t *testing.T, c *client, a *app.App, dataDir string, logs *capture) []string {
	t.Helper()
	p := karimov("erase-applicant-1", "AE7654321")
	p.LastName, p.FirstName, p.LatinName, p.Email = "Эргашева", "Зульфия", "ERGASHEVA ZULFIYA", "zulfiya.e@example.org"
	p.Street, p.BirthPlace, p.IssuedBy, p.Phone = "ул. Малая Бронная", "Самарканд", "MIA of Uzbekistan Samarkand", "+79035550001"
	applicant := c.token("applicant", p.Subject)
	reviewer := c.token("reviewer", "erase-reviewer")
	auditor := c.token("auditor", "erase-auditor")
	admin := c.token("admin", "erase-admin")

	r, scanIDs := c.submit(p, applicant, "")
	id := r.ApplicationID
	// A scan uploaded and never put into the form (a re-scan the applicant
	// thought better of) is theirs too, and goes with the rest.
	unused := blobOf(t, a, c.upload(applicant, "", "passport", p.Subject+" re-scan"))
	if _, _, err := a.Store().OpenBlob(context.Background(), unused); err != nil {
		t.Fatalf("the unused scan's blob before erasure: %v", err)
	}
	c.act(reviewer, "", id, "claim", "")
	last := c.act(reviewer, "", id, "reject", `{"reasonCode":"not_eligible","reason":"Нет права на ОМС"}`)

	// Before: the event store's own files never held the data in the
	// clear (sealed on append), while the read models do.
	esDir := filepath.Join(dataDir, "eventstore")
	if hits := grepTree(t, esDir, secrets(p)); len(hits) > 0 {
		t.Fatalf("event store files hold personal data in the clear before any erasure: %v", hits)
	}
	var view map[string]any
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", id, last.Position), token: auditor}, 200, &view)
	if got := view["form"].(map[string]any)["applicant"].(map[string]any)["lastName"]; got != p.LastName {
		t.Fatalf("before erasure the auditor sees lastName %v", got)
	}
	var blobIDs []string
	for _, d := range view["form"].(map[string]any)["documents"].([]any) {
		blobIDs = append(blobIDs, d.(map[string]any)["sha256"].(string))
	}
	page := c.must(req{method: "GET", path: "/cabinet/applications/" + id, session: c.session("applicant", p.Subject)}, 200, nil)
	if !strings.Contains(page.body, "Согласие на обработку персональных данных") || !strings.Contains(page.body, "/withdraw-consent") || !strings.Contains(page.body, p.LastName) {
		t.Fatalf("the application page before erasure lacks the consent section or the data:\n%s", page.body)
	}
	scan := c.do(req{method: "GET", path: "/api/v1/documents/" + scanIDs["passport"], token: applicant})
	if scan.status != 200 || !strings.Contains(scan.body, p.Subject) {
		t.Fatalf("scan before erasure: %d %q", scan.status, scan.body)
	}

	// Only an administrator erases; a bad basis is a 422.
	c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: auditor, json: `{"basis":"subject_request"}`}, 403, nil)
	c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: admin, json: `{"basis":"whim"}`}, 422, nil)

	var erased struct {
		Applications     []result `json:"applications"`
		ScansDeleted     int      `json:"scansDeleted"`
		ReadModelsErased bool     `json:"readModelsErased"`
	}
	c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: admin, json: `{"basis":"subject_request"}`}, 200, &erased)
	if len(erased.Applications) != 1 || erased.ScansDeleted != 4 || !erased.ReadModelsErased {
		t.Fatalf("erasure answered %+v, want 1 application and 4 scans (3 in the form, 1 unused)", erased)
	}
	blobIDs = append(blobIDs, unused)
	pos := erased.Applications[0].Position

	// The views say «данные удалены / erased» where the data was.
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", id, pos), token: auditor}, 200, &view)
	form := view["form"].(map[string]any)
	if form["applicant"].(map[string]any)["lastName"] != piicrypt.Marker || form["contacts"].(map[string]any)["email"] != piicrypt.Marker ||
		form["identityDocument"].(map[string]any)["number"] != piicrypt.Marker || view["erased"] == nil {
		t.Fatalf("view after erasure: %v", view)
	}
	if form["address"].(map[string]any)["region"] != "77" {
		t.Errorf("the region code went too: %v", form["address"])
	}
	var cab map[string]any
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", pos), token: applicant}, 200, &cab)
	apps := cab["applications"].([]any)
	if len(apps) != 1 || apps[0].(map[string]any)["erased"] == nil || len(apps[0].(map[string]any)["actions"].([]any)) != 0 {
		t.Fatalf("cabinet after erasure: %v", cab)
	}
	page = c.must(req{method: "GET", path: "/cabinet/applications/" + id, session: c.session("applicant", p.Subject)}, 200, nil)
	if !strings.Contains(page.body, "Персональные данные удалены") || strings.Contains(page.body, "/withdraw-consent") || strings.Contains(page.body, p.LastName) {
		t.Fatalf("the application page after erasure:\n%s", page.body)
	}
	// The cabinet offers no МФЦ code: nothing is left for an operator.
	page = c.must(req{method: "GET", path: fmt.Sprintf("/cabinet?after=%d", pos), session: c.session("applicant", p.Subject)}, 200, nil)
	if strings.Contains(page.body, "data-visit-code") || !strings.Contains(page.body, "data-my-id") {
		t.Fatalf("the cabinet after erasure offers an МФЦ code (or is no cabinet)")
	}
	// History and time travel still work, with the marker.
	hist := c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s/history?after=%d", id, pos), token: auditor}, 200, nil)
	if !strings.Contains(hist.body, "ApplicantDataErased") || !strings.Contains(hist.body, piicrypt.Marker) {
		t.Fatalf("history after erasure: %s", hist.body)
	}
	state := c.must(req{method: "GET", path: "/api/v1/applications/" + id + "/state?revision=0", token: auditor}, 200, nil)
	if !strings.Contains(state.body, piicrypt.Marker) {
		t.Fatalf("time travel to revision 0 after erasure: %s", state.body)
	}
	// Scans are gone: 404 with a reason, not a 500.
	scan = c.do(req{method: "GET", path: "/api/v1/documents/" + scanIDs["passport"], token: applicant})
	if scan.status != 404 || !strings.Contains(scan.body, "document_erased") {
		t.Fatalf("scan after erasure: %d %s", scan.status, scan.body)
	}
	// The erased account takes no new personal data.
	docs := map[string]string{}
	for _, kind := range []string{"passport", "residence_document", "consent"} {
		res := c.do(req{method: "POST", path: "/api/v1/documents", token: applicant, multipart: &filePart{kind: kind, content: []byte("%PDF-1.7\n% again\n%%EOF\n")}})
		if res.status != 409 {
			t.Fatalf("upload by an erased applicant: %d %s", res.status, res.body)
		}
		docs[kind] = "00000000-0000-0000-0000-000000000000"
	}
	// A second erasure finds nothing left to do and is not an error: it
	// deletes nothing and answers with the first erasure's records.
	first := erased.Applications[0]
	c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: admin, json: `{"basis":"subject_request"}`}, 200, &erased)
	if len(erased.Applications) != 1 || erased.Applications[0] != first || erased.ScansDeleted != 0 {
		t.Fatalf("second erasure: %+v, want nothing deleted and the first erasure's record %+v", erased, first)
	}

	// Rebuilds from the event store give the same read models as the live
	// erasure did.
	rebuildEqual(t, a, a.Runner().Names(), logicalCollections)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.Store().Scrub(ctx); err != nil {
		t.Fatal(err)
	}

	// No byte of it anywhere: event store files, read-model files, scans
	// (with SQLite they are files under the data dir), logs. The person
	// reservation's stream name is keyed, so the plain hash of the passport
	// (which anyone could recompute by trying numbers) is not there either.
	plainHash := sha256.Sum256([]byte("FOREIGN_PASSPORT|FA|" + p.Passport))
	if hits := grepTree(t, dataDir, append(secrets(p), hex.EncodeToString(plainHash[:]))); len(hits) > 0 {
		t.Errorf("personal data left on disk after the erasure: %v", hits)
	}
	all, _ := json.Marshal(snapshot(t, a.Store(), logicalCollections...))
	for _, s := range secrets(p) {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("read models still hold %q", s)
		}
	}
	for _, s := range secrets(p) {
		if strings.Contains(logs.all(), s) {
			t.Errorf("logs hold %q", s)
		}
	}
	return blobIDs
}

// TestErasureRefusedWhileThePolicyMustBeKept: an issued policy's record is
// kept for its term plus the retention period, so the erasure is refused
// with the date, and nothing is destroyed.
func TestErasureRefusedWhileThePolicyMustBeKept(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("erase-applicant-2", "AE1112223")
	applicant := c.token("applicant", p.Subject)
	reviewer := c.token("reviewer", "erase-reviewer-2")
	admin := c.token("admin", "erase-admin-2")
	id, _, issued := c.insure(p, applicant, reviewer)
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", issued.Position), token: applicant}, 200, nil)

	// Withdrawing consent records when the data may go.
	w := c.act(applicant, "", id, "withdraw-consent", `{"reason":"не нужен"}`)
	var cab struct {
		Applications []struct {
			Status  string `json:"status"`
			Consent struct {
				RetainUntil string `json:"retainUntil"`
			} `json:"consent"`
		} `json:"applications"`
		Inbox []struct{ Kind string } `json:"inbox"`
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", w.Position), token: applicant}, 200, &cab)
	if cab.Applications[0].Status != "policy_active" || cab.Applications[0].Consent.RetainUntil == "" ||
		cab.Inbox[len(cab.Inbox)-1].Kind != "ConsentWithdrawn" {
		t.Fatalf("cabinet after the consent withdrawal: %+v", cab)
	}
	res := c.do(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: admin, json: `{"basis":"consent_withdrawn"}`})
	if res.status != 409 || !strings.Contains(res.body, "retention_required") || !strings.Contains(res.body, cab.Applications[0].Consent.RetainUntil) {
		t.Fatalf("erasure with a live policy: %d %s", res.status, res.body)
	}
	if erased, err := a.Keys().Erased(context.Background(), p.Subject); err != nil || erased {
		t.Fatalf("a refused erasure destroyed the key: %v %v", erased, err)
	}
	// The data is still readable.
	var view map[string]any
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", id, w.Position), token: applicant}, 200, &view)
	if view["form"].(map[string]any)["applicant"].(map[string]any)["lastName"] != p.LastName {
		t.Fatalf("view after a refused erasure: %v", view["form"])
	}
}

// Scans uploaded and never submitted are personal data too: erasing their
// owner destroys the key they were sealed with, after which nobody reads
// them. A subject the service never saw is refused, not "erased".
func TestErasureOfScansWithoutAnApplication(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	owner := token(t, cfg, "applicant", "scan-only")
	admin := token(t, cfg, "admin", "adm-1")
	id := upload(t, a, owner, "passport", []byte("%PDF-1.7\nscan-only passport\n%%EOF\n"))
	c.must(req{method: "GET", path: "/api/v1/documents/" + id, token: owner}, 200, nil)
	blob := blobOf(t, a, id)
	// Another applicant's scan stays.
	other := token(t, cfg, "applicant", "scan-only-neighbour")
	kept := blobOf(t, a, upload(t, a, other, "passport", []byte("%PDF-1.7\nthe neighbour's passport\n%%EOF\n")))

	var erased struct {
		Applications []result `json:"applications"`
		ScansDeleted int      `json:"scansDeleted"`
		KeyDestroyed bool     `json:"keyDestroyed"`
	}
	c.must(req{method: "POST", path: "/api/v1/admin/applicants/scan-only/erase", token: admin, json: `{"basis":"subject_request"}`}, 200, &erased)
	if len(erased.Applications) != 0 || erased.ScansDeleted != 1 || !erased.KeyDestroyed {
		t.Fatalf("erasure answered %+v, want no application and 1 scan", erased)
	}
	// Deleted, not only unreadable.
	if _, _, err := a.Store().OpenBlob(context.Background(), blob); err == nil {
		t.Errorf("the erased scan's blob %s is still in the store", blob)
	}
	if _, _, err := a.Store().OpenBlob(context.Background(), kept); err != nil {
		t.Errorf("another applicant's scan went too: %v", err)
	}
	if res := c.do(req{method: "GET", path: "/api/v1/documents/" + id, token: owner}); res.status != 404 || !strings.Contains(res.body, `"code":"document_erased"`) {
		t.Fatalf("the scan after erasure: %d %q", res.status, res.body)
	}
	// The body is refused as a command's is: a wrong type names its field.
	bad := c.do(req{method: "POST", path: "/api/v1/admin/applicants/nobody-at-all/erase", token: admin, json: `{"basis":5}`})
	if bad.status != 422 || !strings.Contains(bad.body, `"field":"/basis","code":"type"`) {
		t.Fatalf("a number for the basis: %d %s", bad.status, bad.body)
	}
	// ... and in UTF-8 only.
	bad = c.do(req{method: "POST", path: "/api/v1/admin/applicants/nobody-at-all/erase", token: admin, json: "{\"basis\":\"subject_r\xe9quest\"}"})
	if bad.status != 400 || !strings.Contains(bad.body, "UTF-8") {
		t.Fatalf("a Latin-1 body: %d %s", bad.status, bad.body)
	}
	res := c.do(req{method: "POST", path: "/api/v1/admin/applicants/nobody-at-all/erase", token: admin, json: `{"basis":"subject_request"}`})
	if res.status != 404 || !strings.Contains(res.body, `"code":"applicant_not_found"`) {
		t.Fatalf("erasing a subject never seen: %d %s", res.status, res.body)
	}
}

// blobOf is the id of the blob a scan is stored as (the SHA-256 of its
// sealed bytes), from the scan's upload event.
func blobOf(t *testing.T, a *app.App, documentID string) string {
	t.Helper()
	recs, err := a.Events().Load(context.Background(), schema.DocumentStream(documentID))
	if err != nil || len(recs) == 0 {
		t.Fatalf("upload event of %s: %d events, %v", documentID, len(recs), err)
	}
	var up schema.DocumentUploaded
	if err := json.Unmarshal(recs[0].Data, &up); err != nil || up.SHA256 == "" {
		t.Fatalf("upload event of %s: %s (%v)", documentID, recs[0].Data, err)
	}
	return up.SHA256
}

// An upload racing its owner's erasure leaves no scan behind: either the
// erasure finds its event, or the upload, recorded too late for that, finds
// the key gone and deletes its own scan (answering 409).
func TestErasureRacingUploads(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	admin := token(t, cfg, "admin", "adm-race")
	ctx := context.Background()
	for round := 0; round < 4; round++ {
		owner := fmt.Sprintf("racer-%d", round)
		tok := token(t, cfg, "applicant", owner)
		upload(t, a, tok, "passport", []byte("%PDF-1.7\nfirst\n%%EOF\n")) // the owner exists
		stop := make(chan struct{})
		var stopOnce sync.Once
		halt := func() { stopOnce.Do(func() { close(stop) }) }
		var wg sync.WaitGroup
		// Should the test stop early, the uploaders stop before the app
		// closes under them (cleanups run last in, first out).
		t.Cleanup(func() { halt(); wg.Wait() })
		var created, refused atomic.Int64
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					switch status := rawUpload(a, tok, fmt.Sprintf("%%PDF-1.7\n%s %d %d\n%%%%EOF\n", owner, w, i)); status {
					case 201:
						created.Add(1)
					case 409:
						refused.Add(1)
						return // erased: every later upload is refused too
					default:
						t.Errorf("upload during the erasure: %d", status)
						return
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + owner + "/erase", token: admin, json: `{"basis":"subject_request"}`}, 200, nil)
		time.Sleep(20 * time.Millisecond)
		halt()
		wg.Wait()
		left := 0
		err := a.Events().CatchUpTypes(ctx, nil, []string{schema.TypeDocumentUploaded}, func(r eventstore.Recorded) error {
			var up schema.DocumentUploaded
			if err := json.Unmarshal(r.Data, &up); err != nil {
				return err
			}
			if up.OwnerID != owner {
				return nil
			}
			if rc, _, err := a.Store().OpenBlob(ctx, up.SHA256); err == nil {
				rc.Close()
				left++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if left > 0 {
			t.Fatalf("round %d: %d of the owner's scans are still stored after the erasure (%d uploads created, %d refused)", round, left, created.Load(), refused.Load())
		}
		t.Logf("round %d: %d uploads created around the erasure, %d refused, none left", round, created.Load(), refused.Load())
	}
}

// rawUpload posts a scan and returns the status (0 when the request
// failed), for goroutines, which must not stop the test themselves.
func rawUpload(a *app.App, tok string, content string) int {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("kind", "passport")
	fw, _ := mw.CreateFormFile("file", "scan.pdf")
	_, _ = fw.Write([]byte(content))
	_ = mw.Close()
	req, err := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/api/v1/documents", &buf)
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An erasure that follows a withdrawal at once, while the withdrawal's
// history entry may still be on its way to the store, erases the reason
// the applicant gave too: the live history equals a rebuilt one.
func TestErasureRightAfterAWithdrawalErasesItsReason(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	admin := c.token("admin", "erase-admin")
	auditor := c.token("auditor", "erase-auditor")
	for i := range 5 {
		p := karimov(fmt.Sprintf("quick-erase-%d", i), fmt.Sprintf("QE%07d", i))
		applicant := c.token("applicant", p.Subject)
		r, _ := c.submit(p, applicant, "")
		c.act(c.token("reviewer", "rev-quick"), "", r.ApplicationID, "claim", "")
		reason := fmt.Sprintf("ПРИЧИНА-%s", p.Subject)
		c.act(applicant, "", r.ApplicationID, "withdraw", fmt.Sprintf(`{"reason":%q}`, reason))
		var erased struct{ Applications []result }
		c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: admin, json: `{"basis":"subject_request"}`}, 200, &erased)
		if len(erased.Applications) != 1 || erased.Applications[0].Position == 0 {
			t.Fatalf("round %d: the erasure answered %+v", i, erased)
		}
		hist := c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s/history?after=%d", r.ApplicationID, erased.Applications[0].Position), token: auditor}, 200, nil)
		if strings.Contains(hist.body, reason) {
			t.Fatalf("round %d: the history still holds the withdrawal's reason after the erasure: %s", i, hist.body)
		}
	}
}

// An administrator finds who must be erased after a withdrawn consent, and
// by when: the inbox promises 30 days, and the list is how they are kept
// (walkthrough QA: erasure was manual with no way to find who was due).
func TestErasuresDueAfterAWithdrawnConsent(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("withdrawing-1", "WD1234567")
	tok := c.token("applicant", p.Subject)
	r, _ := c.submit(p, tok, "")
	other := karimov("staying-1", "ST1234567")
	c.submit(other, c.token("applicant", other.Subject), "")
	c.act(tok, "", r.ApplicationID, "withdraw-consent", `{"reason":"уезжаю"}`)
	caughtUp(t, a)
	adm := c.token("admin", "adm-due")
	var due []struct {
		ApplicantID, ApplicationID, EraseBy, Basis string
		WithdrawnAt                                time.Time
		Overdue                                    bool
	}
	c.must(req{method: "GET", path: "/api/v1/admin/erasures", token: adm}, 200, &due)
	if len(due) != 1 || due[0].ApplicantID != p.Subject || due[0].ApplicationID != r.ApplicationID || due[0].Basis != "consent_withdrawn" || due[0].Overdue {
		t.Fatalf("due erasures: %+v", due)
	}
	msk := time.FixedZone("MSK", 3*3600)
	if want := due[0].WithdrawnAt.In(msk).AddDate(0, 0, 30).Format(time.DateOnly); due[0].EraseBy != want {
		t.Errorf("erase by %s, want %s (30 days after %s)", due[0].EraseBy, want, due[0].WithdrawnAt)
	}
	c.must(req{method: "GET", path: "/api/v1/admin/erasures", token: c.token("reviewer", "rev-due")}, 403, nil)
	// Erased, the applicant leaves the list.
	c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: adm, json: `{"basis":"consent_withdrawn"}`}, 200, nil)
	c.must(req{method: "GET", path: "/api/v1/admin/erasures", token: adm}, 200, &due)
	if len(due) != 0 {
		t.Fatalf("due erasures after the erasure: %+v", due)
	}
}

// The basis an erasure records is checked against the record: consent
// withdrawn is refused for a person who never withdrew it, and nothing is
// destroyed; the person's own request is the basis then (ops QA: any basis
// on the list was recorded as given).
func TestErasureForAWithdrawnConsentNeedsAWithdrawal(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("never-withdrew", "NW1234567")
	tok := c.token("applicant", p.Subject)
	r, _ := c.submit(p, tok, "")
	w := c.act(tok, "", r.ApplicationID, "withdraw", `{"reason":"передумал"}`)
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/cabinet?after=%d", w.Position), token: tok}, 200, nil)
	adm := c.token("admin", "adm-basis")
	res := c.do(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: adm, json: `{"basis":"consent_withdrawn"}`})
	if res.status != 409 || !strings.Contains(res.body, "consent_not_withdrawn") || !strings.Contains(res.body, "subject_request") {
		t.Fatalf("consent_withdrawn without a withdrawal: %d %s", res.status, res.body)
	}
	if erased, err := a.Keys().Erased(context.Background(), p.Subject); err != nil || erased {
		t.Fatalf("a refused erasure destroyed the key: %v %v", erased, err)
	}
	c.must(req{method: "POST", path: "/api/v1/admin/applicants/" + p.Subject + "/erase", token: adm, json: `{"basis":"subject_request"}`}, 200, nil)
}
