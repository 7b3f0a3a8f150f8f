// Package httpapi serves the query side over HTTP: read models only, with
// read-your-writes through ?after=<position>. The event store is read only
// by the auditor's time travel, and written only by the staff access log:
// every read of personal data by staff is appended there before the answer
// is sent (see AccessLog).
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/calendar"
	"github.com/omsonline/oms/projections/readstore"
)

// Waiter waits until a projection has caught up with a position.
type Waiter interface {
	WaitFor(ctx context.Context, projection string, pos uint64) error
}

// positioner is what a Waiter may also tell (projections/leader does): the
// position a projection has stored. A read whose ?after= it has reached
// then needs no look at the end of the event log.
type positioner interface {
	Position(ctx context.Context, projection string) (uint64, error)
}

// Deps are what the query handlers need.
type Deps struct {
	Store  readstore.Store
	Waiter Waiter
	// Events is read by the auditor's time travel and written by the
	// access log; without it every staff read is refused.
	Events *eventstore.Store
	// Calendar counts working days for the queue; Now is the clock.
	Calendar *calendar.Calendar
	Now      func() time.Time
	// MaxWait bounds a read-your-writes wait; the issue fixes it at 5 s.
	MaxWait time.Duration
	// Logger receives the access log's failures and those of reading the
	// event log's end for ?after=; nil means slog.Default().
	Logger *slog.Logger
	// RenewalWindowDays is how many days before a policy ends its renewal
	// opens (application.Config's; 30 when zero).
	RenewalWindowDays int
	// MayAct says whether a role may give an application a command (the
	// authorization matrix's answer); the cabinet lists an operator only
	// the actions it allows. Nil lists an operator none: a missing wiring
	// must not offer what would be refused.
	MayAct func(role, action string) bool
}

