// Package mongotest gives tests a MongoDB-compatible server without any setup:
// an in-process FerretDB v1 on a temporary SQLite directory, started once per
// test binary on first use. It is for tests only; importing it pulls FerretDB
// into the binary.
//
// FerretDB v1 is good enough for contract tests but is not MongoDB: it scans
// whole collections for every query (keep data tiny), loses concurrent
// updates to one document, and has no transactions or change streams. Tests
// that need real MongoDB semantics use RealURI, which reads
// OMS_TEST_MONGO_URI and skips when it is unset.
//
// A package whose tests use URI should stop the server at the end:
//
//	func TestMain(m *testing.M) { mongotest.Main(m) }
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// EnvURI names the variable that points tests at a real MongoDB.
const EnvURI = "OMS_TEST_MONGO_URI"

// EnvLog, set to debug, info, warn or error, shows FerretDB's log on stderr
// at that level. By default it is silent: FerretDB logs every failed request
// at WARN, and the contract tests fail requests on purpose.
const EnvLog = "OMS_TEST_FERRETDB_LOG"

var server struct {
	once sync.Once
	uri  string
	err  error
	dir  string
	stop context.CancelFunc
	done chan struct{}
}

// URI returns the MongoDB URI of the shared FerretDB, starting it on first
// use. It fails the test if FerretDB cannot start.
func URI(t testing.TB) string {
	t.Helper()
	server.once.Do(start)
	if server.err != nil {
		t.Fatalf("mongotest: start FerretDB: %v", server.err)
	}
	return server.uri
}

// RealURI returns OMS_TEST_MONGO_URI, or skips the test when it is unset.
func RealURI(t testing.TB) string {
	t.Helper()
	uri := os.Getenv(EnvURI)
	if uri == "" {
		t.Skipf("%s is not set; this test needs a real MongoDB (FerretDB v1 lacks the semantics it checks)", EnvURI)
	}
	return uri
}

func start() {
	dir, err := os.MkdirTemp("", "oms-ferretdb-")
	if err != nil {
		server.err = err
		return
	}
	server.dir = dir
	// There is no telemetry option in Config: the embedded FerretDB
	// turns telemetry off (and locks it) itself.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:  "sqlite",
		// A directory URL: one SQLite file per database. It must end in
		// "/"; the in-memory mode hangs.
		SQLiteURL: "file:" + dir + "/",
		Logger:    logger(),
	})
	if err != nil {
		server.err = err
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	server.stop = cancel
	server.done = make(chan struct{})
	go func() {
		defer close(server.done)
		_ = f.Run(ctx) // returns when ctx is cancelled
	}()
	// MongoDBURI waits for the listener that Run starts.
	server.uri = f.MongoDBURI()
	server.err = ping(server.uri)
}

func logger() *slog.Logger {
	var level slog.Level
	switch strings.ToLower(os.Getenv(EnvLog)) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func ping(uri string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	return c.Ping(ctx, nil)
}

// Main runs the tests and then stops FerretDB, if it was started, and
// removes its data. Use it as the package's TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the shared FerretDB and removes its data. URI must not be
// called afterwards.
func Stop() {
	if server.stop != nil {
		server.stop()
		select {
		case <-server.done:
		case <-time.After(10 * time.Second):
		}
	}
	if server.dir != "" {
		_ = os.RemoveAll(server.dir)
	}
}

var dbSeq atomic.Int64

// Database returns a database name no other test (in this or a concurrent
// test run) uses. It fits FerretDB's name rules (^[a-zA-Z0-9_-]{1,63}$).
func Database(t testing.TB) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("oms_test_%d_%d_%s", os.Getpid()%100000, dbSeq.Add(1), hex.EncodeToString(b[:]))
}

// DropDatabase drops a test database; register it with t.Cleanup so that
// runs against a shared MongoDB leave nothing behind.
func DropDatabase(t testing.TB, uri, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Errorf("mongotest: drop %s: %v", name, err)
		return
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	if err := c.Database(name).Drop(ctx); err != nil {
		t.Errorf("mongotest: drop %s: %v", name, err)
	}
}
