package httpapi

import (
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// What Fiber and fasthttp raise reads as a sentence in both languages, not
// as the Go error behind it (QA: a body shorter than its Content-Length
// answered "unexpected EOF").
func TestFiberErrorsAreSaidInBothLanguages(t *testing.T) {
	for _, fe := range []*fiber.Error{
		fiber.NewError(fiber.StatusBadRequest, "unexpected EOF"),
		fiber.NewError(fiber.StatusRequestTimeout, "read timeout"),
		fiber.NewError(fiber.StatusMethodNotAllowed, "Method Not Allowed"),
		fiber.NewError(fiber.StatusRequestHeaderFieldsTooLarge, "error when reading request headers: small read buffer"),
	} {
		p := problemOf(fe)
		if p.Status != fe.Code || p.Detail.RU == "" || p.Detail.EN == "" || strings.Contains(p.Detail.EN, fe.Message) {
			t.Errorf("%d %q: %+v", fe.Code, fe.Message, p.Detail)
		}
	}
}
