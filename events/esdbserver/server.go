// Package esdbserver is an embedded, in-process server for the EventStoreDB
// gRPC client protocol (the event_store.client.* v1 services). The service
// talks to it through the real EventStore-Client-Go/v4 client over loopback
// TCP, exactly as it would talk to a KurrentDB node, so switching to an
// external node (OMS_ESDB_URL) changes a connection string and nothing else.
//
// Stream semantics live in streamdb and durability in eventlog; this package
// maps them onto the protocol: message shapes the v4 client accepts (it
// panics on unknown read replies and exits the process on events without a
// "created" stamp), error trailers, Basic authentication and TLS.
package esdbserver

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/omsonline/oms/events/esdbserver/streamdb"
)

// Version is what ServerFeatures reports. The v4 client parses it as
// numbers only, and enables the CaughtUp message from 23 on.
const Version = "24.10.0"

// Options configure a Server.
type Options struct {
	// Addr to listen on; "127.0.0.1:0" picks a free port.
	Addr string
	// Dir holds the event log.
	Dir string
	// TLSCertFile and TLSKeyFile, both set, switch the listener to TLS,
	// and every call must then carry the credentials of one of Users.
	// Without TLS the server runs as EventStoreDB's insecure mode: anyone
	// who reaches the port may call it, since the v4 client sends no
	// credentials over plain text (see LocalTLS).
	TLSCertFile, TLSKeyFile string
	// Users maps user name to password for Basic authentication; a TLS
	// server needs at least one. There are no default users: EventStoreDB's
	// well-known "changeit" would open a server to anyone who reads its
	// documentation.
	Users map[string]string
	// NoSync skips fdatasync; benchmarks of the protocol only.
	NoSync bool
	// SyncDelay slows every write down like a slow disk; tests only (see
	// eventlog.Options).
	SyncDelay time.Duration
	Logger    *slog.Logger
	// HandshakeTimeout bounds how long a new connection may take to
	// finish TLS and the HTTP/2 preface; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// UnaryTimeout bounds a request-response call (deleting or
	// tombstoning a stream, server features) whose client set no deadline;
	// 0 means DefaultUnaryTimeout. Appends, reads and subscriptions are
	// streams, bounded by their client's deadline and the keepalive.
	UnaryTimeout time.Duration
}

// Timeouts of the server. gRPC has no read or write timeout per message;
// these are its equivalents: a handshake deadline against connections that
// never speak, keepalive pings that close connections whose peer vanished
// (a live subscription otherwise keeps a dead socket forever), and a
// deadline on unary calls.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultUnaryTimeout     = 30 * time.Second
	keepaliveTime           = 30 * time.Second
	keepaliveTimeout        = 10 * time.Second
)

// StreamWorkers is how many gRPC streams run on reused goroutines at once
// (see NewServer's options); more than that still run, each on a goroutine
// of its own.
const StreamWorkers = 8

// Server is a running embedded event store.
type Server struct {
	db     *streamdb.DB
	grpc   *grpc.Server
	lis    net.Listener
	tls    bool
	users  map[string]string
	logger *slog.Logger
	done   chan struct{}
	once   sync.Once
	// inflight counts running RPCs so Close can let them finish without
	// waiting for idle client connections, which GracefulStop would.
	inflight     sync.WaitGroup
	unaryTimeout time.Duration
}

