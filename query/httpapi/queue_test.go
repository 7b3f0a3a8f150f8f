package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/queue"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/query/httpapi"
)

// A queue filter that no row can match, and a cursor that names no row,
// are refused with 400 saying what is valid, instead of an empty page (a
// mistyped filter) or page 1 again (a cursor of {} or null).
func TestQueueRefusesFiltersAndCursorsThatMatchNothing(t *testing.T) {
	e := newTestEnv(t)
	deadline := time.Date(2026, 3, 13, 20, 59, 59, 0, time.UTC)
	for i, id := range []string{"01900000-0000-7000-8000-000000000001", "01900000-0000-7000-8000-000000000002"} {
		it := queue.Item{ApplicationID: id, ApplicantID: "alice", Status: appview.StatusSubmitted, Region: "77", Deadline: deadline.Add(time.Duration(i) * time.Hour)}
		body, _ := json.Marshal(it)
		e.put(t, queue.Collection, readstore.Doc{ID: id, Body: body,
			Queue: &readstore.QueueFields{Status: it.Status, Region: it.Region, Deadline: it.Deadline}})
	}
	get := func(q string) answer { return e.get(t, "/api/v1/reviewer/queue"+q, events.RoleReviewer, "rev-1") }
	page := func(q string) httpapi.QueuePage {
		t.Helper()
		a := get(q)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", q, a.status, a.body)
		}
		var p httpapi.QueuePage
		if err := json.Unmarshal(a.body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// What is valid still works, page by page.
	first := page("?status=submitted,in_review&region=77&limit=1")
	if len(first.Items) != 1 || first.Items[0].ApplicationID != "01900000-0000-7000-8000-000000000001" || first.NextCursor == "" {
		t.Fatalf("page 1: %+v", first)
	}
	// The cursor goes on under the same filters, however spelt.
	second := page("?region=77&status=in_review&status=submitted&limit=5&cursor=" + first.NextCursor)
	if len(second.Items) != 1 || second.Items[0].ApplicationID != "01900000-0000-7000-8000-000000000002" {
		t.Fatalf("page 2: %+v", second)
	}
	// Under others it would continue from a place in another list,
	// skipping rows silently (queue QA): refused.
	for _, q := range []string{"?limit=1", "?status=submitted&region=77", "?status=submitted,in_review&region=50", "?status=submitted,in_review&region=77&assignee=none",
		"?status=submitted,in_review&region=77&overdue=false"} {
		a := get(q + "&cursor=" + first.NextCursor)
		if a.status != 400 || !strings.Contains(string(a.body), `"cursor_filters"`) || !strings.Contains(string(a.body), `"ru"`) {
			t.Errorf("the cursor under %s: %d %.300s, want 400 cursor_filters", q, a.status, a.body)
		}
	}
	for _, s := range httpapi.QueueStatuses {
		page("?status=" + s)
	}
	// A repeated status adds to the list, as a comma does.
	if p := page("?status=in_review&status=submitted"); len(p.Items) != 2 {
		t.Fatalf("two statuses in two parameters: %+v", p)
	}
	for _, r := range []string{"01", "77", "95"} {
		page("?region=" + r)
	}
	page("?status=submitted&_=1712345678") // a client's cache-buster
	// Items of two assignees: an empty assignee is anyone's, as an empty
	// status is every status; "none" is the unassigned.
	for i, id := range []string{"01900000-0000-7000-8000-000000000003", "01900000-0000-7000-8000-000000000004"} {
		it := queue.Item{ApplicationID: id, ApplicantID: "bob", Status: appview.StatusInReview, Region: "50", Deadline: deadline.Add(time.Duration(i+2) * time.Hour), Assignee: "rev-" + strconv.Itoa(i+1)}
		body, _ := json.Marshal(it)
		e.put(t, queue.Collection, readstore.Doc{ID: id, Body: body,
			Queue: &readstore.QueueFields{Status: it.Status, Region: it.Region, Deadline: it.Deadline, Assignee: it.Assignee}})
	}
	for q, want := range map[string]int{"?assignee=": 4, "?assignee=none": 2, "?assignee=me": 1, "?assignee=rev-2": 1, "?status=&assignee=": 4} {
		if p := page(q); len(p.Items) != want {
			t.Errorf("%s: %d items, want %d", q, len(p.Items), want)
		}
	}

	cursor := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		query string
		says  []string
	}{
		{"?status=bogus", append([]string{"bogus"}, httpapi.QueueStatuses...)},
		{"?status=submitted,bogus", append([]string{"bogus"}, httpapi.QueueStatuses...)},
		{"?status=rejected", []string{"rejected", "submitted"}},
		{"?status=submitted,", []string{"submitted"}},
		{"?region=ZZ", []string{"ZZ", "77"}},
		{"?region=00", []string{"00"}},
		{"?region=7", []string{"77"}},
		{"?region=777", []string{"777"}},
		{"?region=99", []string{"99", "77"}}, // a car-plate code, no subject's
		{"?cursor=" + cursor("{}"), nil},
		{"?cursor=" + cursor("null"), nil},
		{"?cursor=" + cursor(`{"i":"01900000-0000-7000-8000-000000000001"}`), nil},
		{"?cursor=" + cursor(`{"d":"2026-03-13T20:59:59Z"}`), nil},
		{"?cursor=" + cursor(`{"d":"2026-03-13T20:59:59Z","i":""}`), nil},
		{"?cursor=!!!", nil},
		{"?status=submitted&status=bogus", []string{"bogus"}},
		// Any other parameter given twice: which one was meant?
		{"?region=77&region=50", []string{"region"}},
		// A parameter the queue does not take: ignored, it read as applied.
		{"?sort=-deadline", []string{"sort", "status", "assignee"}},
		{"?asignee=me", []string{"asignee"}},
		{"?limit=1&limit=2", []string{"limit"}},
		{"?assignee=me&assignee=none", []string{"assignee"}},
		{"?after=1&after=2", []string{"after"}},
		{"?overdue=1", []string{"true"}},
		{"?overdue=TRUE", []string{"true"}},
	} {
		a := get(tc.query)
		if a.status != 400 {
			t.Errorf("%s: %d %.300s, want 400", tc.query, a.status, a.body)
			continue
		}
		d, _ := a.problem(t)["detail"].(map[string]any)
		ru, _ := d["ru"].(string)
		en, _ := d["en"].(string)
		if ru == "" || en == "" {
			t.Errorf("%s: the detail is not in both languages: %s", tc.query, a.body)
		}
		for _, s := range tc.says {
			if !strings.Contains(ru, s) || !strings.Contains(en, s) {
				t.Errorf("%s: the detail does not say %q in both languages: %s", tc.query, s, a.body)
			}
		}
	}
}

