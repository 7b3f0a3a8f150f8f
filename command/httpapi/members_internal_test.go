package httpapi

import (
	"slices"
	"testing"
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
