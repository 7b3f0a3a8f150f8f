package mongostore

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/mongostore/mongotest"
)

// cutProxy forwards TCP to a server until cut, then drops every
// connection and refuses new ones: MongoDB going away under a running
// store.
type cutProxy struct {
	lis   net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{lis: lis}
	go func() {
		for {
			in, err := lis.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) cut() {
	p.lis.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// A store whose server is gone answers within the selection timeout with
// readstore.ErrUnavailable, which the API turns into 503 and Retry-After:
// before, reads waited the driver's 30 s (twice: alias, then document)
// and failed as a plain error, a 500 (MongoDB QA: 44–60 s).
func TestAnOutageIsUnavailableSoon(t *testing.T) {
	real := mongotest.URI(t)
	u, err := url.Parse(real)
	if err != nil {
		t.Fatal(err)
	}
	p := newCutProxy(t, u.Host)
	u.Host = p.lis.Addr().String()
	db := mongotest.Database(t)
	const wait = time.Second
	s, err := Open(t.Context(), Options{URI: u.String(), Database: db, Logger: quietLogger(), SelectionTimeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer mongotest.DropDatabase(t, real, db)
	ctx := context.Background()
	if err := s.EnsureCollection(ctx, "outage_g1", readstore.KindDocs); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAliases(ctx, map[string]string{"outage": "outage_g1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "outage", "x"); !errors.Is(err, readstore.ErrNotFound) {
		t.Fatalf("before the outage: %v", err)
	}
	p.cut()
	time.Sleep(2 * MaxCatalogTTL) // past the cached aliases, too
	for name, call := range map[string]func() error{
		"get":   func() error { _, err := s.Get(ctx, "outage", "x"); return err },
		"list":  func() error { _, err := s.List(ctx, readstore.ListQuery{Collection: "outage"}); return err },
		"blob":  func() error { _, _, err := s.OpenBlob(ctx, strings.Repeat("0", 64)); return err },
		"alias": func() error { _, err := s.Alias(ctx, "outage"); return err },
	} {
		t0 := time.Now()
		err := call()
		if d := time.Since(t0); d > 3*wait {
			t.Errorf("%s: answered after %v", name, d)
		}
		if !errors.Is(err, readstore.ErrUnavailable) {
			t.Errorf("%s during the outage: %v, want readstore.ErrUnavailable", name, err)
		}
	}
}