// The statuses the queue accepts as a filter are exactly those a row can
// have: the statuses appview.Open keeps in the queue.
func TestQueueStatusesAreTheOpenOnes(t *testing.T) {
	all := []string{appview.StatusSubmitted, appview.StatusInReview, appview.StatusInfoRequested, appview.StatusApproved,
		appview.StatusRejected, appview.StatusWithdrawn, appview.StatusPolicyActive, appview.StatusPolicyExpired}
	var open []string
	for _, s := range all {
		if appview.Open(s) {
			open = append(open, s)
		}
	}
	if fmt.Sprint(open) != fmt.Sprint(httpapi.QueueStatuses) {
		t.Fatalf("QueueStatuses %v, the open statuses %v", httpapi.QueueStatuses, open)
	}
}

// More rows moved behind a reader's cursor than one page lists under
// earlier: the next pages go on with the rest instead of dropping it
// (review: earlier was cut at 1000 and the cursor moved past the others).
func TestEarlierGoesOnPastOnePage(t *testing.T) {
	e := newTestEnv(t)
	base := time.Date(2026, 3, 13, 20, 59, 59, 0, time.UTC)
	put := func(id string, deadline time.Time, pos uint64) {
		it := queue.Item{ApplicationID: id, ApplicantID: "alice", Status: appview.StatusSubmitted, Region: "77", Deadline: deadline}
		body, _ := json.Marshal(it)
		e.put(t, queue.Collection, readstore.Doc{ID: id, Body: body, Position: pos,
			Queue: &readstore.QueueFields{Status: it.Status, Region: it.Region, Deadline: deadline}})
	}
	for i, id := range []string{"a", "b", "c"} {
		put(id, base.Add(time.Duration(i)*time.Hour), 10)
	}
	const n = readstore.MaxLimit + 5
	for i := range n {
		put(fmt.Sprintf("m%05d", i), base.Add(1000*time.Hour), 10) // at the back
	}
	e.waiter.set(10)
	page := func(cursor string) httpapi.QueuePage {
		t.Helper()
		a := e.get(t, "/api/v1/reviewer/queue?limit=1&cursor="+cursor, events.RoleReviewer, "rev-1")
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		var p httpapi.QueuePage
		if err := json.Unmarshal(a.body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := e.get(t, "/api/v1/reviewer/queue?limit=1", events.RoleReviewer, "rev-1")
	var first httpapi.QueuePage
	if err := json.Unmarshal(a.body, &first); err != nil || len(first.Items) != 1 || first.Items[0].ApplicationID != "a" {
		t.Fatalf("page 1: %s", a.body)
	}
	// All of them move to the front (answered from the waiting tail).
	for i := range n {
		put(fmt.Sprintf("m%05d", i), base.Add(-time.Duration(n-i)*time.Minute), 20)
	}
	e.waiter.set(20)
	seen := map[string]int{}
	cursor := first.NextCursor
	for pages := 0; cursor != "" && pages < 10; pages++ {
		p := page(cursor)
		for _, r := range p.Earlier {
			seen[r.ApplicationID]++
		}
		cursor = p.NextCursor
	}
	if cursor != "" {
		t.Fatal("the pages do not end")
	}
	for i := range n {
		if id := fmt.Sprintf("m%05d", i); seen[id] != 1 {
			t.Fatalf("%s listed under earlier %d times, want once (%d listed in all)", id, seen[id], len(seen))
		}
	}
}
