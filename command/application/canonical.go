package application

import (
	"strings"

	"github.com/omsonline/oms/events/schema"
)

// Canonical is the command as decide reads it: text trimmed, codes and
// numbers in their stored case, scan ids in lower case. Two requests that
// differ only in what Canonical takes away decide alike, so the
// idempotency check must count them one request; a client that replays
// with the ids the server gave back, not the ones it sent, is not reusing
// its key for something else.
func Canonical(c Command) Command {
	switch c := c.(type) {
	case SubmitApplication:
		c.Form = Normalize(c.Form)
		return c
	case ProvideInfo:
		c.Corrections = normCorrections(c.Corrections)
		c.Documents = normRefs(c.Documents)
		answers := make([]schema.Answer, len(c.Answers))
		for i, a := range c.Answers {
			answers[i] = schema.Answer{QuestionID: strings.TrimSpace(a.QuestionID), Text: cleanParagraphs(a.Text)}
		}
		if c.Answers == nil {
			answers = nil
		}
		c.Answers = answers
		return c
	case Renew:
		if c.ResidenceDocument != nil {
			d := normResidence(*c.ResidenceDocument)
			c.ResidenceDocument = &d
		}
		if c.IdentityDocument != nil {
			d := normIdentity(*c.IdentityDocument)
			c.IdentityDocument = &d
		}
		c.Documents = normRefs(c.Documents)
		return c
	case RequestInfo:
		qs := make([]QuestionInput, len(c.Questions))
		for i, q := range c.Questions {
			qs[i] = QuestionInput{Text: cleanParagraphs(q.Text), Field: strings.TrimSpace(q.Field), DocumentKind: strings.TrimSpace(q.DocumentKind)}
		}
		if c.Questions == nil {
			qs = nil
		}
		c.Questions = qs
		return c
	case ChangeAddress:
		c.Address = normAddress(c.Address)
		return c
	case Reject:
		c.ReasonCode, c.Reason = strings.TrimSpace(c.ReasonCode), cleanParagraphs(c.Reason)
		return c
	case Withdraw:
		c.Reason = cleanParagraphs(c.Reason)
		return c
	case ReleaseClaim:
		c.Reason = cleanParagraphs(c.Reason)
		return c
	case WithdrawConsent:
		// As decide reads it (review: missing, so a retry sending the
		// reason with CRLF or spaces was another request).
		c.Reason = cleanParagraphs(c.Reason)
		return c
	}
	return c
}

func normRefs(docs []schema.DocumentRef) []schema.DocumentRef {
	return Normalize(schema.Form{Documents: docs}).Documents
}
