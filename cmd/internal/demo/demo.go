// Package demo fills a running omsd with made-up but valid applications in
// every state of their life — submitted, in review, waiting for the
// applicant's answers, approved, rejected, withdrawn, with an active
// policy, and some with a changed address or a renewed term — by calling
// the HTTP API exactly as the people's clients do. omsctl demo runs it.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omsonline/oms/events/schema"
)

// Options configure a run.
type Options struct {
	BaseURL string
	// Applications to create; every state is reached from 12 on.
	Applications int
	// Workers run applications concurrently.
	Workers int
	// Token returns a bearer token for a role and subject.
	Token func(role, subject string) (string, error)
	// OnApplication is called after each application reached its state,
	// one call at a time.
	OnApplication func()
	// Seed makes the made-up data repeatable; 0 picks one.
	Seed   uint64
	Client *http.Client
}

// Created is one application the run made.
type Created struct {
	ApplicationID string `json:"applicationId"`
	// Story names what was done to it, e.g. "renewed".
	Story  string `json:"story"`
	Status string `json:"status"`
	// Position is the $all position of its last event: a query with
	// ?after=Position sees the application as the story left it.
	Position uint64 `json:"position"`
}

// Result is the outcome of a run.
type Result struct {
	Applications []Created
	// ByStatus counts the applications per final status.
	ByStatus map[string]int
	Elapsed  time.Duration
}

// story is a path through an application's life.
type story struct {
	name   string
	status string
	steps  []step
	// soon gives the applicant a residence document that expires within
	// the renewal window, which renewal needs.
	soon bool
}

type step func(ctx context.Context, c *client, a *app) error

// stories, in the order a run cycles through them; policy holders come up
// more often, as in a working service.
var stories = []story{
	{name: "submitted", status: "submitted"},
	{name: "in review", status: "in_review", steps: []step{claim}},
	{name: "information requested", status: "info_requested", steps: []step{claim, requestInfo}},
	{name: "answered, back in review", status: "in_review", steps: []step{claim, requestInfo, provideInfo}},
	{name: "approved", status: "approved", steps: []step{claim, approve}},
	{name: "policy issued", status: "policy_active", steps: []step{claim, approve, issuePolicy}},
	{name: "rejected", status: "rejected", steps: []step{claim, reject}},
	{name: "withdrawn", status: "withdrawn", steps: []step{withdraw}},
	{name: "address changed", status: "policy_active", steps: []step{claim, approve, issuePolicy, changeAddress}},
	{name: "renewed", status: "policy_active", steps: []step{claim, approve, issuePolicy, renew}, soon: true},
	{name: "policy after an information round", status: "policy_active", steps: []step{claim, requestInfo, provideInfo, approve, issuePolicy}},
	{name: "rejected after an information round", status: "rejected", steps: []step{claim, requestInfo, reject}},
	{name: "policy issued", status: "policy_active", steps: []step{claim, approve, issuePolicy}},
}

// Stories is how many distinct paths a run cycles through.
func Stories() int { return len(stories) }

type app struct {
	id        string
	applicant string // subject
	tok       string // applicant's token
	operator  string // the МФЦ operator's token when one acts for the applicant
	reviewer  string // token
	form      schema.Form
	r         *rand.Rand
	pos       uint64 // of the last command
}

