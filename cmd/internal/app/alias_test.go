package app_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/omsonline/oms/cmd/internal/config"
)

// An МФЦ operator uploading for many applicants at once: every scan is
// sealed with its own applicant's key and opens for that applicant.
// X-On-Behalf-Of was kept as a string over fasthttp's header buffer, which
// the next request overwrote; the key cache then filed a data key under
// another applicant's id, and scans (and forms) sealed with it never
// opened again (MongoDB QA: 1 to 7 in 150–300 uploads).
func TestOperatorUploadsForManyApplicantsEachOpen(t *testing.T) {
	a, cfg := startWithLog(t, &otpLog{}, func(c *config.Config) { c.RateLimitUploads = 0 })
	c := newClient(t, a, cfg)
	op := c.token("operator", "op-alias")
	const applicants, parallel = 120, 8
	type upload struct{ who, id, tag string }
	ups := make([]upload, applicants)
	for i := range applicants {
		c.openVisit(fmt.Sprintf("alias-%03d-%s", i, strings.Repeat("x", i%7)), "op-alias")
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				who := fmt.Sprintf("alias-%03d-%s", i, strings.Repeat("x", i%7))
				tag := fmt.Sprintf("scan of %s", who)
				var out struct{ ID string }
				r := c.do(req{method: "POST", path: "/api/v1/documents", token: op, obo: who,
					multipart: &filePart{kind: "passport", content: []byte("%PDF-1.7\n% " + tag + "\n%%EOF\n")}})
				if r.status != 201 || json.Unmarshal([]byte(r.body), &out) != nil {
					t.Errorf("upload for %s: %d %.200s", who, r.status, r.body)
				}
				ups[i] = upload{who: who, tag: tag, id: out.ID}
			}
		}()
	}
	for i := range applicants {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	failed := 0
	for _, u := range ups {
		r := c.do(req{method: "GET", path: "/api/v1/documents/" + u.id, token: c.token("applicant", u.who)})
		if r.status != 200 || !strings.Contains(r.body, u.tag) {
			failed++
			if failed <= 3 {
				t.Errorf("%s's scan %s: %d %.200s", u.who, u.id, r.status, r.body)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d scans do not open for their applicant", failed, applicants)
	}
}
