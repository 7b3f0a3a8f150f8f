package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
)

// AccessLog records staff reads of personal data (issue 7) as
// PersonalDataAccessed events. A read is recorded before its answer is
// sent, and a read that cannot be recorded is not served: the log is only
// worth something if nothing bypasses it.
type AccessLog struct {
	events  *eventstore.Store
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
}

// NewAccessLog records into es; a nil es refuses every staff read.
func NewAccessLog(es *eventstore.Store, log *slog.Logger, now func() time.Time) *AccessLog {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	// A read waits for its record; an event store that hangs must turn
	// into a refusal within a few seconds, not a hung page.
	return &AccessLog{events: es, log: log, now: now, timeout: 5 * time.Second}
}

// Logged reports whether a caller's reads are recorded: everyone's but an
// applicant's, who reads only their own data. Unknown roles are recorded
// too, so a new kind of caller is logged until someone decides otherwise.
func Logged(md events.Metadata) bool { return md.Actor.Role != events.RoleApplicant }

// ErrAccessLogUnavailable is wrapped by Record's errors.
var ErrAccessLogUnavailable = errors.New("httpapi: the access log is unavailable")

// Record appends one access record for the caller in md. The route is the
// method and route template of c (never the raw path, which may carry a
// query). It returns the record's position.
func (l *AccessLog) Record(c *fiber.Ctx, md events.Metadata, rec schema.PersonalDataAccessed) (uint64, error) {
	if l == nil || l.events == nil {
		return 0, fmt.Errorf("%w: no event store", ErrAccessLogUnavailable)
	}
	if md.Actor.ID == "" {
		return 0, fmt.Errorf("%w: no actor", ErrAccessLogUnavailable)
	}
	rec.Route = c.Method() + " " + c.Route().Path
	rec.AccessedAt = l.now().UTC()
	if rec.ApplicationIDs == nil {
		rec.ApplicationIDs = []string{}
	}
	typ, v, data, err := schema.Encode(rec)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrAccessLogUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), l.timeout)
	defer cancel()
	res, err := l.events.Append(ctx, schema.AccessStream(md.Actor.ID), eventstore.Any, md,
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data})
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrAccessLogUnavailable, err)
	}
	return res.Position, nil
}

// Guard records a staff read and, when that fails, logs why and answers
// 503 in place of the data. ok is false when the caller must return err
// without sending anything else. An applicant's read passes unrecorded.
func (l *AccessLog) Guard(c *fiber.Ctx, md events.Metadata, rec schema.PersonalDataAccessed) (ok bool, err error) {
	if !Logged(md) {
		return true, nil
	}
	if _, err := l.Record(c, md, rec); err != nil {
		if l != nil {
			l.log.ErrorContext(c.UserContext(), "staff read refused: the access log could not record it",
				"route", c.Route().Path, "what", rec.What, "err", err)
		}
		return false, Unrecorded(c)
	}
	return true, nil
}

// Unrecorded is the answer to a read the access log could not record.
func Unrecorded(c *fiber.Ctx) error {
	return Unavailable(c, "access_log_unavailable", 5,
		"Не удалось записать обращение к персональным данным в журнал доступа, поэтому данные не выданы. Повторите запрос позже.",
		"The read could not be recorded in the personal data access log, so the data was not served. Retry later.")
}

// audit is Guard for the handlers of this package.
func (h *handlers) audit(c *fiber.Ctx, md events.Metadata, what, applicantID string, appIDs ...string) (bool, error) {
	return h.accessLog.Guard(c, md, schema.PersonalDataAccessed{ApplicationIDs: appIDs, ApplicantID: applicantID, What: what})
}

// AccessPage is a page of an application's access log, oldest first.
type AccessPage struct {
	ApplicationID string                `json:"applicationId"`
	Entries       []history.AccessEntry `json:"entries"`
	// NextCursor, when set, fetches the next page (?cursor=).
	NextCursor string `json:"nextCursor,omitempty"`
}

// ApplicantAccessPage is a page of a person's access log, oldest first:
// every staff read of their data, whichever application, cabinet, scan or
// policy it was.
type ApplicantAccessPage struct {
	ApplicantID string                `json:"applicantId"`
	Entries     []history.AccessEntry `json:"entries"`
	// NextCursor, when set, fetches the next page (?cursor=).
	NextCursor string `json:"nextCursor,omitempty"`
}

