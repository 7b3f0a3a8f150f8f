// Package loadgen drives a running omsd over HTTP at a fixed command rate
// with the seed's journey — upload scans, submit, claim, approve, issue —
// and measures each command's latency and its read-your-writes latency: the
// time from sending the command until the applicant's cabinet, queried
// with ?after=<position>, shows its effect. A reviewer's command is also
// read back in the reviewer's own view of the application, measured on its
// own: that read is a staff read of personal data and records an access
// event first. omsctl load and the benchmarks use it.
package loadgen

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omsonline/oms/cmd/perf"
)

// Options configure a run.
type Options struct {
	BaseURL  string
	Rate     float64       // commands per second
	Duration time.Duration // how long to send
	Workers  int           // concurrent requests at most
	// Token returns a bearer token for a role and subject.
	Token func(role, subject string) (string, error)
	// SubmitShare is the share of commands that submit a new application
	// while others wait for their next step (claim, approve, issue); 0
	// means 0.25.
	SubmitShare float64
	// OnCommand is called after every command (progress bars).
	OnCommand func()
	Client    *http.Client
}

// Stats is the outcome of a run.
type Stats struct {
	Commands   int
	Errors     int
	Elapsed    time.Duration
	Throughput float64 // commands per second achieved
	ByCommand  map[string]Latency
	All        Latency
	// ReadYourWrite is command to visible in the applicant's cabinet, for
	// every command.
	ReadYourWrite Latency
	// StaffReadYourWrite is a reviewer's command to visible in the
	// reviewer's view of the application (which first records the read in
	// the staff access log).
	StaffReadYourWrite Latency
	FirstErrors        []string
}

// Latency summarises durations, the same way as every other measurement.
type Latency = perf.Latency

func summarise(ds []time.Duration) Latency { return perf.Summarise(ds) }

type app struct {
	id, owner, ownerTok string
	next                int // index into steps
}

var steps = []string{"claim", "approve", "issue-policy"}

type run struct {
	o        Options
	reviewer string
	mu       sync.Mutex
	ready    []*app
	lat      map[string][]time.Duration
	ryw      []time.Duration
	staffRYW []time.Duration
	errs     atomic.Int64
	cmds     atomic.Int64
	first    []string
	seq      atomic.Int64
	// tag makes this run's passport numbers its own: a passport held by
	// an open application is refused to anyone else, so numbers from a
	// counter alone collided with every earlier run against the same omsd.
	tag string
}

// Run sends load until the duration is over, then waits for the commands
// in flight.
func Run(ctx context.Context, o Options) (Stats, error) {
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.SubmitShare <= 0 || o.SubmitShare > 1 {
		o.SubmitShare = 0.25
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Workers}}
	}
	rev, err := o.Token("reviewer", "load-reviewer")
	if err != nil {
		return Stats{}, err
	}
	r := &run{o: o, reviewer: rev, lat: map[string][]time.Duration{}, tag: crand.Text()[:6]}
	slots := make(chan struct{}, o.Workers)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.Rate)
	next := start
	for time.Since(start) < o.Duration && ctx.Err() == nil {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r.one(ctx)
		}()
	}
	wg.Wait()
	el := time.Since(start)
	o.Client.CloseIdleConnections()
	st := Stats{Commands: int(r.cmds.Load()), Errors: int(r.errs.Load()), Elapsed: el, ByCommand: map[string]Latency{}, FirstErrors: r.first}
	st.Throughput = float64(st.Commands) / el.Seconds()
	var all []time.Duration
	for k, v := range r.lat {
		st.ByCommand[k] = summarise(append([]time.Duration(nil), v...))
		all = append(all, v...)
	}
	st.All = summarise(all)
	st.ReadYourWrite = summarise(r.ryw)
	st.StaffReadYourWrite = summarise(r.staffRYW)
	return st, nil
}

func (r *run) fail(err error) {
	r.errs.Add(1)
	r.mu.Lock()
	if len(r.first) < 5 {
		r.first = append(r.first, err.Error())
	}
	r.mu.Unlock()
}

// one performs the next step of some application, or starts a new one.
func (r *run) one(ctx context.Context) {
	r.mu.Lock()
	var a *app
	if n := len(r.ready); n > 0 && rand.Float64() >= r.o.SubmitShare {
		a = r.ready[n-1]
		r.ready = r.ready[:n-1]
	}
	r.mu.Unlock()
	r.seq.Add(1)
	if a == nil {
		r.submit(ctx)
		return
	}
	action := steps[a.next]
	start := time.Now()
	res, err := r.post(ctx, r.reviewer, "/api/v1/applications/"+a.id+"/"+action, nil)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", action, err))
		return
	}
	r.record(action, start, res.Position, a.ownerTok, "/api/v1/applications/"+a.id)
	a.next++
	if a.next < len(steps) {
		r.mu.Lock()
		r.ready = append(r.ready, a)
		r.mu.Unlock()
	}
}

type result struct {
	ApplicationID string `json:"applicationId"`
	Position      uint64 `json:"position"`
}