// Start opens the store and starts serving.
func Start(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:2113"
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.UnaryTimeout <= 0 {
		opts.UnaryTimeout = DefaultUnaryTimeout
	}
	var creds credentials.TransportCredentials
	if opts.TLSCertFile != "" || opts.TLSKeyFile != "" {
		if len(opts.Users) == 0 {
			return nil, fmt.Errorf("esdbserver: a TLS server needs at least one user")
		}
		for u, p := range opts.Users {
			if u == "" || p == "" {
				return nil, fmt.Errorf("esdbserver: user %q has an empty name or password", u)
			}
		}
		cert, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("esdbserver: load TLS key pair: %w", err)
		}
		creds = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	db, err := streamdb.Open(streamdb.Options{Dir: opts.Dir, NoSync: opts.NoSync, SyncDelay: opts.SyncDelay, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("esdbserver: open store: %w", err)
	}
	lis, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("esdbserver: listen on %s: %w", opts.Addr, err)
	}
	s := &Server{db: db, lis: lis, tls: creds != nil, users: opts.Users, logger: opts.Logger, done: make(chan struct{}), unaryTimeout: opts.UnaryTimeout}
	gopts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
		grpc.MaxRecvMsgSize(32 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.ConnectionTimeout(opts.HandshakeTimeout),
		// Every append is a stream of its own. Workers with grown stacks
		// take them instead of a fresh goroutine each; when all are busy
		// (a worker holds a live subscription for as long as it lasts),
		// gRPC falls back to a goroutine, so none waits for a worker.
		// BenchmarkAppend at 64 writers, GOMAXPROCS 4, eight interleaved
		// pairs: 18.9k, 21.0k, 21.4k, 20.4k, 20.5k, 19.8k, 16.8k, 18.2k
		// appends/s without, 19.3k, 24.2k, 22.0k, 23.4k, 23.3k, 20.3k,
		// 17.4k, 22.0k with 8.
		grpc.NumStreamWorkers(StreamWorkers),
		// Events go to readers pre-encoded (see readwire.go).
		grpc.ForceServerCodecV2(newWireCodec()),
	}
	if creds != nil {
		gopts = append(gopts, grpc.Creds(creds))
	}
	s.grpc = grpc.NewServer(gopts...)
	registerStreams(s.grpc, &streamsService{db: db, logger: opts.Logger, done: s.done})
	registerFeatures(s.grpc)
	go func() {
		if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			opts.Logger.Error("esdbserver: serve", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// TLS reports whether the listener serves TLS.
func (s *Server) TLS() bool { return s.tls }

// DB exposes the store, for benchmarks and diagnostics (fsync counts).
func (s *Server) DB() *streamdb.DB { return s.db }

// Close stops serving: live subscriptions end, in-flight appends finish,
// then the log is closed.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done) // live subscriptions return
		finished := make(chan struct{})
		go func() { s.inflight.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
			s.logger.Warn("esdbserver: RPCs still running after 5s; stopping anyway")
		}
		s.grpc.Stop()
		err = s.db.Close()
	})
	return err
}

// authenticate checks Basic credentials. EventStoreDB in insecure mode runs
// without authentication; wrong credentials are refused in both modes.
func (s *Server) authenticate(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		if !s.tls || strings.HasPrefix(method, "/event_store.client.server_features.") {
			return nil
		}
		return status.Error(codes.PermissionDenied, "Access denied")
	}
	user, pass, ok := parseBasic(vals[0])
	if ok {
		if want, known := s.users[user]; known && subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "Bad authentication")
}

func parseBasic(h string) (string, string, bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.authenticate(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	s.inflight.Add(1)
	defer s.inflight.Done()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.unaryTimeout)
		defer cancel()
	}
	return handler(ctx, req)
}

// drainRequests reads what a client-streaming call (an append) sends, up
// to a bound, before the call is refused. Answered at once, a client that
// is still sending sees its next send fail with EOF and, like the v4
// client, reports that transport error instead of the refusal; drained,
// it reads the status after its last send.
func drainRequests(ss grpc.ServerStream) {
	const maxMessages = 1024
	for range maxMessages {
		var m emptypb.Empty
		if err := ss.RecvMsg(&m); err != nil {
			return
		}
	}
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.authenticate(ss.Context(), info.FullMethod); err != nil {
		if info.IsClientStream {
			drainRequests(ss)
		}
		return err
	}
	s.inflight.Add(1)
	defer s.inflight.Done()
	return handler(srv, ss)
}