// Register mounts the query routes on r.
func Register(r fiber.Router, d Deps) {
	if d.MaxWait == 0 {
		d.MaxWait = 5 * time.Second
	}
	if d.Calendar == nil {
		d.Calendar = calendar.Default()
	}
	if d.RenewalWindowDays <= 0 {
		d.RenewalWindowDays = 30
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	h := &handlers{d: d, log: log, accessLog: NewAccessLog(d.Events, d.Logger, d.Now),
		after: ReadAfter{Waiter: d.Waiter, Events: d.Events, MaxWait: d.MaxWait, Logger: log}}
	r.Get("/api/v1/cabinet", only("after", "applicant"), h.cabinet)
	r.Get("/api/v1/reviewer/queue", only("after", "status", "region", "assignee", "overdue", "limit", "cursor"), h.queue)
	r.Get("/api/v1/applications/by-number/:number", only("after"), h.byNumber)
	// applicant: an МФЦ operator may name the applicant here as in the
	// header (the authorization middleware checks the two agree).
	r.Get("/api/v1/applications/:id", only("after", "applicant"), h.application)
	// revision and at are taken to be refused with a pointer to /state.
	r.Get("/api/v1/applications/:id/history", only("after", "limit", "cursor", "revision", "at"), h.history)
	r.Get("/api/v1/applications/:id/state", only("revision", "at"), h.state)
	r.Get("/api/v1/applications/:id/access", only("after", "limit", "cursor"), h.access)
	r.Get("/api/v1/applicants/:id/access", only("after", "limit", "cursor"), h.applicantAccess)
	r.Get("/api/v1/visits", only("after"), h.openVisits)
}

// Only refuses a query parameter the route does not take, and one given
// more than once (see onceEach): ignored, ?sort=-deadline or a mistyped
// ?asignee=me answered as if nothing had been asked.
func Only(params ...string) fiber.Handler { return only(params...) }

func only(params ...string) fiber.Handler {
	known := map[string]bool{}
	for _, p := range params {
		known[p] = true
	}
	list := strings.Join(params, ", ")
	return func(c *fiber.Ctx) error {
		var unknown string
		c.Request().URI().QueryArgs().VisitAll(func(k, _ []byte) {
			// "_" is a client's cache-buster (?_=1712345678), no question.
			if unknown == "" && !known[string(k)] && string(k) != "_" {
				unknown = string(k)
			}
		})
		if unknown != "" {
			return problem(c, cmderr.BadRequest, "unknown_parameter",
				fmt.Sprintf("Параметра %q здесь нет. Этот запрос принимает: %s.", unknown, list),
				fmt.Sprintf("There is no parameter %q here. This request takes: %s.", unknown, list))
		}
		return onceEach(c)
	}
}

// listParams may be given more than once, each time adding values to the
// list (?status=a&status=b is ?status=a,b).
var listParams = map[string]bool{"status": true}

// onceEach refuses a query parameter given more than once (other than a
// list): Fiber reads the first and would drop the rest without a word, so
// ?region=77&region=50 would answer for Moscow alone.
func onceEach(c *fiber.Ctx) error {
	if c.Request().URI().QueryArgs().Len() < 2 {
		return c.Next()
	}
	var repeated string
	seen := map[string]bool{}
	c.Request().URI().QueryArgs().VisitAll(func(k, _ []byte) {
		name := string(k)
		if seen[name] && !listParams[name] && repeated == "" {
			repeated = name
		}
		seen[name] = true
	})
	if repeated != "" {
		return problem(c, cmderr.BadRequest, "repeated_parameter",
			fmt.Sprintf("Параметр %s указан несколько раз; укажите его один раз.", repeated),
			fmt.Sprintf("The parameter %s is given more than once; give it once.", repeated))
	}
	return c.Next()
}

type handlers struct {
	d         Deps
	log       *slog.Logger
	accessLog *AccessLog
	after     ReadAfter
}

func problem(c *fiber.Ctx, kind cmderr.Kind, code, ru, en string) error {
	return Refuse(c, kind, code, ru, en)
}

func (h *handlers) waitAfter(c *fiber.Ctx, projection string) error {
	return h.after.Wait(c, projection)
}

// ReadAfter honours ?after=<position> for a read served from one
// projection. When the projection does not get there in time the answer
// is 503 with Retry-After, not stale data presented as fresh. A position
// past the end of the event log is a 400 without the full wait: no command
// returned it, so no wait or retry would reach it. Every read model's
// route uses it, the policy extract's too (QA: that one waited 5 s and
// answered 503 for a position past the end).
type ReadAfter struct {
	Waiter Waiter
	// Events tells where the log ends; without it a position past the end
	// waits the whole MaxWait.
	Events *eventstore.Store
	// MaxWait bounds the wait; zero means 5 s, the bound.
	MaxWait time.Duration
	Logger  *slog.Logger
}

// Wait waits for ?after=, if given. A refusal is written to c, and the
// answer's status is then 400 or more (err is nil unless writing failed).
func (r ReadAfter) Wait(c *fiber.Ctx, projection string) error {
	raw := c.Query("after")
	if raw == "" {
		return nil
	}
	pos, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return problem(c, cmderr.BadRequest, "bad_after",
			"Параметр after должен быть неотрицательным целым числом (позиция, которую вернула команда).",
			"The after parameter must be a non-negative integer (the position a command returned).")
	}
	if r.Waiter == nil {
		return nil
	}
	maxWait := r.MaxWait
	if maxWait <= 0 {
		maxWait = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), maxWait)
	defer cancel()
	// Where the log ends is asked only of a read still waiting after
	// headCheckAfter: nearly every read-your-writes query is answered
	// sooner, and asking each of them (a read of $all through the v4
	// client) took read-your-writes at 500 commands/s from p50 12 ms to
	// 76-95 ms.
	first, cancelFirst := context.WithTimeout(ctx, min(headCheckAfter, maxWait/2))
	err = r.Waiter.WaitFor(first, projection, pos)
	cancelFirst()
	if err != nil && ctx.Err() == nil {
		if r.pastTheEnd(ctx, projection, pos) {
			return problem(c, cmderr.BadRequest, "after_past_end",
				fmt.Sprintf("Позиции after=%d в журнале событий ещё нет: она дальше его конца. Передайте позицию, которую вернула команда.", pos),
				fmt.Sprintf("Position after=%d is past the end of the event log. Pass the position a command returned.", pos))
		}
		err = r.Waiter.WaitFor(ctx, projection, pos)
	}
	if err != nil {
		return Unavailable(c, "not_caught_up", 1,
			"Данные ещё обновляются. Повторите запрос через секунду.",
			"The data is still being updated. Retry in a second.")
	}
	return nil
}

// headCheckAfter is how long a read waits for its projection before it asks
// whether its position is in the event log at all (read-your-writes p99 is
// 30-110 ms on the development machine).
const headCheckAfter = 100 * time.Millisecond

// pastTheEnd reports whether pos is beyond the last event in the event
// store. A command's position is in the store before the command answers,
// so a client's legitimate ?after= never is. When the end cannot be read,
// the position is given the benefit of the doubt (the wait then answers
// 503).
func (r ReadAfter) pastTheEnd(ctx context.Context, projection string, pos uint64) bool {
	if r.Events == nil {
		return false
	}
	if p, ok := r.Waiter.(positioner); ok {
		if at, err := p.Position(ctx, projection); err == nil && at >= pos {
			return false
		}
	}
	// HeadTime, not Head: its ok is false when no ordinary event is found
	// among the last ones read (only system events, or none), and an end
	// that is not known must not turn a legitimate position into a 400.
	head, _, ok, err := r.Events.HeadTime(ctx)
	if err != nil {
		if r.Logger != nil {
			r.Logger.WarnContext(ctx, "read-your-writes: the end of the event log could not be read", "err", err)
		}
		return false
	}
	return ok && pos > head
}

