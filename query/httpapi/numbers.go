package httpapi

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
)

// NumberMatches answers GET /api/v1/applications/by-number/:number.
type NumberMatches struct {
	Number       string   `json:"number"`
	Applications []string `json:"applications"`
}

var numberFormat = regexp.MustCompile(`^[0-9a-f]{8}$`)

// byNumber finds applications by the number the pages give them (the last
// 8 hex digits of the id), which is what a person quotes in a complaint:
// staff could find one only by its whole id. It answers ids and nothing
// of anyone's personal data, so it is not an access to record.
func (h *handlers) byNumber(c *fiber.Ctx) error {
	md, ok, err := caller(c)
	if !ok {
		return err
	}
	if !isStaff(md.Actor.Role) {
		return problem(c, cmderr.Forbidden, "wrong_role", "Поиск по номеру доступен сотрудникам.", "Finding by number is for staff.")
	}
	n := strings.ToLower(strings.TrimSpace(c.Params("number")))
	if !numberFormat.MatchString(n) {
		return problem(c, cmderr.BadRequest, "bad_number",
			"Номер заявления — 8 знаков из цифр 0–9 и букв a–f, как на его странице, например 827022bd.",
			"An application's number is 8 characters, digits 0–9 and letters a–f, as on its page, e.g. 827022bd.")
	}
	if err := h.waitAfter(c, "history"); err != nil || c.Response().StatusCode() >= 400 {
		return err
	}
	doc, err := h.d.Store.Get(c.UserContext(), history.Numbers, n)
	if errors.Is(err, readstore.ErrNotFound) || errors.Is(err, readstore.ErrNoCollection) {
		return problem(c, cmderr.NotFound, "application_not_found",
			"Заявления с номером "+n+" нет.", "No application has the number "+n+".")
	}
	if err != nil {
		return err
	}
	var idx history.NumberIndex
	if err := json.Unmarshal(doc.Body, &idx); err != nil {
		return err
	}
	return c.JSON(NumberMatches{Number: n, Applications: idx.Applications})
}
