package logging

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
)

// HeaderRequestID carries the request id both ways: a proxy in front may set
// it, and every answer echoes it.
const HeaderRequestID = "X-Request-ID"

// maxRequestIDLen bounds an id taken from a client, which is logged.
const maxRequestIDLen = 128

// quiet routes are polled by machines; their access lines are debug.
var quiet = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Middleware gives every request an id (the client's X-Request-ID when it
// is a sane token, a fresh UUID otherwise), puts it into the request's
// context for every log line made under it, and writes one access line per
// request. The line names the route template, never the raw path or the
// query string, which may carry personal identifiers.
func Middleware(log *slog.Logger) fiber.Handler {
	log = Wrap(log)
	return func(c *fiber.Ctx) error {
		start := time.Now()
		id := c.Get(HeaderRequestID)
		if !validID(id) {
			id = uuid.NewString()
		} else {
			id = strings.Clone(id) // fasthttp reuses header memory
		}
		c.Set(HeaderRequestID, id)
		c.SetUserContext(WithRequestID(c.UserContext(), id))
		err := c.Next()
		if err != nil {
			// Answer it here, with the app's error handler, so that this
			// line and the middlewares outside (the metrics) see the status
			// the client gets: guessed from the error, a store that did not
			// answer (503) was logged and counted as 500 (ops QA).
			if herr := c.App().Config().ErrorHandler(c, err); herr != nil {
				c.Status(fiber.StatusInternalServerError)
				err = errors.Join(err, herr)
			}
		}
		status := c.Response().StatusCode()
		route := c.Route().Path
		if route == "" || route == "/" && c.Path() != "/" {
			route = "unmatched"
		}
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case quiet[route]:
			level = slog.LevelDebug
		}
		ctx := c.UserContext()
		if !log.Enabled(ctx, level) {
			return nil
		}
		attrs := []slog.Attr{
			slog.String("method", c.Method()),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if md, ok := events.MetadataFrom(ctx); ok {
			attrs = append(attrs, slog.String("role", md.Actor.Role))
		}
		if err != nil && status >= 500 {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		log.LogAttrs(ctx, level, "http request", attrs...)
		return nil
	}
}

// ValidID reports whether id, taken from a client's header, is a sane
// token to log and carry: 1 to 128 letters, digits and "-_.:".
func ValidID(id string) bool { return validID(id) }

func validID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(isAlnum(c) || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
