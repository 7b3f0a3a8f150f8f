package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Sender delivers one message to one recipient.
type Sender interface {
	Send(ctx context.Context, from, to string, msg []byte) error
}

// SMTP sends through an SMTP server named by a URL:
//
//	smtp://[user:password@]host[:port]   port 25 (587 with credentials), STARTTLS required
//	smtps://[user:password@]host[:port]  implicit TLS, port 465
//
// Personal data travels in these letters, so plain text must be asked for:
// starttls=off talks to a local relay without TLS; insecure=true skips the
// certificate check (test servers).
type SMTP struct {
	addr     string
	implicit bool
	plain    bool // starttls=off
	tls      *tls.Config
	auth     func() sasl.Client
	timeout  time.Duration
}

// ParseURL reads an OMS_SMTP_URL.
func ParseURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("email: OMS_SMTP_URL: %w", err)
	}
	s := &SMTP{timeout: 30 * time.Second}
	port := "25"
	switch u.Scheme {
	case "smtp":
		if u.User != nil {
			port = "587"
		}
	case "smtps":
		s.implicit, port = true, "465"
	default:
		return nil, fmt.Errorf("email: OMS_SMTP_URL must start with smtp:// or smtps://, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("email: OMS_SMTP_URL has no host")
	}
	if u.Port() != "" {
		port = u.Port()
	}
	s.addr = net.JoinHostPort(u.Hostname(), port)
	q := u.Query()
	switch q.Get("starttls") {
	case "", "require":
	case "off":
		s.plain = true
	default:
		return nil, fmt.Errorf("email: OMS_SMTP_URL: starttls must be require or off")
	}
	insecure, _ := strconv.ParseBool(q.Get("insecure"))
	s.tls = &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for test servers
	if u.User != nil {
		user := u.User.Username()
		pass, _ := u.User.Password()
		s.auth = func() sasl.Client { return sasl.NewPlainClient("", user, pass) }
	}
	return s, nil
}

// Addr is the server's host:port.
func (s *SMTP) Addr() string { return s.addr }

// PermanentError is an SMTP refusal that retrying will not change (a 5xx
// reply such as an unknown mailbox).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "email: permanent failure: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
		return &PermanentError{Err: err}
	}
	return err
}

// Send delivers msg in one SMTP session.
func (s *SMTP) Send(ctx context.Context, from, to string, msg []byte) error {
	d := net.Dialer{Timeout: s.timeout}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("email: connect to %s: %w", s.addr, err)
	}
	deadline := time.Now().Add(s.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	var c *smtp.Client
	switch {
	case s.implicit:
		c = smtp.NewClient(tls.Client(conn, s.tls))
	case s.plain:
		c = smtp.NewClient(conn)
	default:
		c, err = smtp.NewClientStartTLS(conn, s.tls)
		if err != nil {
			conn.Close()
			return fmt.Errorf("email: STARTTLS with %s: %w", s.addr, err)
		}
	}
	defer c.Close()
	if s.auth != nil {
		if err := c.Auth(s.auth()); err != nil {
			return classify(fmt.Errorf("email: auth: %w", err))
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return classify(fmt.Errorf("email: MAIL FROM: %w", err))
	}
	if err := c.Rcpt(to, nil); err != nil {
		return classify(fmt.Errorf("email: RCPT TO: %w", err))
	}
	w, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("email: DATA: %w", err))
	}
	if _, err := bytes.NewReader(msg).WriteTo(w); err != nil {
		return fmt.Errorf("email: write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return classify(fmt.Errorf("email: end of DATA: %w", err))
	}
	// The message is accepted; a failing QUIT does not undo that.
	_ = c.Quit()
	return nil
}
