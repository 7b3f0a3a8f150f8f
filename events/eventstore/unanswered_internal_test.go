package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// An append cut off by a store that went away came back from the v4 client
// as "could not send append request. Reason: EOF", which was taken for the
// store's answer and answered 500 (CI, once in a few runs); an error the
// store answered stays as it is.
func TestUnansweredMarksACutStream(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("could not send append request. Reason: %w", io.EOF),
		fmt.Errorf("recv: %w", io.ErrUnexpectedEOF),
		context.DeadlineExceeded,
	} {
		if !errors.Is(unanswered(err), ErrUnavailable) {
			t.Errorf("%v: not marked unavailable", err)
		}
	}
	for _, err := range []error{errors.New("wrong expected version"), context.Canceled, ErrDeleted} {
		if errors.Is(unanswered(err), ErrUnavailable) {
			t.Errorf("%v: marked unavailable", err)
		}
	}
}
