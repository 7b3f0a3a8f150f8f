package httpapi

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	commandapi "github.com/omsonline/oms/command/httpapi"
)

// Refuse answers a refusal with the command side's problem document: type
// urn:oms:problem:<code>, the title of its status in both languages, the
// status, the code and the detail in Russian and English. It is written by
// the command API's own ErrorHandler, so that a client reads every refusal
// of the API, command or query, the same way (the OpenAPI document's
// Problem). It returns nil once the answer is written; a handler returns
// what it returns.
func Refuse(c *fiber.Ctx, kind cmderr.Kind, code, ru, en string) error {
	if kind == cmderr.Unauthenticated {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="oms"`)
	}
	return commandapi.ErrorHandler(c, cmderr.New(kind, code, cmderr.T(ru, en)))
}

// unavailableTitle is the title the command side gives a 503.
const unavailableTitle = "Сервис недоступен / Service unavailable"

// Unavailable answers 503 with Retry-After and the same problem document.
// The command side has no refusal of that kind (its ErrorHandler makes
// every error that is not a refusal a 500), so the document is built here,
// of the command side's own type.
func Unavailable(c *fiber.Ctx, code string, retryAfter int, ru, en string) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(retryAfter))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusServiceUnavailable).JSON(commandapi.Problem{
		Type: "urn:oms:problem:" + code, Title: unavailableTitle, Status: fiber.StatusServiceUnavailable,
		Code: code, Detail: cmderr.T(ru, en),
	}, commandapi.ContentTypeProblem)
}
