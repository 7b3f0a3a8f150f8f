package httpapi

import (
	"slices"
	"strings"
	"testing"

	"github.com/omsonline/oms/command/cmderr"
)

// Pointers count array elements of any kind, nested arrays included, and
// every repeat is named, not only the first.
func TestRepeatedMemberPointers(t *testing.T) {
	body := []byte(`{"a":[[1,{"x":1,"x":2}],{"k":"v","k":"w"},"s",{"k":1}],"b":{"c":{"d":1,"d":2}},"a":3}`)
	var got []string
	fields := repeatedMembers(body)
	for _, f := range fields.List() {
		got = append(got, f.Field)
	}
	want := []string{"/a/0/1/x", "/a/1/k", "/b/c/d", "/a"}
	if !slices.Equal(got, want) {
		t.Fatalf("repeats at %q, want %q", got, want)
	}
}

// A name is reported once per object however often it repeats, and the
// list is bounded, so that a body of one member repeated does not answer
// with an error per repeat.
func TestRepeatedMembersAreReportedOnceAndBounded(t *testing.T) {
	body := []byte(`{"reason":"x"` + strings.Repeat(`,"reason":"x"`, 20000) + `}`)
	fields := repeatedMembers(body)
	if l := fields.List(); len(l) != 1 || l[0].Field != "/reason" {
		t.Fatalf("one name repeated 20000 times: %d errors, %+v", len(l), l[:min(3, len(l))])
	}
	var b strings.Builder
	b.WriteString(`{"a":[`)
	for i := range 50 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"k":1,"k":2}`)
	}
	b.WriteString(`]}`)
	fields = repeatedMembers([]byte(b.String()))
	if l := fields.List(); len(l) != maxRepeatsReported {
		t.Fatalf("50 objects with a repeat each: %d errors, want %d", len(l), maxRepeatsReported)
	}
}

// A 422 about the form's fields is titled so; one about anything else (a
// reused Idempotency-Key) is not, or the reader looks for faulty fields
// that are not there (QA).
func TestUnprocessableTitles(t *testing.T) {
	fields := problemOf(cmderr.Invalid([]cmderr.FieldError{{Field: "/applicant/lastName", Code: "required"}}))
	other := problemOf(cmderr.New(cmderr.Validation, "idempotency_key_reused", cmderr.T("а", "b")))
	if fields.Status != 422 || fields.Title != "Ошибки в данных / Invalid fields" {
		t.Errorf("field errors: %d %q", fields.Status, fields.Title)
	}
	if other.Status != 422 || other.Title != "Запрос невыполним / Unprocessable request" {
		t.Errorf("a reused key: %d %q", other.Status, other.Title)
	}
}
