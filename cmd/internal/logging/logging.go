// Package logging is omsd's structured logging around log/slog: a handler
// that stamps every record logged with a request's context with that
// request's id and correlation id, and blanks out what looks like personal
// data; and the Fiber middleware that gives each request its id and writes
// one access line for it.
//
// The ids travel further than HTTP: the auth middleware puts the
// correlation id into the events' envelopes and the request id into their
// causation id, and the projection runner logs both from the envelope when
// it applies an event, so one grep follows a command from the request to
// every read model it changed.
package logging

import (
	"context"
	"log/slog"
	"strings"

	"github.com/omsonline/oms/events"
)

// Attribute keys shared by every component that logs the ids.
const (
	KeyRequestID     = "request_id"
	KeyCorrelationID = "correlation_id"
)

type requestIDKey struct{}

// WithRequestID attaches a request id to ctx.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id attached to ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Handler wraps another slog.Handler. Wrapping an already wrapped handler
// returns it unchanged, so app.Start can wrap whatever logger it is given.
type Handler struct {
	next slog.Handler
}

// NewHandler returns next with request ids, correlation ids and redaction.
func NewHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(*Handler); ok {
		return h
	}
	return &Handler{next: next}
}

// Wrap is NewHandler for a logger; nil is a logger that discards.
func Wrap(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	if _, ok := l.Handler().(*Handler); ok {
		return l
	}
	return slog.New(NewHandler(l.Handler()))
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = redactAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(out)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name)}
}

// Handle implements slog.Handler. A record that names its ids itself (the
// projection runner logs the ones of the event it applies) keeps them.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	var hasReq, hasCorr, dirty bool
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case KeyRequestID:
			hasReq = true
		case KeyCorrelationID:
			hasCorr = true
		}
		if !dirty && needsRedaction(a) {
			dirty = true
		}
		return true
	})
	if dirty {
		nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool {
			nr.AddAttrs(redactAttr(a))
			return true
		})
		r = nr
	}
	if ctx != nil {
		if id := RequestID(ctx); id != "" && !hasReq {
			r.AddAttrs(slog.String(KeyRequestID, id))
		}
		if md, ok := events.MetadataFrom(ctx); ok && md.CorrelationID != "" && !hasCorr {
			r.AddAttrs(slog.String(KeyCorrelationID, md.CorrelationID))
		}
	}
	return h.next.Handle(ctx, r)
}

func needsRedaction(a slog.Attr) bool {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return Redact(v.String()) != v.String()
	case slog.KindGroup:
		for _, g := range v.Group() {
			if needsRedaction(g) {
				return true
			}
		}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok && err != nil {
			return Redact(err.Error()) != err.Error()
		}
	}
	return false
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		gs := v.Group()
		out := make([]any, len(gs))
		for i, g := range gs {
			out[i] = redactAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok && err != nil {
			if s := err.Error(); Redact(s) != s {
				return slog.String(a.Key, Redact(s))
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Redact blanks out, in free text such as an error from an SMTP server or a
// request path, what looks like an e-mail address, an international phone
// number or a 16-digit ЕНП. It is a safety net under the rule that form data
// is never logged on purpose, and it is cheap on text with none of them:
// one scan for '@', '+' and digit runs.
func Redact(s string) string {
	if !suspicious(s) {
		return s
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		if n := emailAt(s, i); n > 0 {
			b.WriteString("[email]")
			i += n
			continue
		}
		if n := phoneAt(s, i); n > 0 {
			b.WriteString("[phone]")
			i += n
			continue
		}
		if n := digitRun(s, i); n >= 16 && (i == 0 || !isAlnum(s[i-1])) && (i+n == len(s) || !isAlnum(s[i+n])) {
			b.WriteString("[number]")
			i += n
			continue
		} else if n > 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func suspicious(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '@' || c == '+':
			return true
		case c >= '0' && c <= '9':
			run++
			if run >= 16 {
				return true
			}
		default:
			run = 0
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isLocalChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte(".!#$%&'*/=?^_`{|}~-+", c) >= 0 || c >= 0x80
}

func isDomainChar(c byte) bool { return isAlnum(c) || c == '-' || c == '.' || c >= 0x80 }

// emailAt returns the length of an e-mail address starting at i (only at
// the start of a word), or 0.
func emailAt(s string, i int) int {
	if i > 0 && isLocalChar(s[i-1]) {
		return 0
	}
	j := i
	for j < len(s) && isLocalChar(s[j]) && s[j] != '@' {
		j++
	}
	if j == i || j >= len(s) || s[j] != '@' {
		return 0
	}
	k := j + 1
	dot := false
	for k < len(s) && isDomainChar(s[k]) {
		if s[k] == '.' && k > j+1 {
			dot = true
		}
		k++
	}
	for k > j+1 && s[k-1] == '.' { // a sentence's full stop is not the domain's
		k--
	}
	if !dot || k == j+1 {
		return 0
	}
	return k - i
}

// phoneAt returns the length of "+<digits with spaces, dashes, brackets>"
// with at least ten digits starting at i, or 0.
func phoneAt(s string, i int) int {
	if s[i] != '+' {
		return 0
	}
	digits, j, end := 0, i+1, 0
	for j < len(s) {
		c := s[j]
		if c >= '0' && c <= '9' {
			digits++
			j++
			end = j
			continue
		}
		if c == ' ' || c == '-' || c == '(' || c == ')' {
			j++
			continue
		}
		break
	}
	if digits < 10 {
		return 0
	}
	return end - i
}

func digitRun(s string, i int) int {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	return j - i
}
