package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
)

// ContentTypeProblem is RFC 9457's media type.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem document. Detail is an object with both
// languages rather than a string, and Title carries both languages too, so a
// client can show either without a second request.
type Problem struct {
	// Type is "urn:oms:problem:<code>".
	Type   string      `json:"type"`
	Title  string      `json:"title"`
	Status int         `json:"status"`
	Detail cmderr.Text `json:"detail"`
	// Code is the machine-readable reason, e.g. "wrong_state".
	Code string `json:"code"`
	// Errors lists every field error of a 422, and the field a 409 is
	// about when it is one (a document in use by another application).
	Errors []cmderr.FieldError `json:"errors,omitempty"`
	// OmittedErrors counts the field errors found beyond those listed
	// (at most cmderr.MaxFieldErrors are).
	OmittedErrors int `json:"omittedErrors,omitempty"`
	// CurrentRevision is the application's revision on a 409 about state.
	CurrentRevision *uint64 `json:"currentRevision,omitempty"`
	// ExistingApplicationID is the open application of the same person.
	ExistingApplicationID string `json:"existingApplicationId,omitempty"`
}

var statusOf = map[cmderr.Kind]int{
	cmderr.Validation:      fiber.StatusUnprocessableEntity,
	cmderr.Conflict:        fiber.StatusConflict,
	cmderr.Forbidden:       fiber.StatusForbidden,
	cmderr.NotFound:        fiber.StatusNotFound,
	cmderr.Unauthenticated: fiber.StatusUnauthorized,
	cmderr.TooLarge:        fiber.StatusRequestEntityTooLarge,
	cmderr.Unsupported:     fiber.StatusUnsupportedMediaType,
	cmderr.BadRequest:      fiber.StatusBadRequest,
	cmderr.Unavailable:     fiber.StatusServiceUnavailable,
	cmderr.LengthRequired:  fiber.StatusLengthRequired,
}

var titles = map[int]string{
	fiber.StatusBadRequest:            "Некорректный запрос / Bad request",
	fiber.StatusUnauthorized:          "Требуется вход / Authentication required",
	fiber.StatusForbidden:             "Доступ запрещён / Forbidden",
	fiber.StatusNotFound:              "Не найдено / Not found",
	fiber.StatusMethodNotAllowed:      "Метод не поддерживается / Method not allowed",
	fiber.StatusConflict:              "Конфликт состояния / Conflict",
	fiber.StatusRequestEntityTooLarge: "Слишком большой запрос / Payload too large",
	fiber.StatusLengthRequired:        "Не указана длина / Length required",
	fiber.StatusUnsupportedMediaType:  "Неподдерживаемый тип / Unsupported media type",
	fiber.StatusUnprocessableEntity:   "Ошибки в данных / Invalid fields",
	fiber.StatusInternalServerError:   "Внутренняя ошибка / Internal error",
	fiber.StatusServiceUnavailable:    "Сервис недоступен / Service unavailable",
}

// fiberText is what to say, in both languages, of an error Fiber or
// fasthttp raised: their messages are English only, and often a Go error
// ("unexpected EOF" for a body cut short) that tells a person nothing
// (QA). Their own message is kept only for a status not listed here.
func fiberText(status int, message string) cmderr.Text {
	switch status {
	case fiber.StatusBadRequest:
		return cmderr.T("Запрос составлен неверно или пришёл не целиком, его не удалось прочитать.",
			"The request is malformed, or did not arrive whole, and could not be read.")
	case fiber.StatusMethodNotAllowed:
		return cmderr.T("Этот метод по этому адресу не поддерживается.", "This method is not supported at this address.")
	case fiber.StatusRequestTimeout:
		return cmderr.T("Запрос не пришёл целиком вовремя. Повторите его.", "The request did not arrive whole in time. Send it again.")
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return cmderr.T("Заголовки запроса слишком длинные.", "The request headers are too long.")
	case fiber.StatusBadGateway:
		return cmderr.T("Соединение прервалось. Повторите запрос.", "The connection broke. Send the request again.")
	}
	return cmderr.T(fmt.Sprintf("Запрос не выполнен (код HTTP %d).", status), message)
}

func title(status int) string {
	if t, ok := titles[status]; ok {
		return t
	}
	return "Ошибка / Error"
}