func (r *run) submit(ctx context.Context) {
	n := r.seq.Add(1)
	owner := fmt.Sprintf("load-applicant-%d-%d", time.Now().UnixNano()%1e6, n)
	tok, err := r.o.Token("applicant", owner)
	if err != nil {
		r.fail(err)
		return
	}
	docs := map[string]string{}
	for _, kind := range []string{"passport", "residence_document", "consent"} {
		id, err := r.upload(ctx, tok, kind, []byte(fmt.Sprintf("%%PDF-1.7\n%s %s\n%%%%EOF\n", owner, kind)))
		if err != nil {
			r.fail(fmt.Errorf("upload: %w", err))
			return
		}
		docs[kind] = id
	}
	body := form(fmt.Sprintf("%s%07d", r.tag, n%10_000_000), permitOf(crc32.ChecksumIEEE([]byte(r.tag)), n), docs)
	start := time.Now()
	res, err := r.post(ctx, tok, "/api/v1/applications", body)
	if err != nil {
		r.fail(fmt.Errorf("submit: %w", err))
		return
	}
	r.record("submit", start, res.Position, tok, "")
	r.mu.Lock()
	r.ready = append(r.ready, &app{id: res.ApplicationID, owner: owner, ownerTok: tok})
	r.mu.Unlock()
}

// record notes a command's latency, then measures read-your-writes in the
// owner's cabinet and, for a reviewer's command (staffPath set), in the
// reviewer's view at the same time.
func (r *run) record(cmd string, start time.Time, pos uint64, ownerTok, staffPath string) {
	d := time.Since(start)
	r.cmds.Add(1)
	if r.o.OnCommand != nil {
		r.o.OnCommand()
	}
	var staff sync.WaitGroup
	var staffErr error
	var staffRYW time.Duration
	if staffPath != "" {
		staff.Go(func() {
			staffErr = r.get(r.reviewer, fmt.Sprintf("%s?after=%d", staffPath, pos))
			staffRYW = time.Since(start)
		})
	}
	err := r.get(ownerTok, fmt.Sprintf("/api/v1/cabinet?after=%d", pos))
	ryw := time.Since(start)
	staff.Wait()
	if err != nil {
		r.fail(fmt.Errorf("cabinet read after %s: %w", cmd, err))
		return
	}
	if staffErr != nil {
		r.fail(fmt.Errorf("reviewer's read after %s: %w", cmd, staffErr))
		return
	}
	r.mu.Lock()
	r.lat[cmd] = append(r.lat[cmd], d)
	r.ryw = append(r.ryw, ryw)
	if staffPath != "" {
		r.staffRYW = append(r.staffRYW, staffRYW)
	}
	r.mu.Unlock()
}

func (r *run) do(req *http.Request, tok string) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp, nil
}

func (r *run) post(ctx context.Context, tok, path string, body []byte) (result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.o.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.do(req, tok)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	var res result
	return res, json.NewDecoder(resp.Body).Decode(&res)
}

func (r *run) get(tok, path string) error {
	req, err := http.NewRequest(http.MethodGet, r.o.BaseURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := r.do(req, tok)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (r *run) upload(ctx context.Context, tok, kind string, content []byte) (string, error) {
	return Upload(ctx, r.o.Client, r.o.BaseURL, tok, kind, content)
}

// Upload stores one scan as tok through POST /api/v1/documents, as a
// browser's form does, and returns its document id.
func Upload(ctx context.Context, c *http.Client, base, tok, kind string, content []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("kind", kind)
	fw, err := mw.CreateFormFile("file", "scan.pdf")
	if err != nil {
		return "", err
	}
	_, _ = fw.Write(content)
	_ = mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/documents", &buf)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("upload: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.ID, nil
}

func form(passport string, permit permit, docs map[string]string) []byte {
	return []byte(fmt.Sprintf(`{
 "applicant": {"lastName":"Каримов","firstName":"Бахтиёр","latinName":"KARIMOV BAKHTIYOR","birthDate":"1990-04-12","birthPlace":"Ташкент","citizenship":"UZB","sex":"male"},
 "identityDocument": {"type":"foreign_passport","series":"FA","number":"%s","issuedAt":"2019-05-20","issuedBy":"MIA of Uzbekistan","expiresAt":"2031-05-19"},
 "residenceDocument": {"type":"vnzh","series":"%s","number":"%s","issuedAt":"2024-03-01","expiresAt":"2031-03-01"},
 "address": {"region":"77","city":"Москва","street":"ул. Тверская","house":"7","apartment":"12","postalCode":"125009"},
 "contacts": {"phone":"+79161234567","email":"karimov@example.org"},
 "documents": [{"kind":"passport","id":"%s"},{"kind":"residence_document","id":"%s"},{"kind":"consent","id":"%s"}],
 "consent": true}`, passport, permit.series, permit.number, docs["passport"], docs["residence_document"], docs["consent"]))
}

// permit is a residence permit's series and number.
type permit struct{ series, number string }

// permitOf is the residence permit of the run's n-th person: one permit
// per person, as one person holds one policy. The run's offset keeps its
// permits apart from those of earlier runs against the same omsd, and
// within a run n tells them apart.
func permitOf(offset uint32, n int64) permit {
	v := (int64(offset) + n) % 1_000_000_000
	return permit{series: fmt.Sprintf("%02d", v/10_000_000), number: fmt.Sprintf("%07d", v%10_000_000)}
}
