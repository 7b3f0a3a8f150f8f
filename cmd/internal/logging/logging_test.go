package logging_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/logging"
	"github.com/omsonline/oms/events"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"no personal data here, position 123456":                       "no personal data here, position 123456",
		"550 5.1.1 <karimov@example.org>: Recipient address rejected.": "550 5.1.1 <[email]>: Recipient address rejected.",
		"mail to a.b-c+tag@mail.example.ru.":                           "mail to [email].",
		"call +7 (916) 123-45-67 now":                                  "call [phone] now",
		"GET /verify/9123456789012345":                                 "GET /verify/[number]",
		"id 0b5c1f6e-2a4d-4c8e-9f3a-7d6e5c4b3a21 and +1 2":             "id 0b5c1f6e-2a4d-4c8e-9f3a-7d6e5c4b3a21 and +1 2",
		"a@b is not an address":                                        "a@b is not an address",
	} {
		if got := logging.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandlerAddsIDsAndRedacts(t *testing.T) {
	var buf bytes.Buffer
	log := logging.Wrap(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx := logging.WithRequestID(context.Background(), "req-1")
	ctx = events.WithMetadata(ctx, events.Metadata{CorrelationID: "corr-1"})
	log.InfoContext(ctx, "sent", "err", errors.New("rejected ivanov@example.org"))
	log.With("to", "+79161234567").InfoContext(ctx, "own ids win", "correlation_id", "corr-own")
	out := buf.String()
	for _, want := range []string{`"request_id":"req-1"`, `"correlation_id":"corr-1"`, `"err":"rejected [email]"`, `"to":"[phone]"`, `"correlation_id":"corr-own"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ivanov@") || strings.Contains(out, "9161234567") {
		t.Errorf("personal data leaked:\n%s", out)
	}
	if strings.Count(out, "correlation_id") != 2 {
		t.Errorf("a record's own correlation id must not be doubled:\n%s", out)
	}
}
