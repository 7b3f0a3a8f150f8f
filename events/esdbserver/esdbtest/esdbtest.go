// Package esdbtest starts an embedded event store for tests and returns a
// real EventStore-Client-Go/v4 client (or the service's adapter over one)
// connected to it over loopback.
package esdbtest

import (
	"fmt"
	"net"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/eventstore"
)

// Start runs a server in a fresh temp dir and closes it with the test.
func Start(t testing.TB) *esdbserver.Server {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn runs a server on dir and closes it with the test.
func StartIn(t testing.TB, dir string) *esdbserver.Server {
	t.Helper()
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatalf("start embedded event store: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// AbsentURL is the connection string of a loopback port nothing listens
// on, for tests of an event store that is away.
func AbsentURL(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return fmt.Sprintf("esdb://%s?tls=false", addr)
}

// URL is the insecure connection string for a server.
func URL(srv *esdbserver.Server) string {
	return fmt.Sprintf("esdb://%s?tls=false", srv.Addr())
}

// Client connects a v4 client to srv and closes it with the test.
func Client(t testing.TB, srv *esdbserver.Server) *esdb.Client {
	t.Helper()
	return ClientFor(t, URL(srv))
}

// ClientFor connects a v4 client with a connection string.
func ClientFor(t testing.TB, url string) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	// The client logs every discovery step; tests read failures, not chatter.
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Store starts a server and opens the service's event store adapter on it
// with opts (URL is filled in); both close with the test.
func Store(t testing.TB, opts eventstore.Options) *eventstore.Store {
	t.Helper()
	opts.URL = URL(Start(t))
	s, err := eventstore.Open(opts)
	if err != nil {
		t.Fatalf("open the event store adapter: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