func (h *handlers) cabinet(c *fiber.Ctx) error {
	md, ok := events.MetadataFrom(c.UserContext())
	if !ok {
		return problem(c, cmderr.Unauthenticated, "unauthenticated", "Требуется вход в систему.", "Sign-in required.")
	}
	applicant := md.Actor.ID
	switch md.Actor.Role {
	case events.RoleApplicant:
		if q := c.Query("applicant"); q != "" && q != applicant {
			return problem(c, cmderr.Forbidden, "not_owner", "Можно смотреть только свой кабинет.", "You can only view your own cabinet.")
		}
	case events.RoleOperator:
		// Named in X-On-Behalf-Of or ?applicant= (the authorization
		// middleware checks that both, if given, agree).
		applicant = md.OnBehalfOf
		if applicant == "" {
			applicant = c.Query("applicant")
		}
		if applicant == "" {
			return problem(c, cmderr.BadRequest, "no_applicant",
				"Оператор МФЦ указывает заявителя: ?applicant=<id>.", "An MFC operator names the applicant: ?applicant=<id>.")
		}
	default:
		return problem(c, cmderr.Forbidden, "wrong_role", "Кабинет доступен заявителю и оператору МФЦ.", "The cabinet is for applicants and MFC operators.")
	}
	if err := h.waitAfter(c, "cabinet"); err != nil || c.Response().StatusCode() >= 400 {
		return err
	}
	doc, err := h.d.Store.Get(c.UserContext(), cabinet.Collection, applicant)
	if errors.Is(err, readstore.ErrNotFound) {
		// Nobody's data: nothing to record.
		return sendJSON(c, cabinet.Doc{ApplicantID: applicant}, normalizeCabinet)
	}
	if err != nil {
		return err
	}
	if Logged(md) {
		var apps struct {
			Applications []struct {
				ApplicationID string `json:"applicationId"`
			} `json:"applications"`
		}
		if err := json.Unmarshal(doc.Body, &apps); err != nil {
			return err
		}
		ids := make([]string, len(apps.Applications))
		for i, a := range apps.Applications {
			ids[i] = a.ApplicationID
		}
		if ok, err := h.audit(c, md, schema.AccessCabinet, applicant, ids...); !ok {
			return err
		}
	}
	var keep func(action string) bool
	if md.Actor.Role != events.RoleApplicant {
		keep = func(action string) bool { return h.d.MayAct != nil && h.d.MayAct(md.Actor.Role, action) }
	}
	body, err := forReader(doc.Body, keep, renewOpen(h.d.Now(), h.d.RenewalWindowDays))
	if err != nil {
		return err
	}
	return sendRaw(c, body, normalizeCabinet)
}

// renewOpen says whether the renewal window of a policy is open on now's
// date in Moscow: the cabinet offers "renew" from the reminder on, which
// the scheduler records when the window opens, and a scheduler that is
// late (or down) must not hide from API clients what the command takes
// and the pages offer by date.
func renewOpen(now time.Time, window int) func(p *appview.Policy) bool {
	y, m, d := now.In(moscow).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, moscow)
	return func(p *appview.Policy) bool {
		validTo, err := time.ParseInLocation(time.DateOnly, p.ValidTo, moscow)
		return err == nil && !today.Before(validTo.AddDate(0, 0, -window))
	}
}

// hasStaffID reports whether a stored cabinet names a member of staff: a
// reviewer who asked or decided, an administrator who erased. It runs on
// every cabinet read, so it scans bytes rather than run a regexp.
func hasStaffID(body []byte) bool {
	for _, member := range [][]byte{[]byte(`"by":"`), []byte(`"askedBy":"`)} {
		for rest := body; ; {
			i := bytes.Index(rest, member)
			if i < 0 {
				break
			}
			rest = rest[i+len(member):]
			if len(rest) > 0 && rest[0] != '"' {
				return true
			}
		}
	}
	return false
}

// forReader fits a stored cabinet to its reader. It lists only the actions
// keep allows (nil: all of them; an МФЦ operator may not withdraw an
// application for the applicant, for one). And it serves a cabinet stored
// before the projection left the staff's ids out (see cabinet.ForOwner)
// as one stored since: its readers are the applicant and МФЦ operators,
// and a rebuild should not be what stands between them and the insurer's
// internal ids.
func forReader(body []byte, keep func(action string) bool, renewOpen func(*appview.Policy) bool) ([]byte, error) {
	// Only an active policy can lack a renewal that its window allows.
	active := bytes.Contains(body, []byte(`"status":"`+appview.StatusPolicyActive+`"`))
	if keep == nil && !active && !hasStaffID(body) {
		return body, nil
	}
	var doc cabinet.Doc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("httpapi: cabinet: %w", err)
	}
	doc = cabinet.ForOwner(doc)
	for i := range doc.Applications {
		a := &doc.Applications[i]
		if a.Status == appview.StatusPolicyActive && a.Policy != nil && a.Erased == nil && !a.Consent.Withdrawn() &&
			!slices.Contains(a.Actions, "renew") && renewOpen(a.Policy) {
			a.Actions = append(slices.Clone(a.Actions), "renew")
		}
	}
	if keep != nil {
		for i := range doc.Applications {
			a := &doc.Applications[i]
			a.Actions = slices.DeleteFunc(slices.Clone(a.Actions), func(action string) bool { return !keep(action) })
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("httpapi: cabinet: %w", err)
	}
	return out, nil
}
