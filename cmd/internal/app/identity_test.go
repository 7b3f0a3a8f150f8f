package app_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentCallersKeepTheirIdentity sends many callers' requests at
// once over shared keep-alive connections, each request reading the
// caller's own scan (owner-only): every answer must be 200. It guards the
// verified-token cache against keys that change under it — Fiber reuses a
// connection's header memory for its next request — which handed one
// caller another's identity now and then (about 1 in 100 submissions under
// `omsctl bench`).
func TestConcurrentCallersKeepTheirIdentity(t *testing.T) {
	a, cfg := startApp(t)
	const callers, workers, perWorker = 200, 16, 250
	toks := make([]string, callers)
	docs := make([]string, callers)
	for i := range callers {
		toks[i] = token(t, cfg, "applicant", fmt.Sprintf("identity-%d", i))
		docs[i] = upload(t, a, toks[i], "passport", []byte(fmt.Sprintf("%%PDF-1.7\n%% identity %d\n%%%%EOF\n", i)))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	// Idle keep-alive connections would hold omsd's graceful shutdown.
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perWorker {
				i := (w + k*workers) % callers
				req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/api/v1/documents/"+docs[i], nil)
				req.Header.Set("Authorization", "Bearer "+toks[i])
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := wrong.Load(); n > 0 {
		t.Fatalf("%d of %d reads of the caller's own scan were refused: callers were taken for one another", n, workers*perWorker)
	}
}
