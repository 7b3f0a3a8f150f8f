package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/benchload"
)

// Time travel answers only with states that existed: a time before the
// application's first event and a revision past its last are 404s that say
// what does exist, and revision with at is refused instead of one of them
// being ignored. Revision 0 and a time at or after the first event still
// fold as before.
func TestStateRefusesMomentsThatDidNotExist(t *testing.T) {
	e := newTestEnv(t)
	appID := uuid.NewString()
	first := e.clock.Now()
	journey := benchload.Journey(appID, "alice", 1, first)
	e.appendEvents(t, appID, journey...) // revisions 0-5, a minute apart
	base := "/api/v1/applications/" + appID + "/state"
	get := func(q string) answer { return e.get(t, base+q, events.RoleAuditor, "aud-1") }

	for _, tc := range []struct {
		query  string
		status int
		says   []string // in the problem's detail, both languages
	}{
		{"?at=2000-01-01T00:00:00Z", 404, []string{"2026-03-01T10:00:00Z", "01.03.2026 13:00:00 МСК", "1 Mar 2026 13:00:00 Moscow time", "did not exist", "не существовало"}},
		{"?at=" + first.Add(-time.Nanosecond).Format(time.RFC3339Nano), 404, []string{"did not exist"}},
		{"?at=0001-01-01T00:00:00Z", 404, []string{"did not exist"}},
		{"?revision=99", 404, []string{"0", "5", "Ревизии 99", "Revision 99"}},
		{"?revision=6", 404, []string{"0", "5"}},
		{"?revision=1&at=2026-03-01T10:00:00Z", 400, []string{"revision", "at"}},
		{"?revision=x", 400, nil},
		{"?at=yesterday", 400, nil},
		{"?at=2026-03-01T13:00:00+03:00", 400, []string{"%2B03:00", "UTC"}},
	} {
		a := get(tc.query)
		if a.status != tc.status {
			t.Errorf("%s: %d %.300s, want %d", tc.query, a.status, a.body, tc.status)
			continue
		}
		p := a.problem(t)
		d, _ := p["detail"].(map[string]any)
		ru, _ := d["ru"].(string)
		en, _ := d["en"].(string)
		if ru == "" || en == "" {
			t.Errorf("%s: detail is not in both languages: %s", tc.query, a.body)
		}
		for _, s := range tc.says {
			if !strings.Contains(ru+" "+en, s) {
				t.Errorf("%s: the detail does not say %q: %s", tc.query, s, a.body)
			}
		}
	}

	for _, tc := range []struct {
		query    string
		revision uint64
		status   string
	}{
		{"?revision=0", 0, "submitted"},
		{"?at=" + first.Format(time.RFC3339), 0, "submitted"},
		{"?at=2026-03-01T13:00:00%2B03:00", 0, "submitted"}, // the first event's instant, in Moscow time
		{"?revision=5", 5, "policy_active"},
		{"?at=2030-01-01T00:00:00Z", 5, "policy_active"},
		{"", 5, "policy_active"},
	} {
		a := get(tc.query)
		if a.status != 200 {
			t.Errorf("%s: %d %.300s", tc.query, a.status, a.body)
			continue
		}
		var st struct {
			Revision     uint64 `json:"revision"`
			LastRevision uint64 `json:"lastRevision"`
			State        struct {
				Status string `json:"status"`
			} `json:"state"`
			Steps []json.RawMessage `json:"steps"`
		}
		if err := json.Unmarshal(a.body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Revision != tc.revision || st.State.Status != tc.status || st.LastRevision != 5 || len(st.Steps) != int(tc.revision)+1 {
			t.Errorf("%s: revision %d of %d, %d steps, status %q; want revision %d, status %q",
				tc.query, st.Revision, st.LastRevision, len(st.Steps), st.State.Status, tc.revision, tc.status)
		}
	}
}

// Times are shown to the second, and an auditor copies them as shown: a
// moment given without a fraction of a second is that whole second, so
// the state "at" an event's displayed time includes the event. A moment
// with a fraction is exact (time QA: the state at an event's own time
// left it out, or answered that the application did not exist yet).
func TestStateAtAWholeSecond(t *testing.T) {
	e := newTestEnv(t)
	appID := uuid.NewString()
	e.clock.Set(time.Date(2026, 3, 1, 10, 0, 0, 400_000_000, time.UTC))
	e.appendEvents(t, appID, benchload.Journey(appID, "alice", 1, e.clock.Now())[:2]...) // 10:00:00.4 and 10:01:00.4
	base := "/api/v1/applications/" + appID + "/state"
	for _, tc := range []struct {
		at       string
		status   int
		revision uint64
	}{
		{"2026-03-01T10:00:00Z", 200, 0},
		{"2026-03-01T13:00:00%2B03:00", 200, 0},
		{"2026-03-01T10:01:00Z", 200, 1},
		{"2026-03-01T10:00:59Z", 200, 0},
		{"2026-03-01T10:01:00.3Z", 200, 0},
		{"2026-03-01T10:01:00.4Z", 200, 1},
		{"2026-03-01T10:00:00.3Z", 404, 0},
		{"2026-03-01T09:59:59Z", 404, 0},
	} {
		a := e.get(t, base+"?at="+tc.at, events.RoleAuditor, "aud-1")
		if a.status != tc.status {
			t.Errorf("at %s: %d %.300s, want %d", tc.at, a.status, a.body, tc.status)
			continue
		}
		if a.status != 200 {
			continue
		}
		var st struct {
			Revision uint64 `json:"revision"`
		}
		if err := json.Unmarshal(a.body, &st); err != nil || st.Revision != tc.revision {
			t.Errorf("at %s: revision %d (%v), want %d", tc.at, st.Revision, err, tc.revision)
		}
	}
}
