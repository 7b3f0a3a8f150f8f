package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/queue"
	"github.com/omsonline/oms/projections/readstore"
)

// caller is who makes the request. Without one the 401 is written and ok
// is false: the handler returns err and nothing else, because a problem
// written here is not an error that would stop it.
func caller(c *fiber.Ctx) (md events.Metadata, ok bool, err error) {
	md, ok = events.MetadataFrom(c.UserContext())
	if !ok {
		return md, false, problem(c, cmderr.Unauthenticated, "unauthenticated", "Требуется вход в систему.", "Sign-in required.")
	}
	return md, true, nil
}

func isStaff(role string) bool {
	return role == events.RoleReviewer || role == events.RoleAuditor || role == events.RoleAdmin
}

func (h *handlers) loadView(c *fiber.Ctx, id string) (appview.View, bool, error) {
	doc, err := h.d.Store.Get(c.UserContext(), history.Applications, id)
	if errors.Is(err, readstore.ErrNotFound) {
		return appview.View{}, false, nil
	}
	if err != nil {
		return appview.View{}, false, err
	}
	var v appview.View
	if err := json.Unmarshal(doc.Body, &v); err != nil {
		return appview.View{}, false, err
	}
	return v, true, nil
}

// appID is the route's application id in the canonical spelling the
// read models key by. The command side takes any spelling uuid.Parse does
// (upper case, braces, urn:uuid:), so a client may hold one; answering it
// here too keeps the two sides from disagreeing on whether the
// application exists. Anything else is no application.
func appID(c *fiber.Ctx) (string, bool) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return "", false
	}
	return id.String(), true
}

func notFound(c *fiber.Ctx) error {
	return problem(c, cmderr.NotFound, "application_not_found", "Заявление не найдено.", "Application not found.")
}

// application serves GET /api/v1/applications/:id. Applicants and operators
// get the owner's view of their own applications; staff get everything.
// Someone else's application answers 404, not 403, so ids cannot be probed.
func (h *handlers) application(c *fiber.Ctx) error {
	md, ok, err := caller(c)
	if !ok {
		return err
	}
	if err := h.waitAfter(c, "history"); err != nil || c.Response().StatusCode() >= 400 {
		return err
	}
	id, ok := appID(c)
	if !ok {
		return notFound(c)
	}
	v, ok, err := h.loadView(c, id)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		return notFound(c)
	case isStaff(md.Actor.Role):
		// The deadline is the queue's: a read after a command waits for
		// that projection too, or a claim's clock would show as running.
		if err := h.waitAfter(c, "queue"); err != nil || c.Response().StatusCode() >= 400 {
			return err
		}
		if ok, err := h.audit(c, md, schema.AccessApplication, v.ApplicantID, v.ApplicationID); !ok {
			return err
		}
		sv := StaffView{View: v}
		if sv.Deadline, err = h.deadline(c, v.ApplicationID); err != nil {
			return err
		}
		return sendJSON(c, sv, dropZeroTimes)
	case md.Actor.Role == events.RoleApplicant && v.ApplicantID == md.Actor.ID,
		md.Actor.Role == events.RoleOperator && md.OnBehalfOf != "" && v.ApplicantID == md.OnBehalfOf:
		// The applicant's own read passes unrecorded; an operator's is
		// recorded like any staff read.
		if ok, err := h.audit(c, md, schema.AccessApplication, v.ApplicantID, v.ApplicationID); !ok {
			return err
		}
		return sendJSON(c, appview.ForOwner(v), dropZeroTimes)
	default:
		return notFound(c)
	}
}

// StaffView is an application as staff read it: the view and, while it is
// in the reviewer queue, where it stands against its review deadline.
type StaffView struct {
	appview.View
	Deadline *Deadline `json:"deadline,omitempty"`
}