// Access log page sizes.
const (
	defaultAccessLimit = 100
	maxAccessLimit     = readstore.MaxLimit
)

// access serves GET /api/v1/applications/:id/access: who of the staff read
// the application's personal data, what and when. The log names staff, not
// the applicant's data, so reading it is not itself recorded.
func (h *handlers) access(c *fiber.Ctx) error {
	if ok, err := h.auditorOnly(c); !ok {
		return err
	}
	id, ok := appID(c)
	if !ok {
		return notFound(c)
	}
	entries, next, ok, err := h.accessEntries(c, id, func() (bool, error) {
		_, ok, err := h.loadView(c, id)
		return ok, err
	})
	if !ok {
		return err
	}
	return c.JSON(AccessPage{ApplicationID: id, Entries: entries, NextCursor: next})
}

// applicantAccess serves GET /api/v1/applicants/:id/access: every staff
// read of one person's data, their scans never submitted included (an МФЦ
// operator's look at a scan the person then dropped is in no
// application's log). A person nobody read has an empty log, as one never
// seen does: the log says who read, not who exists.
func (h *handlers) applicantAccess(c *fiber.Ctx) error {
	if ok, err := h.auditorOnly(c); !ok {
		return err
	}
	// Fiber leaves the path escaped: an id with a slash comes as %2F.
	id, err := url.PathUnescape(c.Params("id"))
	if err != nil || !events.ValidActorID(id) {
		return problem(c, cmderr.BadRequest, "bad_applicant", "Неверный идентификатор заявителя.", "Invalid applicant id.")
	}
	entries, next, ok, err := h.accessEntries(c, history.ApplicantAccessKey(id), nil)
	if !ok {
		return err
	}
	return c.JSON(ApplicantAccessPage{ApplicantID: id, Entries: entries, NextCursor: next})
}

// auditorOnly refuses everyone but auditors and administrators, who
// answer for the log.
func (h *handlers) auditorOnly(c *fiber.Ctx) (bool, error) {
	md, ok, err := caller(c)
	if !ok {
		return false, err
	}
	if md.Actor.Role != events.RoleAuditor && md.Actor.Role != events.RoleAdmin {
		return false, problem(c, cmderr.Forbidden, "wrong_role", "Журнал доступа к персональным данным доступен аудиторам.", "The personal data access log is for auditors.")
	}
	return true, nil
}

// accessEntries reads one page of the log kept under key (an application
// id or ApplicantAccessKey), once the history has caught up with ?after=;
// exists, when given, answers 404 for a log whose subject is unknown. ok
// is false when an answer was written (or err is to be returned).
func (h *handlers) accessEntries(c *fiber.Ctx, key string, exists func() (bool, error)) (entries []history.AccessEntry, next string, ok bool, err error) {
	limit, ok, err := pageLimit(c, defaultAccessLimit, maxAccessLimit)
	if !ok {
		return nil, "", false, err
	}
	q := readstore.ListQuery{Collection: history.Access, Prefix: key + "/", Limit: limit}
	if cur := c.Query("cursor"); cur != "" {
		pos, err := strconv.ParseUint(cur, 10, 64)
		if err != nil {
			return nil, "", false, problem(c, cmderr.BadRequest, "bad_cursor", "Неверный курсор страницы.", "Invalid page cursor.")
		}
		q.AfterID = history.AccessEntryID(key, pos)
	}
	if err := h.waitAfter(c, "history"); err != nil || c.Response().StatusCode() >= 400 {
		return nil, "", false, err
	}
	if exists != nil {
		if found, err := exists(); err != nil {
			return nil, "", false, err
		} else if !found {
			return nil, "", false, notFound(c)
		}
	}
	docs, err := h.d.Store.List(c.UserContext(), q)
	if errors.Is(err, readstore.ErrNoCollection) {
		docs, err = nil, nil // a store built before the log existed: nothing recorded yet
	}
	if err != nil {
		return nil, "", false, err
	}
	entries = make([]history.AccessEntry, 0, len(docs))
	for _, d := range docs {
		var e history.AccessEntry
		if err := json.Unmarshal(d.Body, &e); err != nil {
			return nil, "", false, fmt.Errorf("httpapi: access entry %s: %w", d.ID, err)
		}
		entries = append(entries, e)
	}
	if len(docs) == limit {
		next = strconv.FormatUint(entries[len(entries)-1].Position, 10)
	}
	return entries, next, true, nil
}
