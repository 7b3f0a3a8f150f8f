// Package cmderr is the typed error of the write side. Every refusal a
// command can meet (a field error, a wrong state, a wrong role, an unknown
// application) is an *Error with a Kind that the HTTP layer maps to a status
// code and a bilingual text that it shows as is, so that domain code decides
// what the applicant reads and transport code only decides how.
package cmderr

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a refusal.
type Kind int

const (
	// Validation is a request with field errors (HTTP 422).
	Validation Kind = iota + 1
	// Conflict is a command the application's state does not allow, a stale
	// expected revision or a duplicate (HTTP 409).
	Conflict
	// Forbidden is a caller with the wrong role or not the owner (HTTP 403).
	Forbidden
	// NotFound is an application or document that does not exist (HTTP 404).
	NotFound
	// Unauthenticated is a request without a caller (HTTP 401).
	Unauthenticated
	// TooLarge is an upload over the size limit (HTTP 413).
	TooLarge
	// Unsupported is an upload of a type the service does not take (HTTP 415).
	Unsupported
	// BadRequest is a request the service cannot parse (HTTP 400).
	BadRequest
	// Unavailable is a request the service could not finish in time and
	// may finish when asked again (HTTP 503).
	Unavailable
	// LengthRequired is a body sent without a declared length (HTTP 411).
	LengthRequired
)

func (k Kind) String() string {
	switch k {
	case Validation:
		return "validation"
	case Conflict:
		return "conflict"
	case Forbidden:
		return "forbidden"
	case NotFound:
		return "not_found"
	case Unauthenticated:
		return "unauthenticated"
	case TooLarge:
		return "too_large"
	case Unsupported:
		return "unsupported"
	case BadRequest:
		return "bad_request"
	case Unavailable:
		return "unavailable"
	case LengthRequired:
		return "length_required"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Text is a message in Russian and English; the service answers in both
// because applicants are foreigners and reviewers are Russian.
type Text struct {
	RU string `json:"ru"`
	EN string `json:"en"`
}

// T builds a Text.
func T(ru, en string) Text { return Text{RU: ru, EN: en} }

// FieldError is one problem with one request field.
type FieldError struct {
	// Field is a JSON pointer (RFC 6901) into the request body, e.g.
	// "/applicant/birthDate" or "/documents/1/id".
	Field string `json:"field"`
	// Code is stable and machine-readable, e.g. "required", "format".
	Code    string `json:"code"`
	Message Text   `json:"message"`
}

// Error is a refusal of a command.
type Error struct {
	Kind Kind
	// Code is stable and machine-readable, e.g. "wrong_state".
	Code    string
	Message Text
	// Fields are the field errors of a Validation error, all at once, up
	// to MaxFieldErrors of them.
	Fields []FieldError
	// OmittedFields counts the field errors found beyond MaxFieldErrors.
	OmittedFields int
	// CurrentRevision is the application's revision when a Conflict is about
	// a stale expected revision (If-Match).
	CurrentRevision *uint64
	// ExistingApplicationID is the open application of the same person when
	// a Conflict is a duplicate submission.
	ExistingApplicationID string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s", e.Kind, e.Code, e.Message.EN)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Code)
	}
	return b.String()
}

// New builds an Error.
func New(kind Kind, code string, msg Text) *Error {
	return &Error{Kind: kind, Code: code, Message: msg}
}

// Invalid builds a Validation error from field errors.
func Invalid(fields []FieldError) *Error {
	return &Error{
		Kind: Validation, Code: "invalid_fields",
		Message: T("Проверьте и исправьте указанные поля.", "Check and correct the fields listed."),
		Fields:  fields,
	}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == k
}

// MaxFieldErrors bounds the field errors one refusal lists. A body can be
// made of little but wrong values (an array of 127,000 numbers where
// objects belong fits in 254 KB), and listing every one of them answered
// such a request with 23 MB and held 130 MB while doing it; the first
// hundred show the sender what is wrong, and the rest are only counted.
const MaxFieldErrors = 100

// Fields collects field errors; a nil *Fields is not usable, a zero one is.
type Fields struct {
	list    []FieldError
	omitted int
}

// Add records one field error, or only counts it once MaxFieldErrors are
// recorded.
func (f *Fields) Add(field, code string, msg Text) {
	if f.Full() {
		f.omitted++
		return
	}
	f.list = append(f.list, FieldError{Field: field, Code: code, Message: msg})
}

// Full reports whether further errors are only counted, so that a caller
// can spare building their messages.
func (f *Fields) Full() bool { return len(f.list) >= MaxFieldErrors }

// Omit counts one field error without recording it (see Full).
func (f *Fields) Omit() { f.omitted++ }

// Merge appends other field errors, with prefix prepended to their pointers.
func (f *Fields) Merge(prefix string, other []FieldError) {
	for _, e := range other {
		f.Add(prefix+e.Field, e.Code, e.Message)
	}
}

// List returns the errors recorded so far.
func (f *Fields) List() []FieldError { return f.list }

// Has reports whether a field error on exactly this pointer was recorded.
func (f *Fields) Has(field string) bool {
	for _, e := range f.list {
		if e.Field == field {
			return true
		}
	}
	return false
}

// Err is nil without errors and a Validation *Error otherwise.
func (f *Fields) Err() error {
	if len(f.list) == 0 {
		return nil
	}
	e := Invalid(f.list)
	if f.omitted > 0 {
		e.OmittedFields = f.omitted
		e.Message = T(
			fmt.Sprintf("Проверьте и исправьте указанные поля. Показаны первые %d ошибок, ещё %d не показаны.", len(f.list), f.omitted),
			fmt.Sprintf("Check and correct the fields listed. The first %d errors are shown; %d more are not.", len(f.list), f.omitted))
	}
	return e
}
