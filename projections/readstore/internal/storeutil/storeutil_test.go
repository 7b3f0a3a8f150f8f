package storeutil

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/projections/readstore"
)

func TestPrefixEnd(t *testing.T) {
	for prefix, want := range map[string]string{
		"":                      "",
		"a":                     "b",
		"app1/":                 "app10",
		"é":                     "ê",
		"a\U0010FFFF":           "b",
		"\U0010FFFF":            "",
		"a\uD7FF":               "a\uE000",
		"bad\xff":               "",
		"x\U0010FFFF\U0010FFFF": "y",
	} {
		if got := PrefixEnd(prefix); got != want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", prefix, got, want)
		}
	}
	// The bound is above every extension and below the next prefix.
	for _, prefix := range []string{"a", "app1/", "é", "a\U0010FFFF"} {
		end := PrefixEnd(prefix)
		for _, ext := range []string{"", "\x00", "zzz", "\U0010FFFF\U0010FFFF"} {
			if s := prefix + ext; s >= end {
				t.Errorf("%q is not below the bound %q of %q", s, end, prefix)
			}
		}
	}
}

func TestDeadlineRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, -1),
	} {
		if got := DeadlineTime(DeadlineNanos(tm)); !got.Equal(tm) {
			t.Errorf("round trip of %v = %v", tm, got)
		}
	}
	if got := DeadlineTime(DeadlineNanos(time.Time{})); !got.IsZero() {
		t.Errorf("zero time came back as %v", got)
	}
	early := DeadlineNanos(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC))
	late := DeadlineNanos(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	if !(DeadlineNanos(time.Time{}) < early && early < 0 && late == math.MaxInt64) {
		t.Errorf("clamping: zero %d, early %d, late %d", DeadlineNanos(time.Time{}), early, late)
	}
}

func TestLastWrites(t *testing.T) {
	w := func(coll, id string, del bool) readstore.Write {
		return readstore.Write{Collection: coll, Doc: readstore.Doc{ID: id}, Delete: del}
	}
	in := []readstore.Write{w("a", "1", false), w("b", "1", false), w("a", "1", true), w("a", "2", false)}
	got := LastWrites(in)
	want := []readstore.Write{w("b", "1", false), w("a", "1", true), w("a", "2", false)}
	if !slices.EqualFunc(got, want, func(x, y readstore.Write) bool {
		return x.Collection == y.Collection && x.Doc.ID == y.Doc.ID && x.Delete == y.Delete
	}) {
		t.Fatalf("LastWrites = %+v", got)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "cabinet_g3", strings.Repeat("a", 63)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "_a", "1a", "a-b", "a.b", "a b", strings.Repeat("a", 64), "a\n"} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}

func TestCheckWriteBodies(t *testing.T) {
	w := func(body string, encoded bool) readstore.Write {
		return readstore.Write{Collection: "c_g1", Doc: readstore.Doc{ID: "a", Body: []byte(body)}, Encoded: encoded}
	}
	for _, c := range []struct {
		w  readstore.Write
		ok bool
	}{
		{w(`{"a":1}`, false), true},
		{w(`{"a":1}`, true), true},
		{w(`{"a":`, false), false},
		{w(`[1]`, false), false},
		{w(`[1]`, true), false}, // encoded or not, a body is an object
		{w(` "s"`, true), false},
	} {
		if err := CheckWrite(c.w, readstore.KindDocs); (err == nil) != c.ok {
			t.Errorf("%s (encoded %v): %v", c.w.Doc.Body, c.w.Encoded, err)
		}
	}
}
