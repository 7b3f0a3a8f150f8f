package appview_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// jsonPaths is the reference: the leaf paths at which two values' JSON
// forms differ, computed the slow and obvious way.
func jsonPaths(t *testing.T, a, b any) []string {
	t.Helper()
	tree := func(v any) any {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	var paths []string
	var walk func(p string, x, y any)
	walk = func(p string, x, y any) {
		xm, xok := x.(map[string]any)
		ym, yok := y.(map[string]any)
		if xok && yok {
			keys := map[string]bool{}
			for k := range xm {
				keys[k] = true
			}
			for k := range ym {
				keys[k] = true
			}
			for k := range keys {
				xv, inX := xm[k]
				yv, inY := ym[k]
				switch {
				case inX && inY:
					walk(p+"/"+k, xv, yv)
				default:
					paths = append(paths, p+"/"+k)
				}
			}
			return
		}
		xs, xok := x.([]any)
		ys, yok := y.([]any)
		if xok && yok {
			for i := 0; i < max(len(xs), len(ys)); i++ {
				ip := fmt.Sprintf("%s/%d", p, i)
				if i < len(xs) && i < len(ys) {
					walk(ip, xs[i], ys[i])
				} else {
					paths = append(paths, ip)
				}
			}
			return
		}
		if !reflect.DeepEqual(x, y) {
			paths = append(paths, p)
		}
	}
	walk("", tree(a), tree(b))
	sort.Strings(paths)
	return paths
}

// Every step of a journey diffs to exactly the JSON paths that changed.
func TestDiffMatchesJSON(t *testing.T) {
	appID := uuid.NewString()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	evs := benchload.Journey(appID, "alice", 7, at)
	evs = append(evs[:4], append([]schema.Event{
		schema.InfoRequested{ApplicationID: appID, ReviewerID: "rev-1", RequestedAt: at, Questions: []schema.Question{{ID: "2.1", Text: "Ещё вопрос"}, {ID: "2.2", Text: "И ещё", DocumentKind: "passport"}}},
		schema.InfoProvided{ApplicationID: appID, ProvidedAt: at, Answers: []schema.Answer{{QuestionID: "2.2", Text: "Да"}}},
	}, evs[4:]...)...)
	evs = append(evs,
		schema.AddressChanged{ApplicationID: appID, Address: schema.Address{Region: "78", City: "СПб", Street: "Невский/пр", House: "1", PostalCode: "191025"}, ChangedAt: at, Document: schema.PolicyDocument{Version: 2}},
		schema.RenewalDue{ApplicationID: appID, ValidTo: "2027-11-25", RemindedAt: at},
		schema.PolicyRenewed{ApplicationID: appID, ValidFrom: "2027-11-26", ValidTo: "2028-11-25", RenewedAt: at},
		schema.PolicyExpired{ApplicationID: appID, ValidTo: "2028-11-25", ExpiredAt: at},
	)
	var v appview.View
	for i, e := range evs {
		before := v
		rec := recorded(t, i, e, at.Add(time.Duration(i)*time.Minute))
		typ := rec.Envelope.Type
		if err := appview.Apply(&v, rec); err != nil {
			t.Fatal(err)
		}
		changes, err := appview.Diff(before, v)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.Path)
			// A change's values are what the JSON shows on each side.
			if (c.Op == "add") != (c.From == nil) || (c.Op == "remove") != (c.To == nil) {
				t.Fatalf("%s: inconsistent change %+v", typ, c)
			}
		}
		sort.Strings(got)
		want := jsonPaths(t, before, v)
		if !reflect.DeepEqual(normalise(got), normalise(want)) {
			t.Fatalf("step %d %s:\n diff %v\n json %v", i, typ, got, want)
		}
	}
	if v.Status != appview.StatusPolicyExpired {
		t.Fatalf("folded to %s", v.Status)
	}
}

// normalise maps an escaped JSON pointer segment back, so a "/" inside a
// key compares equal to the reference walk, which does not escape.
func normalise(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = unescape(p)
	}
	return out
}

func unescape(p string) string {
	r := []rune{}
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '~' && i+1 < len(rs) {
			if rs[i+1] == '1' {
				r = append(r, '/')
				i++
				continue
			}
			if rs[i+1] == '0' {
				r = append(r, '~')
				i++
				continue
			}
		}
		r = append(r, rs[i])
	}
	return string(r)
}

// BenchmarkDiffJourney diffs every step of a benchmark journey, which is
// what the audit history does for each event of a rebuild.
func BenchmarkDiffJourney(b *testing.B) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	evs := benchload.Journey(uuid.NewString(), "alice", 7, at)
	views := make([]appview.View, len(evs)+1)
	for i, e := range evs {
		views[i+1] = views[i]
		if err := appview.Apply(&views[i+1], recorded(b, i, e, at)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := 1; i < len(views); i++ {
			if _, err := appview.Diff(&views[i-1], &views[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(evs)), "steps/op")
}

// The first event's diff adds what the JSON of the new view shows, at
// exactly the paths a diff from an empty view finds, and nothing from the
// empty view itself: no "replace", no "from".
func TestCreatedAddsTheFirstView(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	evs := benchload.Journey(uuid.NewString(), "alice", 7, at)
	var v appview.View
	if err := appview.Apply(&v, recorded(t, 0, evs[0], at)); err != nil {
		t.Fatal(err)
	}
	changes := appview.Created(&v)
	var tree map[string]any
	raw, _ := json.Marshal(v)
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.Path)
		if c.Op != "add" || c.From != nil || c.To == nil {
			t.Fatalf("not a plain add: %+v", c)
		}
		// The value added is the value the view shows there.
		var at any = tree
		for _, seg := range splitPointer(c.Path) {
			at = at.(map[string]any)[seg]
		}
		want, _ := json.Marshal(at)
		var to any
		raw, _ := json.Marshal(c.To)
		if err := json.Unmarshal(raw, &to); err != nil {
			t.Fatal(err)
		}
		have, _ := json.Marshal(to) // keys sorted, as in want
		if string(want) != string(have) {
			t.Fatalf("%s: added %s, the view shows %s", c.Path, have, want)
		}
	}
	sort.Strings(got)
	if want := jsonPaths(t, appview.View{}, v); !reflect.DeepEqual(normalise(got), normalise(want)) {
		t.Fatalf("paths:\n created %v\n json    %v", got, want)
	}
	// The ones a zero view showed as empty are in, as adds.
	for _, p := range []string{"/status", "/submittedAt", "/form/applicant/lastName", "/form/documents"} {
		if !slices.Contains(got, p) {
			t.Fatalf("%s missing from %v", p, got)
		}
	}
	if c := appview.Created(&appview.View{}); len(c) != 0 {
		t.Fatalf("an empty view adds %v", c)
	}
	if c := appview.Created((*appview.View)(nil)); c != nil {
		t.Fatalf("nothing adds %v", c)
	}
}

func splitPointer(p string) []string {
	var out []string
	for _, s := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		out = append(out, unescape(s))
	}
	return out
}
