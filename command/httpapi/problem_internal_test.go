package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
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

// A refusal said on purpose with a 5xx (contention after the retries) is
// a warning; an error nobody decided on is an ERROR (visits QA: the
// contention of a busy moment was logged as an error).
func TestOnlyUndecidedServerErrorsAreLoggedAsErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want slog.Level
	}{
		{cmderr.New(cmderr.Unavailable, "contention", cmderr.T("а", "b")), slog.LevelWarn},
		{errors.New("disk on fire"), slog.LevelError},
	} {
		var levels []slog.Level
		log := slog.New(levelRecorder{&levels})
		app := fiber.New()
		app.Get("/", func(c *fiber.Ctx) error { return writeProblem(c, log, tc.err) })
		resp, err := app.Test(httptest.NewRequest("GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 500 || len(levels) != 1 || levels[0] != tc.want {
			t.Errorf("%v: %d, logged at %v, want one line at %v", tc.err, resp.StatusCode, levels, tc.want)
		}
	}
}

type levelRecorder struct{ levels *[]slog.Level }

func (levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r levelRecorder) Handle(_ context.Context, rec slog.Record) error {
	*r.levels = append(*r.levels, rec.Level)
	return nil
}
func (r levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r levelRecorder) WithGroup(string) slog.Handler      { return r }
