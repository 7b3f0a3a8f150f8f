package config_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/config"
)

func TestProjectionCacheSetting(t *testing.T) {
	t.Setenv("OMS_PROJECTION_CACHE_MB", "48")
	c := config.Defaults()
	if c.ProjectionCacheMB != 4 {
		t.Errorf("default %d MB, want 4", c.ProjectionCacheMB)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if err := c.Register(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"-data-dir", t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.ProjectionCacheMB != 48 {
		t.Fatalf("from the environment: %d MB, %v", c.ProjectionCacheMB, err)
	}
	for _, bad := range []int{0, -1, 1<<16 + 1} {
		c := config.Defaults()
		c.DataDir = t.TempDir()
		c.ProjectionCacheMB = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "OMS_PROJECTION_CACHE_MB") {
			t.Errorf("%d MB: %v, want a refusal naming OMS_PROJECTION_CACHE_MB", bad, err)
		}
	}
}
