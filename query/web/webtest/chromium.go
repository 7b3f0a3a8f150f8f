// Package webtest finds the Chromium the browser tests drive. It lives
// beside the pages so that the page tests in query/web and the whole-app
// browser tests in cmd/internal share one rule: missing Chromium is a
// failure in CI (.ci/run installs it) and a skip on a developer's machine.
package webtest

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of the Chromium binary, or "" when there is
// none and the tests do not run in CI (CI set), where it fails t instead.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed: the browser tests need it (.ci/run installs it with apt-get install -y chromium)")
	}
	return ""
}
