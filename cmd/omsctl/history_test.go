package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A replayed state prints what an operator looks for, not the status
// alone.
func TestStateFactsPrint(t *testing.T) {
	var s stateFacts
	err := json.Unmarshal([]byte(`{"status":"policy_active","assignee":"rev-1",
		"questions":[{"text":"Уточните адрес","answered":true},{"text":"Скан?","answered":false}],
		"decision":{"outcome":"approved","by":"rev-1"},
		"policy":{"enp":"9000000000000001","validFrom":"2026-11-26","validTo":"2027-11-25","status":"active"},
		"consent":{"withdrawnAt":"2026-12-01T09:00:00Z"}}`), &s)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	s.print(&b)
	for _, want := range []string{"assignee: rev-1", "questions: 2 asked, 1 open", "decision: approved by rev-1",
		"policy: ЕНП 9000000000000001, 2026-11-26 to 2027-11-25, active", "consent withdrawn: 2026-12-01 09:00:00"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
	var none stateFacts
	b.Reset()
	none.print(&b)
	if b.Len() != 0 {
		t.Errorf("an empty state printed %q", b.String())
	}
}
