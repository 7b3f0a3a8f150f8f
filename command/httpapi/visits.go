package httpapi

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/visit"
	"github.com/omsonline/oms/events"
)

// Visits opens and closes МФЦ operators' visits; *visit.Service
// implements it.
type Visits interface {
	IssueCode(ctx context.Context, md events.Metadata) (visit.Code, error)
	Redeem(ctx context.Context, md events.Metadata, applicant, code string) (visit.Visit, error)
	Close(ctx context.Context, md events.Metadata, applicant string) (uint64, error)
}

// registerVisits mounts
//
//	POST /api/v1/visits/code   the applicant takes a code for an МФЦ operator
//	POST /api/v1/visits        the operator opens a visit with it
//	POST /api/v1/visits/close  the operator ends theirs; the applicant, all
func (h *handlers) registerVisits(router fiber.Router) {
	router.Post("/api/v1/visits/code", h.visitCode)
	router.Post("/api/v1/visits", h.openVisit)
	router.Post("/api/v1/visits/close", h.closeVisit)
}

// OpenVisit is the body of POST /api/v1/visits.
type OpenVisit struct {
	ApplicantID string `json:"applicantId"`
	Code        string `json:"code"`
}

func (h *handlers) visitCode(c *fiber.Ctx) error {
	md, err := caller(c)
	if err != nil {
		return h.fail(c, err)
	}
	if md.Actor.Role != events.RoleApplicant {
		return h.fail(c, errNotApplicant())
	}
	if err := h.emptyBody(c); err != nil {
		return h.fail(c, err)
	}
	code, err := h.Visits.IssueCode(c.UserContext(), md)
	if err != nil {
		return h.fail(c, err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(code)
}

func (h *handlers) openVisit(c *fiber.Ctx) error {
	md, err := caller(c)
	if err != nil {
		return h.fail(c, err)
	}
	if md.Actor.Role != events.RoleOperator {
		return h.fail(c, cmderr.New(cmderr.Forbidden, "forbidden", cmderr.T(
			"Приём открывает оператор МФЦ.", "A visit is opened by an MFC operator.")))
	}
	body, err := h.jsonBody(c)
	if err != nil {
		return h.fail(c, err)
	}
	var req OpenVisit
	if err := decodeBody(body, &req); err != nil {
		return h.fail(c, err)
	}
	code, err := checkOpenVisit(&req, md.Actor.ID)
	if err != nil {
		return h.fail(c, err)
	}
	v, err := h.Visits.Redeem(c.UserContext(), md, req.ApplicantID, code)
	if err != nil {
		return h.fail(c, err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(v)
}

// checkOpenVisit validates the body and returns the code as digits only:
// people read six digits aloud in pairs or threes, and type them so.
func checkOpenVisit(req *OpenVisit, operator string) (string, error) {
	var f cmderr.Fields
	switch {
	case req.ApplicantID == "":
		f.Add("/applicantId", "required", cmderr.T("Укажите идентификатор заявителя.", "Give the applicant's id."))
	case !events.ValidActorID(req.ApplicantID):
		f.Add("/applicantId", "invalid", cmderr.T(
			"Идентификатор заявителя — от 1 до 128 видимых символов ASCII, без пробелов.",
			"An applicant's id is 1 to 128 visible ASCII characters, with no spaces."))
	case req.ApplicantID == operator:
		f.Add("/applicantId", "self", cmderr.T(
			"Оператор МФЦ открывает приём заявителя, а не свой.",
			"An MFC operator opens a visit of an applicant, not of themselves."))
	}
	code := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' {
			return -1
		}
		return r
	}, req.Code)
	if len(code) != visit.Length || strings.Trim(code, "0123456789") != "" {
		f.Add("/code", "invalid", cmderr.T(
			"Код для МФЦ — 6 цифр из личного кабинета заявителя.",
			"The MFC code is the 6 digits shown in the applicant's account."))
	}
	return code, f.Err()
}

// CloseVisitResult says whether anything was open.
type CloseVisitResult struct {
	Closed bool `json:"closed"`
	// Position is the closing's, for ?after= (absent when nothing was
	// open to close).
	Position uint64 `json:"position,omitempty"`
}

func (h *handlers) closeVisit(c *fiber.Ctx) error {
	md, err := caller(c)
	if err != nil {
		return h.fail(c, err)
	}
	applicant := md.Actor.ID
	switch md.Actor.Role {
	case events.RoleApplicant:
	case events.RoleOperator:
		applicant = md.OnBehalfOf
	default:
		return h.fail(c, cmderr.New(cmderr.Forbidden, "forbidden", cmderr.T(
			"Эта операция недоступна для вашей роли.", "This operation is not available to your role.")))
	}
	if applicant == "" {
		return h.fail(c, cmderr.New(cmderr.Forbidden, "on_behalf_required", cmderr.T(
			"Укажите заявителя, приём которого завершается.", "Name the applicant whose visit ends.")))
	}
	if err := h.emptyBody(c); err != nil {
		return h.fail(c, err)
	}
	pos, err := h.Visits.Close(c.UserContext(), md, applicant)
	if err != nil {
		return h.fail(c, err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(CloseVisitResult{Closed: pos > 0, Position: pos})
}

// emptyBody refuses a body that is not JSON, or not an empty object, in
// the words of every command: a member these commands do not have (say an
// "operator" sent to end one operator's visit) would otherwise be dropped
// while the answer said all was well (QA: the applicant's close ended
// every operator's visit).
func (h *handlers) emptyBody(c *fiber.Ctx) error {
	body, err := h.jsonBody(c)
	if err != nil {
		return err
	}
	return decodeBody(body, &struct{}{})
}

func errNotApplicant() error {
	return cmderr.New(cmderr.Forbidden, "forbidden", cmderr.T(
		"Код для МФЦ получает сам заявитель.", "The applicant takes the MFC code themselves."))
}
