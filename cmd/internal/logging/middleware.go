package logging

import (
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

		status := c.Response().StatusCode()
		if err != nil {
			if fe, ok := err.(*fiber.Error); ok {
				status = fe.Code
			} else if status < 400 {
				status = fiber.StatusInternalServerError
			}
		}
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
			return err
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
		return err
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
