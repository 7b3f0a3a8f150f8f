package web

import (
	"strings"
	"testing"
)

// FuzzSafeLocal feeds arbitrary ?next= values to the redirect guard: what
// it returns is always a path on this site, never another host.
func FuzzSafeLocal(f *testing.F) {
	for _, s := range []string{"/cabinet", "//evil.example", "/\\evil.example", "https://evil.example", "", "/%2F%2Fevil", "\t//x", "/ok?next=//x", "/\t/evil.example", "/\n/evil.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		p := safeLocal(next)
		// What a browser makes of a Location: tabs and newlines dropped,
		// backslashes read as slashes.
		seen := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(p)
		if !strings.HasPrefix(seen, "/") || strings.HasPrefix(seen, "//") {
			t.Fatalf("safeLocal(%q) = %q leaves the site", next, p)
		}
		if p != "/" && p != next {
			t.Fatalf("safeLocal(%q) = %q rewrites a path instead of refusing it", next, p)
		}
	})
}