// Deadline is an open application's review deadline as the queue counts
// it: the clock stops while the application waits on its applicant.
type Deadline struct {
	// Date is the last day of the review (Moscow time), YYYY-MM-DD; while
	// the application waits on its applicant, the last day if the answer
	// came today (it moves with each working day of waiting).
	Date                 string `json:"date"`
	WorkingDaysRemaining int    `json:"workingDaysRemaining"`
	Overdue              bool   `json:"overdue"`
	WaitingOnApplicant   bool   `json:"waitingOnApplicant"`
	// Decided: approved, so the review term is over; WorkingDaysRemaining
	// is what approval left of it (negative: approved that late).
	Decided bool `json:"decided,omitempty"`
	// Provisional: the date falls in, or was counted through, a year the
	// calendar has no decree for yet (see calendar.Calendar).
	Provisional bool `json:"provisional,omitempty"`
}

// deadline reads the application's queue row; nil when it is not queued
// (decided, closed) or the queue has not seen it yet.
func (h *handlers) deadline(c *fiber.Ctx, id string) (*Deadline, error) {
	doc, err := h.d.Store.Get(c.UserContext(), queue.Collection, id)
	if errors.Is(err, readstore.ErrNotFound) || errors.Is(err, readstore.ErrNoCollection) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var it queue.Item
	if err := json.Unmarshal(doc.Body, &it); err != nil {
		return nil, err
	}
	now := h.d.Now()
	date, prov := queue.DeadlineAt(h.d.Calendar, it, now)
	return &Deadline{Date: date, WorkingDaysRemaining: queue.Remaining(h.d.Calendar, it, now),
		Overdue: queue.Overdue(it, now), WaitingOnApplicant: it.Waiting, Decided: it.Decided(), Provisional: prov}, nil
}

// queueCursor is the opaque page cursor of the reviewer queue.
type queueCursor struct {
	Deadline time.Time `json:"d"`
	ID       string    `json:"i"`
	// Filters is filterKey of the query the cursor continues: a cursor
	// reused under other filters continued from a place in another list,
	// and silently skipped rows (queue QA). Cursors handed out before it
	// have none and are taken as they were.
	Filters string `json:"f,omitempty"`
	// Seen is the queue projection's position when the previous page was
	// read: what changed after it behind the cursor is the next page's
	// Earlier. Zero: none looked for.
	Seen uint64 `json:"p,omitempty"`
	// EarlierAfter, when set, is the place of the last row Earlier showed
	// of a list too long for one page: the next page goes on from it, at
	// the same Seen, instead of dropping the rest (review: cut at 1000).
	EarlierDeadline time.Time `json:"ed,omitzero"`
	EarlierID       string    `json:"ei,omitempty"`
}

func encodeCursor(c queueCursor) string {
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// errEmptyCursor is a cursor that decodes but names no row: every cursor
// this service hands out has both a deadline and an id.
var errEmptyCursor = errors.New("httpapi: cursor: no deadline or no id")

// decodeCursor reads a cursor a client sent back. It is opaque to clients
// but not trusted: anything may arrive. One without a deadline or an id
// ({} or null) is refused rather than read as "from the start", which
// would silently serve page 1 again.
func decodeCursor(s string) (queueCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return queueCursor{}, fmt.Errorf("httpapi: cursor: %w", err)
	}
	var qc queueCursor
	if err := json.Unmarshal(raw, &qc); err != nil {
		return queueCursor{}, fmt.Errorf("httpapi: cursor: %w", err)
	}
	if qc.Deadline.IsZero() || qc.ID == "" {
		return queueCursor{}, errEmptyCursor
	}
	return qc, nil
}

func (qc queueCursor) place() readstore.QueueCursor {
	return readstore.QueueCursor{Deadline: qc.Deadline, ID: qc.ID}
}