// writeProblem answers with a problem document built from err; errors that
// are not refusals are logged and hidden behind a 500.
func writeProblem(c *fiber.Ctx, log *slog.Logger, err error) error {
	p := problemOf(err)
	if p.Status >= 500 {
		if _, refusal := cmderr.As(err); refusal {
			// Said on purpose (contention after the retries): the caller
			// is told to retry, and an ERROR per busy moment cried wolf
			// (visits QA: one among 30 parallel tries).
			log.WarnContext(c.UserContext(), "command refused for now", "method", c.Method(), "path", c.Path(), "code", p.Code)
		} else {
			log.ErrorContext(c.UserContext(), "command API error", "method", c.Method(), "path", c.Path(), "err", err)
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if p.Code == "event_store_unavailable" || p.Code == "read_store_unavailable" {
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	return c.Status(p.Status).JSON(p, ContentTypeProblem)
}

func problemOf(err error) Problem {
	if errors.Is(err, eventstore.ErrUnavailable) {
		return Problem{Type: "urn:oms:problem:event_store_unavailable", Title: title(fiber.StatusServiceUnavailable), Status: fiber.StatusServiceUnavailable,
			Code: "event_store_unavailable", Detail: cmderr.T(
				"Хранилище событий сейчас не отвечает, и запрос мог не выполниться. Повторите его через несколько секунд (с тем же Idempotency-Key, если он был).",
				"The event store does not answer right now, and the request may not have been carried out. Repeat it in a few seconds (with the same Idempotency-Key, if you sent one).")}
	}
	if errors.Is(err, readstore.ErrUnavailable) {
		return Problem{Type: "urn:oms:problem:read_store_unavailable", Title: title(fiber.StatusServiceUnavailable), Status: fiber.StatusServiceUnavailable,
			Code: "read_store_unavailable", Detail: cmderr.T(
				"Хранилище данных сейчас не отвечает. Повторите запрос через несколько секунд (с тем же Idempotency-Key, если он был).",
				"The data store does not answer right now. Repeat the request in a few seconds (with the same Idempotency-Key, if you sent one).")}
	}
	if e, ok := cmderr.As(err); ok {
		status := statusOf[e.Kind]
		if status == 0 {
			status = fiber.StatusInternalServerError
		}
		t := title(status)
		if status == fiber.StatusUnprocessableEntity && len(e.Fields) == 0 {
			// Not a form with faults (a reused Idempotency-Key, say):
			// "invalid fields" would send the reader looking for them.
			t = "Запрос невыполним / Unprocessable request"
		}
		return Problem{
			Type: "urn:oms:problem:" + e.Code, Title: t, Status: status, Detail: e.Message, Code: e.Code,
			Errors: e.Fields, OmittedErrors: e.OmittedFields, CurrentRevision: e.CurrentRevision, ExistingApplicationID: e.ExistingApplicationID,
		}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		// Fiber's and fasthttp's messages are English only: see fiberText.
		p := Problem{Type: "about:blank", Title: title(fe.Code), Status: fe.Code, Code: "http_error", Detail: fiberText(fe.Code, fe.Message)}
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			p.Code, p.Type = "body_too_large", "urn:oms:problem:body_too_large"
			p.Detail = cmderr.T("Запрос слишком большой.", "The request body is too large.")
		case fiber.StatusNotFound:
			p.Code, p.Type = "no_route", "urn:oms:problem:no_route"
			p.Detail = cmderr.T("Такого адреса нет.", "No such route.")
		case fiber.StatusRequestHeaderFieldsTooLarge:
			p.Code, p.Type = "headers_too_large", "urn:oms:problem:headers_too_large"
			p.Detail = cmderr.T("Заголовки запроса или строка запроса (после «?») слишком длинные.",
				"The request headers or the query string (after «?») are too long.")
		case fiber.StatusBadRequest:
			// fasthttp parses a multipart body while reading the request,
			// before any handler, and reports a broken one as a 400 whose
			// message is the Go parse error ("cannot read
			// multipart/form-data body: multipart: NextPart: EOF").
			if strings.Contains(fe.Message, "multipart/form-data") {
				p.Code, p.Type = "malformed_multipart", "urn:oms:problem:malformed_multipart"
				p.Detail = malformedMultipart
			}
		}
		return p
	}
	return Problem{
		Type: "urn:oms:problem:internal", Title: title(fiber.StatusInternalServerError), Status: fiber.StatusInternalServerError, Code: "internal",
		Detail: cmderr.T("Что-то пошло не так. Повторите запрос позже.", "Something went wrong. Try again later."),
	}
}

// ErrorHandler is a fiber.Config.ErrorHandler that answers every error,
// including Fiber's own (an oversized body, an unknown route), with a problem
// document. Mount it on the app so that the limits Fiber enforces before a
// handler runs read like the rest of the API.
func ErrorHandler(c *fiber.Ctx, err error) error {
	return writeProblem(c, slog.Default(), err)
}

// NewErrorHandler is ErrorHandler logging the errors it hides to log
// instead of slog's default, which omsd leaves as Go's plain-text logger:
// those lines were the only ones not in JSON, without a request id.
func NewErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error { return writeProblem(c, log, err) }
}

// malformedMultipart is the refusal of an upload's body that does not
// parse: read by the upload itself (streamed) or by Fiber before it.
var malformedMultipart = cmderr.T("Тело запроса multipart/form-data повреждено или оборвано. Загрузите файл заново.",
	"The multipart/form-data body is malformed or cut short. Upload the file again.")
