package app

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// useRecover turns a panic in a handler into a 500 problem document and an
// ERROR line with the stack, instead of the end of the process: fasthttp
// runs handlers on its own goroutines, where a panic kills every request
// in flight. Nothing of ours panics on input, but a library can (the v4
// event store client panics when closed under a blocked call).
func useRecover(app *fiber.App, log *slog.Logger) {
	app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, p any) {
			log.ErrorContext(c.UserContext(), "panic in a handler", "route", c.Path(), "method", c.Method(),
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		},
	}))
}
