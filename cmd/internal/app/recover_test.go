package app

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	commandapi "github.com/omsonline/oms/command/httpapi"
)

func TestAPanicInAHandlerIsA500(t *testing.T) {
	var logs bytes.Buffer
	app := fiber.New(fiber.Config{ErrorHandler: commandapi.ErrorHandler})
	useRecover(app, slog.New(slog.NewJSONHandler(&logs, nil)))
	app.Get("/boom", func(*fiber.Ctx) error { panic("send on closed channel") })
	resp, err := app.Test(httptest.NewRequest("GET", "/boom", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || !strings.Contains(string(body), `"code":"internal"`) || !strings.Contains(string(body), "Что-то пошло не так") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "panic in a handler") || !strings.Contains(logs.String(), "recover_test.go") {
		t.Fatalf("the panic was not logged with its stack: %s", logs.String())
	}
}
