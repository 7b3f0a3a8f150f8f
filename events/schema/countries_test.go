package schema

import (
	"slices"
	"testing"
)

// IsCountryCode searches the list by halves, so the list must stay sorted
// and free of repeats; ISO 3166-1 assigns 249 codes.
func TestCountryCodesSorted(t *testing.T) {
	codes := CountryCodes()
	if len(codes) != 249 {
		t.Errorf("%d codes, want 249", len(codes))
	}
	if !slices.IsSorted(codes) || len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Error("the codes are not sorted or repeat one")
	}
	for _, c := range codes {
		if !IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = false", c)
		}
	}
	for _, c := range []string{"", "XXA", "uzb", "UZ", "QQQ", "SUN", "ZZZ"} {
		if IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = true", c)
		}
	}
}
