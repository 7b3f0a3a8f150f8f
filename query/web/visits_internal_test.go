package web

import (
	"encoding/json"
	"testing"
)

func TestReturnToIsACabinetPageOnly(t *testing.T) {
	for next, want := range map[string]string{
		"/cabinet?applicant=a":                     "/cabinet?applicant=a",
		"/cabinet/applications/x?applicant=a":      "/cabinet/applications/x?applicant=a",
		"/cabinet/../auditor?applicant=a":          "",
		"/cabinet/./applications/x":                "",
		"/cabinetx":                                "",
		"/auditor":                                 "",
		"//evil.example/cabinet":                   "",
		"https://evil.example/cabinet?applicant=a": "",
		"": "",
	} {
		if got := returnTo(next); got != want {
			t.Errorf("returnTo(%q) = %q, want %q", next, got, want)
		}
	}
}

// In production (no dev sign-in) an id of digits alone is taken (issuers'
// subjects often are), a phone written as people write it is not.
func TestProductionPickerTakesNumericIDs(t *testing.T) {
	h := &handlers{}
	for who, want := range map[string]bool{
		"1000299654":            true,
		"112233445566778899001": true,
		"citizen-1":             true,
		"+79161234567":          false,
		"8 916 123-45-67":       false,
		"(916)1234567":          false,
		"":                      false,
	} {
		if _, ok := h.applicantNamed(who); ok != want {
			t.Errorf("applicantNamed(%q) = %v, want %v", who, ok, want)
		}
	}
}

// A refused opening marks the input it is about.
func TestVisitFieldNamesTheInput(t *testing.T) {
	for raw, want := range map[string]string{
		`{"code":"visit_code_wrong"}`:                                   "code",
		`{"code":"visit_code_voided"}`:                                  "code",
		`{"code":"invalid_fields","errors":[{"field":"/applicantId"}]}`: "who",
		`{"code":"invalid_fields","errors":[{"field":"/code"}]}`:        "code",
		`{"code":"contention"}`:                                         "",
	} {
		var p Problem
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			t.Fatal(err)
		}
		if got := visitField(p); got != want {
			t.Errorf("%s: %q, want %q", raw, got, want)
		}
	}
}
