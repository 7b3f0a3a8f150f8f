package web

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/queue"
	queryapi "github.com/omsonline/oms/query/httpapi"
	"github.com/omsonline/oms/query/web/webtest"
)

// Long values wrap instead of widening the page: a 100-letter name (the
// longest the form takes), a long street (web QA: the queue grew to 1624
// px at a 1280 px window, the review page to 1781 px, the application
// page past a phone's 500 px).
func TestLongValuesDoNotWidenThePage(t *testing.T) {
	exe := webtest.Chromium(t)
	if exe == "" {
		t.Skip("Chromium is not installed (apt-get install -y chromium)")
	}
	r := mustRenderer(t)
	long := strings.Repeat("Длинноимённый", 8)[:len("Длинноимённый")*7]
	v := appview.View{ApplicationID: "01a22525-c025-7284-ab78-6a19aeba6f50", Status: appview.StatusInReview, Assignee: "rev-1", Revision: 3}
	v.Form.Applicant = schema.Applicant{LastName: long, FirstName: long, LatinName: strings.Repeat("KARIMOV", 14), BirthDate: "1990-04-12", BirthPlace: long, Citizenship: "UZB", Sex: "male"}
	v.Form.Address = schema.Address{Region: "77", City: long, Street: strings.Repeat("Проспект", 16), House: "7", PostalCode: "125009"}
	ru := r.langs["ru"]
	item := queue.Item{ApplicationID: v.ApplicationID, Status: v.Status, Region: "77", Deadline: time.Date(2026, 12, 11, 20, 59, 59, 0, time.UTC)}
	item.Applicant.LastName, item.Applicant.FirstName, item.Applicant.BirthDate, item.Applicant.Citizenship = long, long, "1990-04-12", "UZB"
	pages := map[string]string{
		"/queue":       renderPage(t, r, "queue", QueueData{Page: queryapi.QueuePage{Items: []queryapi.QueueRow{{Item: item}}}}),
		"/review":      renderPage(t, r, "review", ReviewData{View: v, Summary: summarize(ru, v, true), Mine: true, Can: map[string]bool{"approve": true}}),
		"/application": renderPage(t, r, "application", ApplicationData{View: v, Summary: summarize(ru, v, false)}),
	}
	mux := http.NewServeMux()
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	for path, html := range pages {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(html))
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTime()
	for _, width := range []int64{1280, 500} {
		for path := range pages {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(srv.URL+path)); err != nil {
				t.Fatal(err)
			}
			wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]int64](`[document.documentElement.scrollWidth, window.innerWidth]`))
			if err != nil {
				t.Fatal(err)
			}
			if wide[0] > wide[1] {
				t.Errorf("%s at %d px: the page is %d px wide", path, width, wide[0])
			}
		}
	}
}
