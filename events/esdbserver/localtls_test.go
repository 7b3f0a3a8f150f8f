package esdbserver_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
)

// A server started with LocalTLS answers its own client, refuses one
// without the password or with another, and keeps the same certificate
// and password across restarts, so that the other nodes' connection
// strings stay good.
func TestLocalTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	l, err := esdbserver.EnsureLocalTLS(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, l.KeyFile: 0o600, filepath.Join(dir, "password"): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
	if len(l.Password) < 32 {
		t.Fatalf("password %q is short", l.Password)
	}
	certPEM, err := os.ReadFile(l.CertFile)
	if err != nil {
		t.Fatal(err)
	}

	srv, err := esdbserver.Start(l.Secure(esdbserver.Options{Addr: "127.0.0.1:0", Dir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// A server listening on every interface is dialled on loopback: the
	// v4 client refused "[::]:port", and omsd with OMS_ESDB_LISTEN=
	// 0.0.0.0:2113 did not start. (Tests listen on loopback only, so this
	// one names such addresses without listening on them.)
	for _, every := range []string{"0.0.0.0:4321", "[::]:4321"} {
		u := l.ClientURL(every)
		if _, err := esdb.ParseConnectionString(u); err != nil || !strings.Contains(u, "@127.0.0.1:4321?") {
			t.Errorf("client URL for %s: %s (%v)", every, strings.ReplaceAll(u, l.Password, "***"), err)
		}
	}
	c := esdbtest.ClientFor(t, l.ClientURL(srv.Addr()))
	if _, err := c.AppendToStream(ctx(t), "local-tls", esdb.AppendToStreamOptions{}, ev("T", `{}`)); err != nil {
		t.Fatalf("append with the local password: %v", err)
	}
	_, port, _ := net.SplitHostPort(srv.Addr())
	for name, u := range map[string]string{
		"no password":        fmt.Sprintf("esdb://127.0.0.1:%s?tls=true&tlsCAFile=%s", port, l.CertFile),
		"another password":   fmt.Sprintf("esdb://admin:guess@127.0.0.1:%s?tls=true&tlsCAFile=%s", port, l.CertFile),
		"the known default":  fmt.Sprintf("esdb://admin:changeit@127.0.0.1:%s?tls=true&tlsCAFile=%s", port, l.CertFile),
		"another user":       fmt.Sprintf("esdb://ops:%s@127.0.0.1:%s?tls=true&tlsCAFile=%s", l.Password, port, l.CertFile),
		"plain text, no TLS": fmt.Sprintf("esdb://127.0.0.1:%s?tls=false", port),
	} {
		bad := esdbtest.ClientFor(t, u)
		if _, err := bad.AppendToStream(ctx(t), "local-tls", esdb.AppendToStreamOptions{}, ev("Forged", `{}`)); err == nil {
			t.Errorf("%s: an append was taken", name)
		}
	}
	if n, err := readStream(t, c, "local-tls", esdb.ReadStreamOptions{}, 10); err != nil || len(n) != 1 {
		t.Fatalf("the stream holds %d events (%v), want the one appended with the password", len(n), err)
	}

	// Again: the same password and the same certificate.
	again, err := esdbserver.EnsureLocalTLS(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Password != l.Password {
		t.Fatal("the password changed on a second start")
	}
	if b, _ := os.ReadFile(again.CertFile); string(b) != string(certPEM) {
		t.Fatal("the certificate was made again though it was good")
	}
	// A host the certificate does not name makes it anew, with the old
	// ones still in it; the password stays.
	third, err := esdbserver.EnsureLocalTLS(dir, []string{"10.0.0.5", "oms-1.internal"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(third.CertFile)
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"10.0.0.5", "oms-1.internal", "127.0.0.1", "localhost"} {
		if err := cert.VerifyHostname(h); err != nil {
			t.Errorf("the new certificate does not name %s: %v", h, err)
		}
	}
	if third.Password != l.Password {
		t.Fatal("the password changed with the certificate")
	}
	if cert.NotAfter.Before(time.Now().Add(365 * 24 * time.Hour)) {
		t.Fatalf("the certificate ends at %v", cert.NotAfter)
	}
}
