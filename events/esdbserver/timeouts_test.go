package esdbserver_test

import (
	"net"
	"testing"
	"time"

	"github.com/omsonline/oms/events/esdbserver"
)

// TestSilentConnectionIsClosed: a client that connects and never sends
// the HTTP/2 preface is dropped after the handshake timeout instead of
// holding a connection and a goroutine for ever.
func TestSilentConnectionIsClosed(t *testing.T) {
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: t.TempDir(), HandshakeTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept a silent connection open for 5 s")
			}
			break
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %s", d)
	}
}
