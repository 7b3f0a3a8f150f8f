package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/readstore"
)

// Eraser erases an applicant's personal data; *service.Service does.
type Eraser interface {
	EraseApplicant(ctx context.Context, req service.Request, applicantID, basis string, applicationIDs []string) (service.Erasure, error)
}

// VisitCloser ends every МФЦ visit of an applicant; *visit.Service does.
type VisitCloser interface {
	Close(ctx context.Context, md events.Metadata, applicant string) (uint64, error)
}

// Waiter waits until a projection has passed a position; the leader
// package provides it on every node.
type Waiter interface {
	WaitFor(ctx context.Context, name string, pos uint64) error
}

// ErasureWait bounds how long an erasure waits for the read models, before
// (to list every application) and after (to scrub the erased values).
const ErasureWait = 30 * time.Second

// ErasureResponse is the answer of POST /api/v1/admin/applicants/:id/erase.
type ErasureResponse struct {
	service.Erasure
	// ReadModelsErased is true once every projection has applied the
	// erasure and the read store dropped the old bytes (Scrub).
	ReadModelsErased bool `json:"readModelsErased"`
	// VisitsEnded is true when МФЦ visits or codes of the applicant were
	// open and the erasure ended them.
	VisitsEnded bool `json:"visitsEnded"`
}

// refuse answers a refusal (a *cmderr.Error) here, with the command API's
// problem document, and returns nil. Returned to Fiber, the app's
// ErrorHandler would answer the same 4xx, but only after the metrics and
// access-log middlewares had taken an error they cannot read as a status
// for a 500. Any other error is returned: it is a 500 to everyone.
func refuse(c *fiber.Ctx, err error) error {
	if _, ok := cmderr.As(err); ok {
		return commandapi.ErrorHandler(c, err)
	}
	return err
}

// erase runs EraseApplicantData for one applicant. The applicant's
// applications come from their cabinet, read once the cabinet has caught
// up with everything written so far, because the data key is per applicant
// and an application missing from the list would lose its data without a
// record of why.
func (s *server) erase(c *fiber.Ctx) error {
	ctx := c.UserContext()
	md, _ := events.MetadataFrom(ctx)
	applicantID := c.Params("id")
	var body struct {
		Basis string `json:"basis"`
	}
	// As the commands' bodies: a wrong type or an unknown member is a 422
	// naming the field, broken JSON a 400.
	if err := commandapi.CheckJSONBody(c); err != nil {
		return refuse(c, err)
	}
	if err := commandapi.DecodeJSON(c.Body(), &body); err != nil {
		return refuse(c, err)
	}
	if s.d.Erasure == nil || s.d.Waiter == nil {
		return errors.New("admin: erasure is not wired")
	}
	wctx, cancel := context.WithTimeout(ctx, ErasureWait)
	defer cancel()
	head, err := s.d.Events.Head(wctx)
	if err != nil {
		return err
	}
	if err := s.d.Waiter.WaitFor(wctx, cabinet.Collection, head); err != nil {
		return fmt.Errorf("admin: wait for the cabinet before erasing: %w", err)
	}
	// No cabinet: no applications, perhaps uploaded scans; the service
	// tells the two apart.
	var cab cabinet.Doc
	doc, err := s.d.Store.Get(wctx, cabinet.Collection, applicantID)
	switch {
	case errors.Is(err, readstore.ErrNotFound):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(doc.Body, &cab); err != nil {
			return fmt.Errorf("admin: cabinet of %s: %w", applicantID, err)
		}
	}
	ids := make([]string, len(cab.Applications))
	for i, a := range cab.Applications {
		ids[i] = a.ApplicationID
	}
	res, err := s.d.Erasure.EraseApplicant(ctx, service.Request{Meta: md}, applicantID, body.Basis, ids)
	if err != nil {
		return refuse(c, err)
	}
	// The erasure may have read the whole event store: the read models get
	// their own time, not what the wait before it left over.
	cancel()
	wctx, cancel = context.WithTimeout(ctx, ErasureWait)
	defer cancel()
	out := ErasureResponse{Erasure: res}
	var last uint64
	for _, r := range res.Applications {
		last = max(last, r.Position)
	}
	// The person's visits end with their data. Left open, an operator
	// still had them on the start page for hours, and could read what the
	// erasure leaves (QA). Ended after the erasure, so that a failure here
	// leaves a repeat to do it: every step before is idempotent.
	if s.d.Visits != nil {
		pos, err := s.d.Visits.Close(wctx, md, applicantID)
		if err != nil {
			return fmt.Errorf("admin: end the МФЦ visits of %s after erasing their data: %w", applicantID, err)
		}
		out.VisitsEnded = pos > 0
		last = max(last, pos)
	}
	if last > 0 {
		for _, name := range s.d.Runner.Names() {
			if err := s.d.Waiter.WaitFor(wctx, name, last); err != nil {
				s.d.Logger.WarnContext(ctx, "erasure recorded; read models not yet updated", "projection", name, "err", err)
				return c.Status(fiber.StatusAccepted).JSON(out)
			}
		}
	}
	if err := s.d.Store.Scrub(wctx); err != nil {
		s.d.Logger.WarnContext(ctx, "erasure recorded; read store not scrubbed", "err", err)
		return c.Status(fiber.StatusAccepted).JSON(out)
	}
	out.ReadModelsErased = true
	return c.JSON(out)
}