// Run creates the applications and returns what it made.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Applications <= 0 {
		o.Applications = len(stories)
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	// Passport numbers carry the run's tag, so that runs against the same
	// omsd do not collide on the one-open-application-per-person rule.
	run := strings.ToUpper(strconv.FormatUint(o.Seed%(36*36*36*36), 36))
	for len(run) < 4 {
		run = "0" + run
	}
	c := &client{base: strings.TrimSuffix(o.BaseURL, "/"), http: o.Client}
	reviewers := make([]string, 3)
	for i := range reviewers {
		tok, err := o.Token("reviewer", fmt.Sprintf("demo-reviewer-%d", i+1))
		if err != nil {
			return Result{}, err
		}
		reviewers[i] = tok
	}
	// Several МФЦ operators, each serving at most operatorServes people:
	// one operator's uploads for all of them would pass omsd's hourly
	// upload limit per account (OMS_RATE_LIMIT_UPLOADS, 100 by default).
	const operatorServes = 20
	operators := make([]string, o.Applications/7/operatorServes+1)
	for k := range operators {
		// Of this run, as the applicants are: a second run within the
		// hour must not find the first one's operators at their limit.
		subject := fmt.Sprintf("demo-mfc-operator-%s-%d", strings.ToLower(run), k+1)
		tok, err := o.Token("operator", subject)
		if err != nil {
			return Result{}, err
		}
		operators[k] = tok
	}
	today := time.Now().In(time.FixedZone("MSK", 3*3600))
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)

	start := time.Now()
	out := make([]Created, o.Applications)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= o.Applications || ctx.Err() != nil {
					return
				}
				mu.Lock()
				failed := firstErr != nil
				mu.Unlock()
				if failed {
					return
				}
				st := stories[i%len(stories)]
				r := rand.New(rand.NewPCG(o.Seed, uint64(i)))
				subject := fmt.Sprintf("demo-%s-%d", strings.ToLower(run), i)
				tok, err := o.Token("applicant", subject)
				if err == nil {
					a := &app{applicant: subject, tok: tok, reviewer: reviewers[i%len(reviewers)], r: r,
						form: form(r, i, run, today, st.soon)}
					// Every seventh application comes in through an МФЦ.
					if i%7 == 3 && st.name != "withdrawn" {
						a.operator = operators[i/7/operatorServes]
					}
					err = live(ctx, c, a, st)
					out[i] = Created{ApplicationID: a.id, Story: st.name, Status: st.status, Position: a.pos}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("demo: application %d (%s): %w", i+1, st.name, err)
					}
					mu.Unlock()
					return
				}
				if o.OnApplication != nil {
					// One call at a time, whichever worker finished.
					mu.Lock()
					o.OnApplication()
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	res := Result{ByStatus: map[string]int{}, Elapsed: time.Since(start)}
	for _, c := range out {
		if c.ApplicationID != "" {
			res.Applications = append(res.Applications, c)
			res.ByStatus[c.Status]++
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}

// live takes one application through its story.
func live(ctx context.Context, c *client, a *app, st story) error {
	owner := a.tok
	behalf := ""
	if a.operator != "" {
		owner, behalf = a.operator, a.applicant
		if err := openVisit(ctx, c, a); err != nil {
			return err
		}
	}
	docs := make([]schema.DocumentRef, 0, len(schema.DocumentKinds))
	for _, kind := range schema.DocumentKinds {
		id, err := c.upload(ctx, owner, behalf, kind, scan(a, kind))
		if err != nil {
			return err
		}
		docs = append(docs, schema.DocumentRef{Kind: kind, ID: id})
	}
	a.form.Documents = docs
	var res schema.CommandResult
	if err := c.post(ctx, owner, behalf, "/api/v1/applications", a.form, &res); err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	a.id, a.pos = res.ApplicationID, res.Position
	for _, s := range st.steps {
		if err := s(ctx, c, a); err != nil {
			return err
		}
	}
	return nil
}

// scan is a tiny PDF; its text makes every upload's bytes distinct.
func scan(a *app, kind string) []byte {
	return []byte(fmt.Sprintf("%%PDF-1.7\n%% demo scan: %s of %s (%d)\n%%%%EOF\n", kind, a.applicant, a.r.Uint32()))
}

func (a *app) act(ctx context.Context, c *client, tok, behalf, action string, body any) error {
	var res schema.CommandResult
	if err := c.post(ctx, tok, behalf, "/api/v1/applications/"+a.id+"/"+action, body, &res); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	a.pos = max(a.pos, res.Position)
	return nil
}

// openVisit lets the operator act for the applicant, as at an МФЦ: the
// applicant takes a code in the cabinet and the operator types it.
func openVisit(ctx context.Context, c *client, a *app) error {
	var code struct {
		Code string `json:"code"`
	}
	if err := c.post(ctx, a.tok, "", "/api/v1/visits/code", map[string]any{}, &code); err != nil {
		return fmt.Errorf("visit code: %w", err)
	}
	if err := c.post(ctx, a.operator, "", "/api/v1/visits", map[string]string{"applicantId": a.applicant, "code": code.Code}, nil); err != nil {
		return fmt.Errorf("open a visit: %w", err)
	}
	return nil
}

// owner is who acts for the applicant: the applicant, or the operator who
// brought the application in.
func (a *app) owner() (tok, behalf string) {
	if a.operator != "" {
		return a.operator, a.applicant
	}
	return a.tok, ""
}

func claim(ctx context.Context, c *client, a *app) error {
	return a.act(ctx, c, a.reviewer, "", "claim", nil)
}

var questions = []map[string]string{
	{"text": "Уточните номер квартиры: в заявлении и в договоре найма он различается.", "field": "/address/apartment"},
	{"text": "Скан вида на жительство нечитаем. Загрузите, пожалуйста, скан лучшего качества.", "documentKind": "residence_document"},
	{"text": "Укажите место рождения так, как оно записано в паспорте.", "field": "/applicant/birthPlace"},
}

func requestInfo(ctx context.Context, c *client, a *app) error {
	q := questions[a.r.IntN(len(questions))]
	return a.act(ctx, c, a.reviewer, "", "request-info", map[string]any{"questions": []any{q}})
}

func provideInfo(ctx context.Context, c *client, a *app) error {
	tok, behalf := a.owner()
	return a.act(ctx, c, tok, behalf, "provide-info", map[string]any{
		"answers": []schema.Answer{{QuestionID: "1.1", Text: "Уточнил(а): данные в заявлении верны, прилагаю пояснение."}},
	})
}

func approve(ctx context.Context, c *client, a *app) error {
	return a.act(ctx, c, a.reviewer, "", "approve", nil)
}

func issuePolicy(ctx context.Context, c *client, a *app) error {
	return a.act(ctx, c, a.reviewer, "", "issue-policy", nil)
}

var rejections = []map[string]string{
	{"reasonCode": schema.RejectInvalidDocuments, "reason": "Срок действия разрешения на временное проживание не подтверждён документом."},
	{"reasonCode": schema.RejectNotEligible, "reason": "Заявитель не относится к категориям, застрахованным по ОМС (326-ФЗ, ст. 10)."},
	{"reasonCode": schema.RejectOther, "reason": "Заявление подано повторно по ошибке; заявитель сообщил об этом по телефону."},
}

func reject(ctx context.Context, c *client, a *app) error {
	return a.act(ctx, c, a.reviewer, "", "reject", rejections[a.r.IntN(len(rejections))])
}

func withdraw(ctx context.Context, c *client, a *app) error {
	return a.act(ctx, c, a.tok, "", "withdraw", map[string]string{"reason": "Оформлю полис через работодателя."})
}

func changeAddress(ctx context.Context, c *client, a *app) error {
	tok, behalf := a.owner()
	return a.act(ctx, c, tok, behalf, "change-address", map[string]any{"address": newAddress(a.r, a.form.Address)})
}

// renew renews the term with a new residence permit, as someone whose
// document runs out does.
func renew(ctx context.Context, c *client, a *app) error {
	tok, behalf := a.owner()
	id, err := c.upload(ctx, tok, behalf, schema.DocumentResidence, scan(a, "new "+schema.DocumentResidence))
	if err != nil {
		return err
	}
	today := time.Now().UTC()
	doc := schema.ResidenceDocument{Type: schema.ResidenceVNZh, Series: fmt.Sprintf("%02d", 80+a.r.IntN(20)),
		Number: fmt.Sprintf("%07d", a.r.IntN(10_000_000)), IssuedAt: day(today.AddDate(0, 0, -2)), ExpiresAt: day(today.AddDate(5, 0, 0))}
	return a.act(ctx, c, tok, behalf, "renew", map[string]any{
		"residenceDocument": doc,
		"documents":         []schema.DocumentRef{{Kind: schema.DocumentResidence, ID: id}},
	})
}

// Refusal is omsd refusing a call of the demo, in the words of its problem
// document.
type Refusal struct {
	Method, Path string
	Status       int
	Code         string
	EN, RU       string
}

func (r *Refusal) Error() string {
	if r.Code == "" {
		return fmt.Sprintf("%s %s: %d %s", r.Method, r.Path, r.Status, r.EN)
	}
	return fmt.Sprintf("%s %s: %s (%d %s) / %s", r.Method, r.Path, r.EN, r.Status, r.Code, r.RU)
}

func refusalOf(req *http.Request, status int, body []byte) error {
	var p struct {
		Code   string `json:"code"`
		Detail struct{ RU, EN string }
	}
	r := &Refusal{Method: req.Method, Path: req.URL.Path, Status: status}
	if json.Unmarshal(body, &p) == nil && p.Code != "" {
		r.Code, r.EN, r.RU = p.Code, p.Detail.EN, p.Detail.RU
	} else {
		r.EN = string(bytes.TrimSpace(body)) // not a problem document: as it came
	}
	return r
}

// client is the few calls the demo makes.
type client struct {
	base string
	http *http.Client
}

func (c *client) do(req *http.Request, tok, behalf string, out any) error {
	req.Header.Set("Authorization", "Bearer "+tok)
	if behalf != "" {
		req.Header.Set("X-On-Behalf-Of", behalf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("is omsd running at %s? %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return refusalOf(req, resp.StatusCode, body)
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

func (c *client) post(ctx context.Context, tok, behalf, path string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.do(req, tok, behalf, out)
}

func (c *client) upload(ctx context.Context, tok, behalf, kind string, content []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("kind", kind)
	fw, err := mw.CreateFormFile("file", kind+".pdf")
	if err != nil {
		return "", err
	}
	_, _ = fw.Write(content)
	_ = mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/documents", &buf)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(req, tok, behalf, &out); err != nil {
		return "", fmt.Errorf("upload %s: %w", kind, err)
	}
	return out.ID, nil
}

// Statuses lists the statuses a run reaches, sorted.
func (r Result) Statuses() []string {
	var out []string
	for s := range r.ByStatus {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
