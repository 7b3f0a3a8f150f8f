package config_test

import (
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/config"
)

func TestOIDCSettings(t *testing.T) {
	for _, name := range []string{"OMS_OIDC_ISSUER", "OMS_OIDC_AUDIENCE", "OMS_OIDC_ROLES_CLAIM", "OMS_OIDC_JWKS_URL", "OMS_OIDC_PUBLIC_KEY_FILE"} {
		if !slices.Contains(config.EnvNames(), name) {
			t.Errorf("%s is not a setting", name)
		}
	}
	t.Setenv("OMS_OIDC_ISSUER", "https://id.example.org/realms/oms")
	t.Setenv("OMS_OIDC_ROLES_CLAIM", "realm_access.roles")
	c := config.Defaults()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if err := c.Register(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"-oidc-audience", "oms-web", "-data-dir", t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.OIDCIssuer != "https://id.example.org/realms/oms" || c.OIDCAudience != "oms-web" || c.OIDCRolesClaim != "realm_access.roles" {
		t.Errorf("settings: %+v", c)
	}
	if d := config.Defaults(); d.OIDCIssuer != "" || d.OIDCAudience != "oms" || d.OIDCRolesClaim != "roles" {
		t.Errorf("defaults: issuer %q audience %q roles %q", d.OIDCIssuer, d.OIDCAudience, d.OIDCRolesClaim)
	}
}

func TestOIDCValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*config.Config)
		bad  string // "" when valid
	}{
		{"dev mode", func(*config.Config) {}, ""},
		{"https issuer", func(c *config.Config) { c.OIDCIssuer = "https://id.example.org" }, ""},
		{"loopback test issuer", func(c *config.Config) { c.OIDCIssuer = "http://127.0.0.1:9000/realms/t" }, ""},
		{"localhost test issuer", func(c *config.Config) { c.OIDCIssuer = "http://localhost:9000" }, ""},
		{"plain http elsewhere", func(c *config.Config) { c.OIDCIssuer = "http://id.example.org" }, "loopback"},
		{"not a URL", func(c *config.Config) { c.OIDCIssuer = "id.example.org" }, "OMS_OIDC_ISSUER"},
		{"issuer with query", func(c *config.Config) { c.OIDCIssuer = "https://id.example.org/?realm=x" }, "query"},
		{"JWKS without issuer", func(c *config.Config) { c.OIDCJWKSURL = "https://id.example.org/jwks" }, "need OMS_OIDC_ISSUER"},
		{"key file without issuer", func(c *config.Config) { c.OIDCPublicKeyFile = "key.pem" }, "need OMS_OIDC_ISSUER"},
		{"JWKS over plain http", func(c *config.Config) {
			c.OIDCIssuer, c.OIDCJWKSURL = "https://id.example.org", "http://id.example.org/jwks"
		}, "OMS_OIDC_JWKS_URL"},
		{"JWKS and key file", func(c *config.Config) {
			c.OIDCIssuer, c.OIDCJWKSURL, c.OIDCPublicKeyFile = "https://id.example.org", "https://id.example.org/jwks", "key.pem"
		}, "not both"},
		{"empty audience", func(c *config.Config) { c.OIDCIssuer, c.OIDCAudience = "https://id.example.org", " " }, "AUDIENCE"},
		{"bad roles path", func(c *config.Config) {
			c.OIDCIssuer, c.OIDCRolesClaim = "https://id.example.org", "realm_access..roles"
		}, "ROLES_CLAIM"},
	} {
		c := config.Defaults()
		c.DataDir = t.TempDir()
		tc.set(&c)
		err := c.Validate()
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%s: %v, want an error about %s", tc.name, err, tc.bad)
		}
	}
}
