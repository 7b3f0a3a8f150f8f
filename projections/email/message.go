package email

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Letter is one notification as an e-mail.
type Letter struct {
	// NotificationID is the inbox notification's stable id; it becomes the
	// Message-ID, so a copy sent twice is recognisably the same letter.
	NotificationID string
	From, To       string
	TitleRU        string
	TitleEN        string
	BodyRU, BodyEN string
	// Link is where the cabinet is.
	Link string
	Date time.Time
}

// MessageID is the Message-ID of a notification's letter.
func MessageID(notificationID, from string) string {
	domain := "oms.local"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	return "<notification-" + notificationID + "@" + domain + ">"
}

// Compose renders a Letter as an RFC 5322 message: plain text in UTF-8,
// quoted-printable, Russian first and English below, since applicants are
// foreigners who may read either.
func Compose(l Letter) ([]byte, error) {
	from, err := mail.ParseAddress(l.From)
	if err != nil {
		return nil, fmt.Errorf("email: from address: %w", err)
	}
	to, err := mail.ParseAddress(l.To)
	if err != nil {
		return nil, fmt.Errorf("email: recipient address: %w", err)
	}
	if strings.ContainsAny(l.NotificationID, "\r\n<>@ ") || l.NotificationID == "" {
		return nil, errors.New("email: bad notification id")
	}
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from.String())
	h("To", to.String())
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine(l.TitleRU+" / "+l.TitleEN)))
	h("Date", l.Date.Format(time.RFC1123Z))
	h("Message-ID", MessageID(l.NotificationID, l.From))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Content-Language", "ru, en")
	// Auto-Submitted keeps vacation responders from answering (RFC 3834).
	h("Auto-Submitted", "auto-generated")
	h("X-OMS-Notification", l.NotificationID)
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := l.TitleRU + "\n\n" + l.BodyRU + "\n"
	if l.Link != "" {
		text += "\nЛичный кабинет: " + l.Link + "\n"
	}
	text += "\n---\n\n" + l.TitleEN + "\n\n" + l.BodyEN + "\n"
	if l.Link != "" {
		text += "\nYour cabinet: " + l.Link + "\n"
	}
	text += "\n-- \nОМС онлайн. Это письмо отправлено автоматически, отвечать на него не нужно.\nОМС online. This message was sent automatically; please do not reply.\n"
	if _, err := qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n"))); err != nil {
		return nil, fmt.Errorf("email: encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("email: encode body: %w", err)
	}
	return b.Bytes(), nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
