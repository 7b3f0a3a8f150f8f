package main

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"gopkg.in/yaml.v3"

	"github.com/omsonline/oms/cmd/internal/config"
)

type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Environment map[string]string         `yaml:"environment"`
		Ports       []string                  `yaml:"ports"`
		DependsOn   map[string]map[string]any `yaml:"depends_on"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Command []string `yaml:"command"`
	} `yaml:"services"`
}

// No Docker engine runs here, so the compose file is checked against the
// code instead: names, ports, env vars and pinned images must agree.
func TestComposeMatchesConfig(t *testing.T) {
	root := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	for _, name := range []string{"eventstore", "mongo", "omsd"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("service %q missing", name)
		}
	}
	for name, s := range c.Services {
		if s.Image == "" {
			continue
		}
		repo, tag, ok := strings.Cut(s.Image[strings.LastIndex(s.Image, "/")+1:], ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("%s: image %q must pin a tag", name, s.Image)
		}
		_ = repo
	}
	if img := c.Services["eventstore"].Image; !strings.HasPrefix(img, "eventstore/eventstore:24.") && !strings.Contains(img, "kurrentdb") {
		t.Errorf("event store image %q is neither EventStoreDB 24.x nor KurrentDB", img)
	}
	if img := c.Services["mongo"].Image; !strings.HasPrefix(img, "mongo:7.") {
		t.Errorf("mongo image %q is not MongoDB 7", img)
	}
	if !slices.Contains(c.Services["mongo"].Command, "--replSet") || c.Services["mongo"].Healthcheck == nil ||
		!strings.Contains(strings.Join(c.Services["mongo"].Healthcheck.Test, " "), "rs.initiate") {
		t.Error("mongo must run as a replica set initiated by its healthcheck")
	}

	omsd := c.Services["omsd"]
	if omsd.Build == nil {
		t.Fatal("omsd must be built from the repo")
	}
	df, err := os.ReadFile(filepath.Join(root, omsd.Build.Context, omsd.Build.Dockerfile))
	if err != nil {
		t.Fatalf("omsd Dockerfile: %v", err)
	}
	if !strings.Contains(string(df), "./cmd/omsd") || strings.Count(string(df), "FROM ") < 2 {
		t.Error("the Dockerfile must be multi-stage and build ./cmd/omsd")
	}
	known := config.EnvNames()
	for k := range omsd.Environment {
		if !slices.Contains(known, k) {
			t.Errorf("omsd env %s is not a setting the code reads", k)
		}
	}
	for _, k := range []string{"OMS_ESDB_URL", "OMS_MONGO_URI", "OMS_HTTP_ADDR"} {
		if omsd.Environment[k] == "" {
			t.Errorf("omsd needs %s in compose", k)
		}
	}
	for dep := range map[string]bool{"eventstore": true, "mongo": true} {
		if omsd.DependsOn[dep]["condition"] != "service_healthy" {
			t.Errorf("omsd must wait for %s to be healthy", dep)
		}
	}

	cfg, err := esdb.ParseConnectionString(omsd.Environment["OMS_ESDB_URL"])
	if err != nil {
		t.Fatalf("OMS_ESDB_URL: %v", err)
	}
	host, esdbPort, err := net.SplitHostPort(cfg.Address)
	if err != nil || host != "eventstore" {
		t.Errorf("OMS_ESDB_URL points at %q, not the eventstore service", cfg.Address)
	}
	// The stores run without passwords (EventStoreDB insecure, MongoDB
	// without users); published on every interface, anyone on the
	// network could read the personal data and append a forged approval.
	// omsd reaches them over the compose network, which needs no
	// publishing; a port published for an operator's tools binds loopback.
	for _, name := range []string{"eventstore", "mongo"} {
		for _, p := range c.Services[name].Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %q beyond this machine's loopback", name, p)
			}
		}
	}
	if port := c.Services["eventstore"].Environment["EVENTSTORE_NODE_PORT"]; port != esdbPort {
		t.Errorf("event store node port %s vs connection port %s", port, esdbPort)
	}
	mu, err := url.Parse(omsd.Environment["OMS_MONGO_URI"])
	if err != nil || mu.Hostname() != "mongo" || mu.Query().Get("replicaSet") != "rs0" {
		t.Errorf("OMS_MONGO_URI %q must name the mongo service and its replica set", omsd.Environment["OMS_MONGO_URI"])
	}
	_, httpPort, err := net.SplitHostPort(omsd.Environment["OMS_HTTP_ADDR"])
	if err != nil {
		t.Fatal(err)
	}
	if !publishes(omsd.Ports, httpPort) {
		t.Errorf("omsd listens on %s but publishes %v", httpPort, omsd.Ports)
	}
}

func publishes(ports []string, port string) bool {
	for _, p := range ports {
		parts := strings.Split(p, ":")
		if parts[len(parts)-1] == port {
			return true
		}
	}
	return false
}