// filterKey names what a queue query selects, whatever order or spelling
// its parameters came in: statuses sorted, "me" as the caller it stands
// for. Hashed, so that a cursor stays short and names no reviewer.
func filterKey(q readstore.QueueQuery) string {
	st := slices.Clone(q.Status)
	slices.Sort(st)
	st = slices.Compact(st)
	assignee, overdue := "*", "*"
	if q.Assignee != nil {
		assignee = "=" + *q.Assignee
	}
	if q.Overdue != nil {
		overdue = strconv.FormatBool(*q.Overdue)
	}
	h := fnv.New64a()
	for _, part := range []string{strings.Join(st, ","), q.Region, assignee, overdue} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// QueueStatuses are the statuses an application can have while it is in
// the queue (appview.Open): the queue projection deletes the row of any
// other, so filtering by one could only ever answer an empty page.
var QueueStatuses = []string{appview.StatusSubmitted, appview.StatusInReview, appview.StatusInfoRequested, appview.StatusApproved}

// knownRegion is the command side's rule for an address's region
// (command/application.KnownRegion): a filter by any other code could only
// answer an empty page.
var knownRegion = application.KnownRegion

// QueueRow is one row of the reviewer queue as served.
type QueueRow struct {
	queue.Item
	WorkingDaysRemaining int  `json:"workingDaysRemaining"`
	Overdue              bool `json:"overdue"`
	Decided              bool `json:"decided,omitempty"` // as in Deadline
}

// QueuePage is a page of the reviewer queue.
type QueuePage struct {
	Items []QueueRow `json:"items"`
	// Earlier, on a page after the first, are the applications that came
	// to a place before this page's since the previous page was read, or
	// changed there: an applicant's answer takes an application from the
	// waiting tail back to its deadline, which a pass had gone past, and
	// the cursor alone never showed it again (queue QA). By deadline.
	Earlier    []QueueRow `json:"earlier,omitempty"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

func (h *handlers) queue(c *fiber.Ctx) error {
	md, ok, err := caller(c)
	if !ok {
		return err
	}
	if !isStaff(md.Actor.Role) {
		return problem(c, cmderr.Forbidden, "wrong_role", "Очередь доступна сотрудникам страховой организации.", "The queue is for the insurer's staff.")
	}
	if err := h.waitAfter(c, "queue"); err != nil || c.Response().StatusCode() >= 400 {
		return err
	}
	now := h.d.Now()
	q := readstore.QueueQuery{Collection: queue.Collection, Region: c.Query("region"), Now: now, Limit: 50}
	// A filter no row can match is refused: an empty page would read as
	// "nothing to do" when the reviewer only mistyped it.
	var statuses []string
	for _, s := range c.Request().URI().QueryArgs().PeekMulti("status") {
		if len(s) > 0 {
			statuses = append(statuses, string(s))
		}
	}
	if s := strings.Join(statuses, ","); s != "" {
		q.Status = strings.Split(s, ",")
		for _, st := range q.Status {
			if !slices.Contains(QueueStatuses, st) {
				valid := strings.Join(QueueStatuses, ", ")
				return problem(c, cmderr.BadRequest, "bad_status",
					fmt.Sprintf("status: в очереди нет статуса %q. Допустимые статусы (через запятую): %s.", st, valid),
					fmt.Sprintf("status: the queue has no status %q. Valid statuses (comma-separated): %s.", st, valid))
			}
		}
	}
	if q.Region != "" && !knownRegion(q.Region) {
		return problem(c, cmderr.BadRequest, "bad_region",
			fmt.Sprintf("region: %q не код субъекта РФ. Укажите двузначный код субъекта, например 77 для Москвы или 50 для Московской области.", q.Region),
			fmt.Sprintf("region: %q is not the code of a region of Russia. Give a region's two-digit code, e.g. 77 for Moscow or 50 for the Moscow oblast.", q.Region))
	}
	// Empty is anyone's, as an empty status is every status: it silently
	// meant "unassigned", which is "none".
	if a := c.Query("assignee"); a != "" {
		switch a {
		case "me":
			a = md.Actor.ID
		case "none":
			a = ""
		}
		q.Assignee = &a
	}
	if o := c.Query("overdue"); o != "" {
		// Only the two words the message names: Go's ParseBool also took
		// 1, t and TRUE, which the documentation never said (queue QA).
		if o != "true" && o != "false" {
			return problem(c, cmderr.BadRequest, "bad_overdue", "overdue: true или false.", "overdue: true or false.")
		}
		b := o == "true"
		q.Overdue = &b
	}
	if q.Limit, ok, err = pageLimit(c, q.Limit, 200); !ok {
		return err
	}
	filters := filterKey(q)
	var cursor *queueCursor
	if cur := c.Query("cursor"); cur != "" {
		qc, err := decodeCursor(cur)
		if err != nil {
			return problem(c, cmderr.BadRequest, "bad_cursor", "Неверный курсор страницы.", "Invalid page cursor.")
		}
		if qc.Filters != "" && qc.Filters != filters {
			return problem(c, cmderr.BadRequest, "cursor_filters",
				"Курсор страницы получен с другими фильтрами (status, region, assignee, overdue): с ним часть заявлений была бы пропущена. Откройте очередь с первой страницы с нужными фильтрами или передайте курсор с теми же фильтрами.",
				"The page cursor came with other filters (status, region, assignee, overdue): with it some applications would be skipped. Open the queue from its first page with the filters you want, or send the cursor with the same filters.")
		}
		place := qc.place()
		q.After, cursor = &place, &qc
	}
	// Taken before the reads, so that whatever they do not show yet
	// changed after it, and the next page's Earlier finds it (at worst a
	// row shows twice). A flushed checkpoint: every document at or before
	// it is in the store.
	seen, err := h.queueSeen(c.UserContext())
	if err != nil {
		return err
	}
	page, err := h.d.Store.Queue(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := QueuePage{Items: []QueueRow{}}
	if out.Items, err = h.queueRows(page.Docs, now, out.Items); err != nil {
		return err
	}
	var more *readstore.QueueCursor // Earlier goes on past this page
	if cursor != nil && cursor.Seen > 0 {
		behind := q
		behind.After, behind.Through, behind.ChangedAfter, behind.Limit = nil, q.After, cursor.Seen, readstore.MaxLimit
		if cursor.EarlierID != "" {
			behind.After = &readstore.QueueCursor{Deadline: cursor.EarlierDeadline, ID: cursor.EarlierID}
		}
		moved, err := h.d.Store.Queue(c.UserContext(), behind)
		if err != nil {
			return err
		}
		if out.Earlier, err = h.queueRows(moved.Docs, now, nil); err != nil {
			return err
		}
		more = moved.Next
	}
	if page.Next != nil || more != nil {
		// Seen is this read's, taken before it: a position lower than the
		// last page's can only show a row twice, a higher one could skip
		// one (review: it took the higher of the two).
		next := queueCursor{Filters: filters, Seen: seen}
		switch {
		case page.Next != nil:
			next.Deadline, next.ID = page.Next.Deadline, page.Next.ID
		case len(page.Docs) > 0:
			last := page.Docs[len(page.Docs)-1]
			next.Deadline, next.ID = last.Queue.Deadline, last.ID
		default:
			next.Deadline, next.ID = q.After.Deadline, q.After.ID
		}
		if seen == 0 && cursor != nil {
			next.Seen = cursor.Seen // this node cannot tell; keep the last
		}
		if more != nil {
			// The rest of Earlier first, at the Seen it was listed against.
			next.Seen, next.EarlierDeadline, next.EarlierID = cursor.Seen, more.Deadline, more.ID
		}
		out.NextCursor = encodeCursor(next)
	}
	// Queue rows carry names and birth dates: the page is one read of every
	// application on it, recorded as one event.
	if len(out.Items)+len(out.Earlier) > 0 {
		ids := make([]string, 0, len(out.Items)+len(out.Earlier))
		for _, it := range append(slices.Clip(out.Earlier), out.Items...) {
			ids = append(ids, it.ApplicationID)
		}
		if ok, err := h.audit(c, md, schema.AccessQueue, "", ids...); !ok {
			return err
		}
	}
	return c.JSON(out)
}

// queueRows decodes queue documents into rows as of now.
func (h *handlers) queueRows(docs []readstore.Doc, now time.Time, out []QueueRow) ([]QueueRow, error) {
	for _, d := range docs {
		var it queue.Item
		if err := json.Unmarshal(d.Body, &it); err != nil {
			return nil, err
		}
		it = queue.AsOf(h.d.Calendar, it, now)
		out = append(out, QueueRow{Item: it, WorkingDaysRemaining: queue.Remaining(h.d.Calendar, it, now), Overdue: queue.Overdue(it, now), Decided: it.Decided()})
	}
	return out, nil
}

// queueSeen is the queue projection's flushed position, 0 when the
// waiter cannot tell (then no page looks for what moved behind it).
func (h *handlers) queueSeen(ctx context.Context) (uint64, error) {
	p, ok := h.d.Waiter.(positioner)
	if !ok {
		return 0, nil
	}
	pos, err := p.Position(ctx, "queue")
	if err != nil {
		return 0, fmt.Errorf("httpapi: the queue's position: %w", err)
	}
	return pos, nil
}

func (h *handlers) history(c *fiber.Ctx) error {
	md, ok, err := caller(c)
	if !ok {
		return err
	}
	if !isStaff(md.Actor.Role) {
		return problem(c, cmderr.Forbidden, "wrong_role", "История доступна аудиторам и специалистам.", "The history is for auditors and reviewers.")
	}
	if c.Query("revision") != "" || c.Query("at") != "" {
		// Not ignored: an auditor asking the timeline for a past moment
		// would otherwise read today's timeline as that moment's.
		return problem(c, cmderr.BadRequest, "use_state",
			"История всегда полная; состояние на ревизию или момент времени — GET /api/v1/applications/{id}/state?revision=N или ?at=<RFC 3339>.",
			"The history is always complete; for the state at a revision or a time use GET /api/v1/applications/{id}/state?revision=N or ?at=<RFC 3339>.")
	}
	limit, ok, err := pageLimit(c, maxHistoryLimit, maxHistoryLimit)
	if !ok {
		return err
	}
	id, ok := appID(c)
	if !ok {
		return notFound(c)
	}
	q := readstore.ListQuery{Collection: history.Entries, Prefix: id + "/", Limit: limit}
	first := true
	if cur := c.Query("cursor"); cur != "" {
		rev, err := strconv.ParseUint(cur, 10, 64)
		if err != nil {
			return problem(c, cmderr.BadRequest, "bad_cursor", "Неверный курсор страницы.", "Invalid page cursor.")
		}
		q.AfterID, first = history.EntryID(id, rev), false
	}
	if err := h.waitAfter(c, "history"); err != nil || c.Response().StatusCode() >= 400 {
		return err
	}
	docs, err := h.d.Store.List(c.UserContext(), q)
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		// Past the last page of an application that exists, an empty
		// page; of one that does not, the same 404 as the first page.
		// Either way there is nothing to record as read.
		if !first {
			if _, err := h.d.Store.Get(c.UserContext(), history.Entries, history.EntryID(id, 0)); err == nil {
				return c.JSON(fiber.Map{"applicationId": id, "entries": []json.RawMessage{}})
			} else if !errors.Is(err, readstore.ErrNotFound) {
				return err
			}
		}
		return notFound(c)
	}
	entries := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		// Entry by entry: only the few with a zero time or a null (the
		// first, those adding questions) are decoded again.
		if entries[i], err = clean(d.Body, normalizeEntry); err != nil {
			return fmt.Errorf("httpapi: history entry %s: %w", d.ID, err)
		}
	}
	if ok, err := h.audit(c, md, schema.AccessHistory, "", id); !ok {
		return err
	}
	page := fiber.Map{"applicationId": id, "entries": entries}
	if len(docs) == limit {
		// The last entry's revision; a page past the end is empty.
		last := docs[len(docs)-1].ID
		n, err := strconv.ParseUint(last[strings.LastIndexByte(last, '/')+1:], 10, 64)
		if err != nil {
			return fmt.Errorf("httpapi: history entry id %q: %w", last, err)
		}
		page["nextCursor"] = strconv.FormatUint(n, 10)
	}
	return c.JSON(page)
}

// maxHistoryLimit is the history's page size, and its default: the whole
// timeline of all but the longest-lived applications in one answer.
const maxHistoryLimit = readstore.MaxLimit

// Step is one event of a time-travel replay.
type Step struct {
	Revision   uint64           `json:"revision"`
	Position   uint64           `json:"position"`
	Type       string           `json:"type"`
	OccurredAt time.Time        `json:"occurredAt"`
	Actor      events.Actor     `json:"actor"`
	OnBehalfOf string           `json:"onBehalfOf,omitempty"`
	Diff       []appview.Change `json:"diff"`
}

// State is the answer of the time-travel endpoint.
type State struct {
	ApplicationID string       `json:"applicationId"`
	Revision      uint64       `json:"revision"`
	LastRevision  uint64       `json:"lastRevision"`
	State         appview.View `json:"state"`
	Steps         []Step       `json:"steps"`
}

// state folds the application's stream from the event store itself up to
// ?revision=N or ?at=<RFC3339>: the one read that bypasses the read models,
// so an auditor sees exactly what was recorded.
func (h *handlers) state(c *fiber.Ctx) error {
	md, ok, err := caller(c)
	if !ok {
		return err
	}
	if md.Actor.Role != events.RoleAuditor && md.Actor.Role != events.RoleAdmin {
		return problem(c, cmderr.Forbidden, "wrong_role", "Просмотр состояния на момент времени доступен аудиторам.", "Time travel is for auditors.")
	}
	rawRev, rawAt := c.Query("revision"), c.Query("at")
	if rawRev != "" && rawAt != "" {
		// Folding up to whichever comes first would silently ignore one
		// of them; the auditor asks one question at a time.
		return problem(c, cmderr.BadRequest, "revision_and_at",
			"Укажите либо revision, либо at, но не оба параметра сразу.",
			"Give either revision or at, not both.")
	}
	upTo := ^uint64(0)
	var at time.Time
	if rawRev != "" {
		n, err := strconv.ParseUint(rawRev, 10, 64)
		if err != nil {
			return problem(c, cmderr.BadRequest, "bad_revision", "revision: неотрицательное целое.", "revision: a non-negative integer.")
		}
		upTo = n
	}
	if rawAt != "" {
		t, err := time.Parse(time.RFC3339Nano, rawAt)
		if err != nil && strings.Contains(rawAt, " ") {
			// A "+03:00" offset sent unescaped: the query string made its
			// "+" a space.
			return problem(c, cmderr.BadRequest, "bad_at",
				"at: в адресе «+» означает пробел — запишите смещение как %2B03:00 или укажите время в UTC с «Z», например 2026-01-31T12:00:00Z.",
				"at: in a URL a \"+\" reads as a space: write the offset as %2B03:00, or give the time in UTC with \"Z\", e.g. 2026-01-31T12:00:00Z.")
		}
		if err != nil {
			return problem(c, cmderr.BadRequest, "bad_at", "at: время в формате RFC 3339, например 2026-01-31T12:00:00Z.", "at: an RFC 3339 time, e.g. 2026-01-31T12:00:00Z.")
		}
		at = t
		if !strings.Contains(rawAt, ".") {
			// Pages and refusals show times to the second, and people copy
			// them as shown: a moment without a fraction is that whole
			// second, so the state at an event's shown time includes it.
			at = t.Add(time.Second - time.Nanosecond)
		}
	}
	id, ok := appID(c)
	if !ok {
		return notFound(c)
	}
	evs, err := h.d.Events.Load(c.UserContext(), "application-"+id)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return notFound(c)
	}
	// Only states that were recorded are answered: folding nothing would
	// show an empty application as if it were revision 0, and folding
	// everything for a revision past the last would show the last one
	// under another number.
	first, last := evs[0], evs[len(evs)-1]
	if rawRev != "" && upTo > last.Revision {
		return problem(c, cmderr.NotFound, "no_such_revision",
			fmt.Sprintf("Ревизии %d нет: у заявления есть ревизии от %d до %d.", upTo, first.Revision, last.Revision),
			fmt.Sprintf("Revision %d does not exist: the application has revisions %d to %d.", upTo, first.Revision, last.Revision))
	}
	if rawAt != "" && first.Envelope.OccurredAt.After(at) {
		// For a person in Moscow time, as every page shows times; exact, for
		// the next request's ?at=.
		// Each language writes the date its own way, as the pages do
		// (web QA: the English read "29.11.2026").
		firstAt := first.Envelope.OccurredAt.In(moscow)
		exact := firstAt.UTC().Format(time.RFC3339Nano)
		return problem(c, cmderr.NotFound, "before_first_event",
			fmt.Sprintf("Заявления на этот момент ещё не существовало: его первое событие записано %s МСК (%s).", firstAt.Format("02.01.2006 15:04:05"), exact),
			fmt.Sprintf("The application did not exist yet at that time: its first event was recorded at %s Moscow time (%s).", firstAt.Format("2 Jan 2006 15:04:05"), exact))
	}
	out, err := Replay(id, evs, upTo, at)
	if err != nil {
		return err
	}
	if ok, err := h.audit(c, md, schema.AccessState, out.State.ApplicantID, id); !ok {
		return err
	}
	return sendJSON(c, wireState(out), dropZeroTimes)
}

// Replay folds recorded events up to a revision and/or a time.
func Replay(id string, evs []eventstore.Recorded, upTo uint64, at time.Time) (State, error) {
	out := State{ApplicationID: id, LastRevision: evs[len(evs)-1].Revision, Steps: []Step{}}
	// Two views for the whole replay, passed to Diff as pointers: boxing
	// a 750-byte view into Diff's interfaces twice per step cost an
	// allocation and a copy each. Sharing slices between them is safe
	// because Apply copies on write.
	v, before := new(appview.View), new(appview.View)
	for _, ev := range evs {
		if ev.Revision > upTo || (!at.IsZero() && ev.Envelope.OccurredAt.After(at)) {
			break
		}
		*before = *v
		if err := appview.Apply(v, ev); err != nil {
			return State{}, err
		}
		var diff []appview.Change
		var err error
		if len(out.Steps) == 0 {
			diff = appview.Created(v) // the stream's first event
		} else if diff, err = appview.Diff(before, v); err != nil {
			return State{}, err
		}
		if diff == nil {
			diff = []appview.Change{}
		}
		out.Steps = append(out.Steps, Step{Revision: ev.Revision, Position: ev.Position, Type: ev.Envelope.Type,
			OccurredAt: ev.Envelope.OccurredAt, Actor: ev.Envelope.Actor, OnBehalfOf: ev.Envelope.OnBehalfOf, Diff: diff})
		out.Revision = ev.Revision
	}
	out.State = *v
	return out, nil
}

// pageLimit reads ?limit=, a page size from 1 to max, def when absent. ok
// is false when the value was refused; err is then the refusal's answer.
func pageLimit(c *fiber.Ctx, def, max int) (limit int, ok bool, err error) {
	l := c.Query("limit")
	if l == "" {
		return def, true, nil
	}
	n, perr := strconv.Atoi(l)
	if perr != nil || n < 1 || n > max {
		return 0, false, problem(c, cmderr.BadRequest, "bad_limit",
			fmt.Sprintf("limit: число от 1 до %d.", max), fmt.Sprintf("limit: a number from 1 to %d.", max))
	}
	return n, true, nil
}

// moscow is Moscow time, UTC+3 since 2014, without tzdata.
var moscow = time.FixedZone("MSK", 3*60*60)
