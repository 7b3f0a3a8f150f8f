package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
)

// The history pages: every entry once, in order, across pages; a full
// page names the next; bad paging and time-travel parameters are refused
// rather than ignored.
func TestHistoryPages(t *testing.T) {
	e := newTestEnv(t)
	var docs []readstore.Doc
	for rev := range 7 {
		body, _ := json.Marshal(history.Entry{ApplicationID: "01900000-0000-7000-8000-000000000001", Revision: uint64(rev), Type: "InfoProvided", Diff: nil})
		docs = append(docs, readstore.Doc{ID: history.EntryID("01900000-0000-7000-8000-000000000001", uint64(rev)), Position: uint64(rev + 1), Body: body})
	}
	e.put(t, history.Entries, docs...)

	var revs []uint64
	cursor, pages := "", 0
	for {
		path := "/api/v1/applications/01900000-0000-7000-8000-000000000001/history?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		a := e.get(t, path, events.RoleAuditor, "aud-1")
		if a.status != 200 {
			t.Fatalf("%s: %d %s", path, a.status, a.body)
		}
		var page struct {
			Entries    []history.Entry
			NextCursor string
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, en := range page.Entries {
			revs = append(revs, en.Revision)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(revs) != "[0 1 2 3 4 5 6]" || pages != 3 {
		t.Fatalf("%d pages gave revisions %v", pages, revs)
	}
	// Without a limit, the whole of it (up to a thousand) in one page.
	a := e.get(t, "/api/v1/applications/01900000-0000-7000-8000-000000000001/history", events.RoleAuditor, "aud-1")
	var whole struct {
		Entries    []history.Entry
		NextCursor *string
	}
	if err := json.Unmarshal(a.body, &whole); err != nil || len(whole.Entries) != 7 || whole.NextCursor != nil {
		t.Fatalf("whole history: %v %s", err, a.body)
	}
	// Seven entries in pages of seven: the full page names a next one,
	// which is empty; a cursor into an application that does not exist
	// is a 404 like its first page.
	reads := func() int {
		recs, err := e.events.Load(context.Background(), schema.AccessStream("aud-1"))
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	before := reads()
	a = e.get(t, "/api/v1/applications/01900000-0000-7000-8000-000000000001/history?limit=7&cursor=6", events.RoleAuditor, "aud-1")
	if a.status != 200 || !strings.Contains(string(a.body), `"entries":[]`) {
		t.Fatalf("the page after the last: %d %s", a.status, a.body)
	}
	if n := reads(); n != before {
		t.Fatalf("an empty page was recorded as a read of personal data (%d → %d access events)", before, n)
	}
	// ... while a page with entries is.
	e.get(t, "/api/v1/applications/01900000-0000-7000-8000-000000000001/history?limit=1", events.RoleAuditor, "aud-1")
	if n := reads(); n != before+1 {
		t.Fatalf("a page with an entry: %d → %d access events", before, n)
	}
	if a := e.get(t, "/api/v1/applications/no-such-app/history?cursor=3", events.RoleAuditor, "aud-1"); a.status != 404 {
		t.Fatalf("a cursor into no application: %d %s", a.status, a.body)
	}
	for query, code := range map[string]string{
		"limit=0": "bad_limit", "limit=1001": "bad_limit", "limit=x": "bad_limit",
		"cursor=abc": "bad_cursor", "cursor=-1": "bad_cursor",
		"revision=1": "use_state", "at=2026-01-01T00:00:00Z": "use_state",
	} {
		a := e.get(t, "/api/v1/applications/01900000-0000-7000-8000-000000000001/history?"+query, events.RoleAuditor, "aud-1")
		if a.status != 400 || !containsCode(a.body, code) {
			t.Errorf("?%s: %d %s, want 400 %s", query, a.status, a.body, code)
		}
	}
}

func containsCode(body []byte, code string) bool {
	var p struct{ Code string }
	return json.Unmarshal(body, &p) == nil && p.Code == code
}
