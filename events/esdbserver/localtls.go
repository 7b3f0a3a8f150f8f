package esdbserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The v4 client sends credentials only over TLS, so a server that asks
// for a password must speak TLS; without one, anyone who reaches its port
// (on one machine, any local user) could read every event and append
// forged ones, such as an approval. LocalTLS is what a node that runs the
// embedded server needs for that when no certificate is given: a
// self-signed certificate and a password, made once and kept with the
// data, which the node's own client trusts and which an operator hands to
// the other nodes that connect.

// LocalUser is the one user of a server started with LocalTLS.
const LocalUser = "admin"

// localCertTerm is how long a made certificate is valid; one within
// localCertRenew of its end is made again at start.
const (
	localCertTerm  = 5 * 365 * 24 * time.Hour
	localCertRenew = 30 * 24 * time.Hour
)

// LocalTLS is a server's certificate, its key and the password of
// LocalUser.
type LocalTLS struct {
	CertFile, KeyFile string
	Password          string
}

// LocalTLSFiles names the files EnsureLocalTLS keeps in dir.
func LocalTLSFiles(dir string) (cert, key, password string) {
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "password")
}

// EnsureLocalTLS loads from dir, or makes there, a self-signed certificate
// valid for hosts (IP addresses or names; loopback is always included) and
// a random password. A certificate that is unreadable, near its end, or
// not valid for one of hosts is made again; the password is kept.
func EnsureLocalTLS(dir string, hosts []string) (LocalTLS, error) {
	certFile, keyFile, passFile := LocalTLSFiles(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return LocalTLS{}, fmt.Errorf("esdbserver: local TLS dir: %w", err)
	}
	pass, err := ensurePassword(passFile)
	if err != nil {
		return LocalTLS{}, err
	}
	hosts = append([]string{"127.0.0.1", "::1", "localhost"}, hosts...)
	if !certCovers(certFile, keyFile, hosts, time.Now().Add(localCertRenew)) {
		if err := writeSelfSigned(certFile, keyFile, hosts); err != nil {
			return LocalTLS{}, err
		}
	}
	return LocalTLS{CertFile: certFile, KeyFile: keyFile, Password: pass}, nil
}

// ClientURL is the connection string a v4 client reaches the server at
// addr with. A server listening on every interface is dialled on
// loopback: the client takes no "[::]" host.
func (l LocalTLS) ClientURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	u := url.URL{Scheme: "esdb", User: url.UserPassword(LocalUser, l.Password), Host: addr,
		RawQuery: url.Values{"tls": {"true"}, "tlsCAFile": {l.CertFile}}.Encode()}
	return u.String()
}

// Users is the Options.Users of a server started with l.
func (l LocalTLS) Users() map[string]string { return map[string]string{LocalUser: l.Password} }

// Secure is o serving TLS with l's certificate and taking l's password.
func (l LocalTLS) Secure(o Options) Options {
	o.TLSCertFile, o.TLSKeyFile, o.Users = l.CertFile, l.KeyFile, l.Users()
	return o
}

func ensurePassword(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if p := strings.TrimSpace(string(b)); p != "" {
			return p, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("esdbserver: read the password: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("esdbserver: make a password: %w", err)
	}
	pass := base64.RawURLEncoding.EncodeToString(raw)
	// O_EXCL: of two processes starting at once, one password wins and
	// the other reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return ensurePassword(path)
	}
	if err != nil {
		return "", fmt.Errorf("esdbserver: write the password: %w", err)
	}
	_, werr := f.WriteString(pass + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("esdbserver: write the password: %w", werr)
	}
	return pass, nil
}

// certCovers reports whether the pair loads, is valid until after, and
// names every host.
func certCovers(certFile, keyFile string, hosts []string, after time.Time) bool {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || len(pair.Certificate) == 0 {
		return false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || cert.NotAfter.Before(after) {
		return false
	}
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func writeSelfSigned(certFile, keyFile string, hosts []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("esdbserver: make a TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("esdbserver: make a serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "oms embedded event store"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(localCertTerm),
		// The certificate is its own root: the clients trust exactly it.
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("esdbserver: make a certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("esdbserver: encode the TLS key: %w", err)
	}
	// The key first, and each file whole before it replaces the old one,
	// so that a crash leaves a pair that loads or one that is made again.
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})); err != nil {
		return err
	}
	return writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("esdbserver: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("esdbserver: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("esdbserver: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("esdbserver: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("esdbserver: write %s: %w", path, err)
	}
	return nil
}
