package esdbserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
)

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLSAndCredentials(t *testing.T) {
	cert, key := selfSigned(t)
	// No default users: a TLS server without any is refused, rather than
	// opened to EventStoreDB's well-known admin/changeit.
	if srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: t.TempDir(), TLSCertFile: cert, TLSKeyFile: key}); err == nil {
		srv.Close()
		t.Fatal("a TLS server without users started")
	}
	users := map[string]string{"admin": "pw-admin", "ops": "pw-ops"}
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: t.TempDir(), TLSCertFile: cert, TLSKeyFile: key, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := func(userinfo string) string {
		return fmt.Sprintf("esdb://%s%s?tls=true&tlsCAFile=%s", userinfo, srv.Addr(), cert)
	}
	for _, user := range []string{"admin", "ops"} {
		c := esdbtest.ClientFor(t, url(user+":"+users[user]+"@"))
		if _, err := c.AppendToStream(ctx(t), "tls-"+user, esdb.AppendToStreamOptions{}, ev("T", `{}`)); err != nil {
			t.Fatalf("%s over TLS: %v", user, err)
		}
		if _, err := readStream(t, c, "tls-"+user, esdb.ReadStreamOptions{}, 1); err != nil {
			t.Fatalf("%s read: %v", user, err)
		}
	}
	bad := esdbtest.ClientFor(t, url("admin:wrong@"))
	_, err = bad.AppendToStream(ctx(t), "tls-bad", esdb.AppendToStreamOptions{}, ev("T", `{}`))
	wantCode(t, err, esdb.ErrorCodeUnauthenticated)
	well := esdbtest.ClientFor(t, url("admin:changeit@"))
	_, err = well.AppendToStream(ctx(t), "tls-changeit", esdb.AppendToStreamOptions{}, ev("T", `{}`))
	wantCode(t, err, esdb.ErrorCodeUnauthenticated)
	_, err = readStream(t, bad, "tls-admin", esdb.ReadStreamOptions{}, 1)
	wantCode(t, err, esdb.ErrorCodeUnauthenticated)

	anon := esdbtest.ClientFor(t, url(""))
	_, err = anon.AppendToStream(ctx(t), "tls-anon", esdb.AppendToStreamOptions{}, ev("T", `{}`))
	wantCode(t, err, esdb.ErrorCodeAccessDenied)
	// Server features stay readable without credentials, as the client asks
	// for them before it authenticates anything.
	if _, err := anon.GetServerVersion(); err != nil {
		t.Fatalf("server version without credentials: %v", err)
	}
	// Per-call credentials override the connection's.
	if _, err := bad.AppendToStream(ctx(t), "tls-override", esdb.AppendToStreamOptions{Authenticated: &esdb.Credentials{Login: "admin", Password: users["admin"]}}, ev("T", `{}`)); err != nil {
		t.Fatalf("per-call credentials: %v", err)
	}
}

// The v4 client never sends credentials without TLS, so the insecure check is
// made with a raw gRPC call.
func TestInsecureRefusesWrongCredentials(t *testing.T) {
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: t.TempDir(), Users: map[string]string{"admin": "pw-admin"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	call := func(auth string) error {
		c := context.Background()
		if auth != "" {
			c = metadata.AppendToOutgoingContext(c, "authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
		}
		rs, err := api.NewStreamsClient(conn).Read(c, &api.ReadReq{Options: &api.ReadReq_Options{
			StreamOption: &api.ReadReq_Options_Stream{Stream: &api.ReadReq_Options_StreamOptions{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("x")},
				RevisionOption:   &api.ReadReq_Options_StreamOptions_Start{Start: &shared.Empty{}},
			}},
			CountOption:  &api.ReadReq_Options_Count{Count: 1},
			FilterOption: &api.ReadReq_Options_NoFilter{NoFilter: &shared.Empty{}},
			UuidOption:   &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_String_{String_: &shared.Empty{}}},
		}})
		if err != nil {
			return err
		}
		_, err = rs.Recv()
		return err
	}
	if err := call(""); err != nil {
		t.Fatalf("anonymous insecure read: %v", err)
	}
	if err := call("admin:pw-admin"); err != nil {
		t.Fatalf("admin insecure read: %v", err)
	}
	if err := call("admin:changeit"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("the well-known default password: want Unauthenticated, got %v", err)
	}
	if err := call("admin:nope"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong password: want Unauthenticated, got %v", err)
	}
	f, err := serverfeatures.NewServerFeaturesClient(conn).GetSupportedMethods(context.Background(), &shared.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if f.EventStoreServerVersion != esdbserver.Version {
		t.Fatalf("version %q", f.EventStoreServerVersion)
	}
}
