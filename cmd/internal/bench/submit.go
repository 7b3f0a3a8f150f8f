package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/cmd/internal/loadgen"
	"github.com/omsonline/oms/cmd/perf"
	"github.com/omsonline/oms/events/schema"
)

// SubmitResult is the SubmitApplication stage's outcome.
type SubmitResult struct {
	Workers    int
	Submitted  int
	Errors     int
	FirstError string
	Elapsed    time.Duration
	PerSecond  float64
	Latency    perf.Latency
	// AllocPerSubmit is the bytes the whole process (node, stores and
	// clients) allocated per submission while submitting, and GCs the
	// garbage collections meanwhile: what drives the collector's share.
	AllocPerSubmit float64
	GCs            uint32
	// CPUPerSubmit is the CPU time (user and system) the whole process
	// spent per submission while submitting: steadier than the rate on a
	// shared machine, where the cores' speed varies from run to run.
	CPUPerSubmit time.Duration
	// PoolExhausted says every applicant had submitted before the
	// duration was over: the figure is over the shorter time.
	PoolExhausted bool
}

type applicant struct {
	tok  string
	docs map[string]string
}

// submit measures SubmitApplication alone: the scans are uploaded first,
// three for each of SubmitApplicants people, then closed-loop clients
// submit for the duration, each submission a person of its own (an account
// and an identity document hold one open application). When the people run
// out first, the clients stop there, and the figure is over the shorter
// time (SubmitResult.PoolExhausted).
func submit(ctx context.Context, o *Options) (SubmitResult, error) {
	a, tok, err := startApp(ctx, o, filepath.Join(o.Dir, "submit"), func(c *config.Config) { c.RunProjections = !o.SubmitWithoutProjections })
	if err != nil {
		return SubmitResult{}, err
	}
	defer a.Close()
	base := "http://" + a.HTTPAddr()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.SubmitWorkers + 16}}
	defer client.CloseIdleConnections()

	o.stage("uploading scans", int64(o.SubmitApplicants*len(schema.DocumentKinds)))
	apps := make([]applicant, o.SubmitApplicants)
	var uploaded atomic.Int64
	if err := parallel(16, len(apps), func(i int) error {
		t, err := tok("applicant", fmt.Sprintf("bench-applicant-%d", i))
		if err != nil {
			return err
		}
		apps[i] = applicant{tok: t, docs: map[string]string{}}
		for _, kind := range schema.DocumentKinds {
			id, err := loadgen.Upload(ctx, client, base, t, kind, []byte(fmt.Sprintf("%%PDF-1.7\n%% bench scan %d %s\n%%%%EOF\n", i, kind)))
			if err != nil {
				return err
			}
			apps[i].docs[kind] = id
			o.progress(uploaded.Add(1))
		}
		return nil
	}); err != nil {
		return SubmitResult{}, err
	}

	var seq atomic.Int64
	errPoolExhausted := errors.New("bench: every applicant has submitted")
	one := func() (time.Duration, error) {
		n := seq.Add(1) - 1
		if n >= int64(len(apps)) {
			return 0, errPoolExhausted
		}
		ap := apps[n]
		body := submitBody(fmt.Sprintf("B%09d", n), n, ap.docs)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/applications", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+ap.tok)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != http.StatusCreated {
			return d, fmt.Errorf("submit: %d %s", resp.StatusCode, bytes.TrimSpace(b))
		}
		return d, nil
	}
	// Warm-up: connections open and caches fill before the clock starts.
	if err := parallel(o.SubmitWorkers, 4*o.SubmitWorkers, func(int) error { _, err := one(); return err }); err != nil {
		return SubmitResult{}, err
	}

	o.stage(fmt.Sprintf("submitting, %d clients", o.SubmitWorkers), int64(o.SubmitDuration/time.Second))
	res := SubmitResult{Workers: o.SubmitWorkers}
	var mu sync.Mutex
	var all []time.Duration
	var errs atomic.Int64
	var exhausted atomic.Bool
	start := time.Now()
	deadline := start.Add(o.SubmitDuration)
	stopTicker := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for s := int64(1); ; s++ {
			select {
			case <-t.C:
				o.progress(s)
			case <-stopTicker:
				return
			}
		}
	}()
	if o.SubmitProfile != nil {
		if err := pprof.StartCPUProfile(o.SubmitProfile); err != nil {
			close(stopTicker)
			return SubmitResult{}, fmt.Errorf("bench: cpu profile (is another one running, e.g. -cpuprofile?): %w", err)
		}
	}
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, cpuErr := processCPU()
	var wg sync.WaitGroup
	for w := 0; w < o.SubmitWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				d, err := one()
				if errors.Is(err, errPoolExhausted) {
					exhausted.Store(true)
					break
				}
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						res.FirstError = err.Error()
						mu.Unlock()
					}
					continue
				}
				mine = append(mine, d)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	cpu1, cpuErr1 := processCPU()
	if o.SubmitProfile != nil {
		pprof.StopCPUProfile()
	}
	close(stopTicker)
	res.Elapsed = time.Since(start)
	res.Errors = int(errs.Load())
	res.PoolExhausted = exhausted.Load()
	res.Submitted = len(all)
	res.PerSecond = float64(len(all)) / res.Elapsed.Seconds()
	res.Latency = perf.Summarise(all)
	if len(all) > 0 {
		res.AllocPerSubmit = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(len(all))
		if cpuErr == nil && cpuErr1 == nil {
			res.CPUPerSubmit = (cpu1 - cpu0) / time.Duration(len(all))
		}
	}
	res.GCs = m1.NumGC - m0.NumGC
	return res, nil
}

// submitBody is a valid form with the given passport number, and the
// n-th residence permit: one permit per person, as one person holds one
// policy.
func submitBody(passport string, n int64, docs map[string]string) []byte {
	return fmt.Appendf(nil, `{"applicant":{"lastName":"Каримов","firstName":"Бахтиёр","latinName":"KARIMOV BAKHTIYOR","birthDate":"1990-04-12","birthPlace":"Ташкент","citizenship":"UZB","sex":"male"},`+
		`"identityDocument":{"type":"foreign_passport","series":"FA","number":%q,"issuedAt":"2019-05-20","issuedBy":"MIA of Uzbekistan","expiresAt":"2031-05-19"},`+
		`"residenceDocument":{"type":"vnzh","series":"%02d","number":"%07d","issuedAt":"2024-03-01","expiresAt":"2031-03-01"},`+
		`"address":{"region":"77","city":"Москва","street":"ул. Тверская","house":"7","apartment":"12","postalCode":"125009"},`+
		`"contacts":{"phone":"+79161234567","email":"karimov@example.org"},`+
		`"documents":[{"kind":"passport","id":%q},{"kind":"residence_document","id":%q},{"kind":"consent","id":%q}],"consent":true}`,
		passport, n/10_000_000%100, n%10_000_000, docs[schema.DocumentPassport], docs[schema.DocumentResidence], docs[schema.DocumentConsent])
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(workers, n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// processCPU is the CPU time, user and system, the process has used so far.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("bench: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
