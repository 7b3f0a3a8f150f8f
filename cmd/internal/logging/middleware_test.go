package logging_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/cmd/internal/logging"
)

// A handler's error is answered by the app's error handler inside the
// access-log middleware, so that the line it writes, and a middleware
// around it (the metrics), see the status the client gets. Guessed from
// the error instead, a store that did not answer was answered 503 but
// logged and counted as 500 (ops QA).
func TestMiddlewareSeesTheStatusTheErrorHandlerAnswers(t *testing.T) {
	errAway := errors.New("the store does not answer")
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		if errors.Is(err, errAway) {
			return c.Status(fiber.StatusServiceUnavailable).SendString("retry")
		}
		return c.Status(fiber.StatusInternalServerError).SendString("internal")
	}})
	var outer int
	var outerErr error
	app.Use(func(c *fiber.Ctx) error {
		outerErr = c.Next()
		outer = c.Response().StatusCode()
		return outerErr
	})
	var buf bytes.Buffer
	app.Use(logging.Middleware(slog.New(slog.NewJSONHandler(&buf, nil))))
	app.Get("/away", func(*fiber.Ctx) error { return errAway })

	resp, err := app.Test(httptest.NewRequest("GET", "/away", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != fiber.StatusServiceUnavailable {
		t.Fatalf("answered %d, want 503", resp.StatusCode)
	}
	if outer != fiber.StatusServiceUnavailable || outerErr != nil {
		t.Fatalf("the middleware outside saw %d and %v, want 503 and the error answered", outer, outerErr)
	}
	if line := buf.String(); !strings.Contains(line, `"status":503`) {
		t.Fatalf("access line: %s", line)
	}
}
