package app

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/events/esdbserver"
)

// startEmbeddedStore runs the in-process event store behind TLS and a
// password, and returns it with the connection string this node's client
// uses. Its port is reachable by every process on the machine (and on the
// network when OMS_ESDB_LISTEN says so); in EventStoreDB's insecure mode
// any of them could read every event and append a forged approval.
func startEmbeddedStore(cfg config.Config, log *slog.Logger) (*esdbserver.Server, string, error) {
	dir := filepath.Join(cfg.DataDir, "eventstore-tls")
	local, err := esdbserver.EnsureLocalTLS(dir, listenHosts(cfg.ESDBListen))
	if err != nil {
		return nil, "", fmt.Errorf("app: embedded event store credentials: %w", err)
	}
	if cfg.ESDBTLSCert != "" {
		// The operator's certificate (one the other nodes already trust)
		// replaces the made one; the password is still the data dir's.
		local.CertFile, local.KeyFile = cfg.ESDBTLSCert, cfg.ESDBTLSKey
	}
	srv, err := esdbserver.Start(local.Secure(esdbserver.Options{
		Addr: cfg.ESDBListen, Dir: filepath.Join(cfg.DataDir, "eventstore"), Logger: log,
	}))
	if err != nil {
		return nil, "", fmt.Errorf("app: embedded event store: %w", err)
	}
	_, _, passFile := esdbserver.LocalTLSFiles(dir)
	log.Info("the embedded event store takes TLS and a password only; another node connects with "+
		"OMS_ESDB_URL=esdb://"+esdbserver.LocalUser+":<password>@<host>:<port>?tls=true&tlsCAFile=<certificate>",
		"password_file", passFile, "certificate", local.CertFile)
	return srv, local.ClientURL(srv.Addr()), nil
}

// listenHosts are the names the certificate must carry for the other
// nodes to dial the listener by: its host, or when it listens on every
// interface the machine's name and addresses.
func listenHosts(listen string) []string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return []string{host}
	}
	var hosts []string
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			hosts = append(hosts, n.IP.String())
		}
	}
	return hosts
}
