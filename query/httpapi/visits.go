package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/visits"
)

// OpenVisits is an МФЦ operator's visits open now.
type OpenVisits struct {
	OperatorID string         `json:"operatorId"`
	Visits     []visits.Visit `json:"visits"`
}

// openVisits answers the caller's own open visits, the latest opened
// first. Only an operator has visits; the list holds applicants' ids and
// times, nothing of their data.
func (h *handlers) openVisits(c *fiber.Ctx) error {
	md, ok := events.MetadataFrom(c.UserContext())
	if !ok {
		return problem(c, cmderr.Unauthenticated, "unauthenticated", "Требуется вход в систему.", "Sign-in required.")
	}
	if md.Actor.Role != events.RoleOperator {
		return problem(c, cmderr.Forbidden, "wrong_role", "Приёмы бывают только у операторов МФЦ.", "Only MFC operators have visits.")
	}
	// The cabinet projection keeps the visits (see package visits).
	if err := h.waitAfter(c, "cabinet"); err != nil || c.Response().StatusCode() >= 400 {
		return err
	}
	out := OpenVisits{OperatorID: md.Actor.ID, Visits: []visits.Visit{}}
	d, err := h.d.Store.Get(c.UserContext(), visits.Collection, md.Actor.ID)
	switch {
	case errors.Is(err, readstore.ErrNotFound):
		return c.JSON(out) // never opened one
	case err != nil:
		return err
	}
	var doc visits.Doc
	if err := json.Unmarshal(d.Body, &doc); err != nil {
		return fmt.Errorf("httpapi: visits of %s: %w", md.Actor.ID, err)
	}
	out.Visits = doc.Open(h.d.Now())
	return c.JSON(out)
}
