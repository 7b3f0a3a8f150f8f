// Package app assembles omsd from its parts: the event store (embedded or
// external), the read-model store (embedded SQLite or MongoDB), the
// projection runner and the HTTP API. omsd's main, the end-to-end tests and
// omsctl's benchmarks all start the service through Start, so what is tested
// is what runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/cmd/internal/admin"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/authz"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/cmd/internal/logging"
	"github.com/omsonline/oms/cmd/internal/memrelease"
	"github.com/omsonline/oms/cmd/internal/metrics"
	"github.com/omsonline/oms/cmd/internal/openapi"
	"github.com/omsonline/oms/command/cmderr"
	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/command/httpapi/reqbody"
	"github.com/omsonline/oms/command/scheduler"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/command/sweeper"
	"github.com/omsonline/oms/command/visit"
	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/calendar"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/leader"
	"github.com/omsonline/oms/projections/lease"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
	"github.com/omsonline/oms/projections/runner"
	queryapi "github.com/omsonline/oms/query/httpapi"
)

// App is a running omsd.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	esdb     *esdbserver.Server // nil with an external store
	esdbURL  string             // the embedded store's connection string
	metrics  *metrics.Metrics
	events   *eventstore.Store
	store    readstore.Store
	keys     *piicrypt.Keyring
	leader   *leader.Leader
	commands *service.Service
	// visits are the МФЦ operators' open visits, checked before an
	// operator acts for an applicant.
	visits     *visit.Service
	leaderDone chan struct{}
	http       *fiber.App
	httpLis    net.Listener
	cancel     context.CancelFunc
	done       chan error
	debugAddr  string
	readiness  *readiness
	dirLock    *os.File // nil where data dirs are not locked
}

// Start brings every part up and returns once HTTP is serving.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (a *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log = logging.Wrap(log) // request and correlation ids on every line
	a = &App{cfg: cfg, log: log, done: make(chan error, 1)}
	// "return nil, err" sets a to nil before deferred calls run: close
	// what was started through a copy of the pointer.
	started := a
	defer func() {
		if err != nil {
			started.Close()
		}
	}()

	if a.dirLock, err = lockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	url := cfg.ESDBURL
	if url == "" {
		if a.esdb, url, err = startEmbeddedStore(cfg, log); err != nil {
			return nil, err
		}
		a.esdbURL = url
	}
	a.metrics = metrics.New()
	// The read store first: it holds the key vault that every event
	// with personal data is sealed and opened with.
	a.store, err = openReadStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if a.keys, err = openKeyring(ctx, cfg, a.store, log); err != nil {
		return nil, err
	}
	a.events, err = eventstore.Open(eventstore.Options{URL: url, Logger: log, OnAppend: a.metrics.ObserveAppend,
		Sealer: piicrypt.NewSealer(a.keys, piicrypt.Personal{Sections: schema.PersonalSections, Clear: schema.PersonalClearKeys})})
	if err != nil {
		return nil, err
	}
	// The client waits for an absent event store as long as a call lets
	// it (it rides out the store's restarts): at start, one that does not
	// answer is an error that names it, not a node that hangs.
	reach, cancel := context.WithTimeout(ctx, cfg.ESDBConnectTimeout)
	_, err = a.events.Head(reach)
	cancel()
	if err != nil {
		where := redactURL(url)
		return nil, fmt.Errorf("событийное хранилище %s не ответило за %s (OMS_ESDB_CONNECT_TIMEOUT); the event store at %s did not answer within %s (OMS_ESDB_CONNECT_TIMEOUT): %w",
			where, cfg.ESDBConnectTimeout, where, cfg.ESDBConnectTimeout, err)
	}

	projs := ProjectionsFor(cfg)
	names := make([]string, len(projs))
	for i, p := range projs {
		names[i] = p.Name()
	}
	holder, err := nodeID(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.AdvertiseURL != "" {
		// The lease names its holder to every other node (not_leader,
		// omsctl's RUNS ON): with the address, an operator can reach it.
		holder += "@" + cfg.AdvertiseURL
	}
	a.leader = leader.New(leader.Options{
		Lease: lease.New(lease.Options{Store: a.events, Stream: "lease-projections", Holder: holder, TTL: cfg.LeaseTTL, Logger: log}),
		Build: func(ctx context.Context, term leader.Term) (*runner.Runner, error) {
			// One $all subscription for all projections: each event
			// crosses gRPC, is opened and decoded once, not once per
			// projection.
			sub := eventstore.NewFanOut(a.events, names, eventstore.SubscriberOptions{StartFrom: runner.StartFrom(a.store), Logger: log})
			return runner.New(ctx, runner.Options{Store: a.store, Subscriber: sub, Events: a.events, Logger: log, Fence: term.Fence, FenceToken: term.Token, Fenced: term.Fenced,
				CacheBytes: int64(cfg.ProjectionCacheMB) << 20}, projs...)
		},
		Names: names, Store: a.store, Events: a.events, Logger: log,
	})

	key, err := authn.DevKey(cfg.DevKeyDir)
	if err != nil {
		return nil, err
	}
	// The key signs browser sessions in either mode; without an OIDC
	// issuer it also signs dev tokens, and omsd warns about that loudly.
	verifier := authn.NewDevVerifier(key)
	if cfg.OIDCIssuer != "" {
		verifier, err = authn.NewOIDCVerifier(ctx, authn.OIDCOptions{
			Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience, RolesClaim: cfg.OIDCRolesClaim,
			JWKSURL: cfg.OIDCJWKSURL, PublicKeyFile: cfg.OIDCPublicKeyFile, Logger: log,
		}, key)
		if err != nil {
			return nil, err
		}
	}
	verifier.Announce(log)
	verifier.UseRevocations(signOuts{es: a.events}, log)
	if a.visits, err = visit.NewService(visit.Options{Store: a.events, Secret: a.keys.Secret("visit-code"), Logger: log}); err != nil {
		return nil, err
	}

	a.http = fiber.New(fiber.Config{
		AppName:               "omsd",
		DisableStartupMessage: true,
		BodyLimit:             commandapi.MinAppBodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ErrorHandler:          commandapi.NewErrorHandler(logging.Wrap(log)),
		// Every string a handler gets from the request is its own copy.
		// Without this they are views of fasthttp's buffers, which the next
		// request overwrites: an operator's X-On-Behalf-Of kept in the key
		// cache became another applicant's id, and scans sealed under the
		// wrong key never opened again. A copy per header read is cheap
		// beside one such string escaping a handler unnoticed.
		Immutable: true,
		// Bodies stay on the wire until someone reads them (reqbody): the
		// authorization middleware, once the caller may send one, and an
		// upload only once it has a slot. Read ahead, every request's body
		// was in memory before its token was looked at, and sixteen
		// uploads waiting for four slots held sixteen scans.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	})
	a.http.Hooks().OnShutdown(func() error { verifier.Close(); return nil })
	a.http.Use(a.metrics.Middleware())
	a.http.Use(logging.Middleware(log))
	useRecover(a.http, log)
	a.http.Use(reqbody.Guard(commandapi.MinAppBodyLimit, func(c *fiber.Ctx, why error) error {
		if errors.Is(why, reqbody.ErrNoLength) {
			return commandapi.ErrorHandler(c, cmderr.New(cmderr.LengthRequired, "length_required", cmderr.T(
				"Укажите длину тела запроса (Content-Length): тело без неё не принимается.",
				"Give the request body's length (Content-Length): a body without one is not accepted.")))
		}
		return commandapi.ErrorHandler(c, cmderr.New(cmderr.TooLarge, "body_too_large", cmderr.T(
			fmt.Sprintf("Тело запроса больше %d МБ.", commandapi.MinAppBodyLimit>>20),
			fmt.Sprintf("The request body is larger than %d MB.", commandapi.MinAppBodyLimit>>20))))
	}))
	a.metrics.WatchProjections(a.leader, a.events)
	// Ahead of every route, probes included: a flood is cut off before
	// any work, and every answer carries the security headers.
	over, err := useEdgeGuards(a)
	if err != nil {
		return nil, err
	}
	a.http.Get("/metrics", a.metrics.Handler())
	a.http.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	a.readiness = &readiness{events: a.events, store: a.store, log: log}
	a.http.Get("/readyz", a.ready)
	a.http.Get(openapi.Path, openapi.Handler()) // public: before the /api auth
	a.http.Get("/api/v1/consent", commandapi.Consent)
	// Everything under /api needs a caller; routes below are registered with
	// their full paths and pass through this first.
	// A request refused here (401) is counted on its route's template, as
	// authz's refusals are: under the mount point, every one of them was
	// counted as "/api".
	routes := authz.Table()
	verify := verifier.Middleware()
	a.http.Use("/api", func(c *fiber.Ctx) error {
		err := verify(c)
		// Only a refusal pays for the look-up: a request let through is
		// counted on the route that serves it.
		if c.Response().StatusCode() == fiber.StatusUnauthorized {
			// No route of ours (a method none takes): "unmatched", not
			// the mount point (ops QA).
			r, _ := authz.Lookup(routes, c.Method(), c.Path())
			c.Locals(metrics.RouteKey{}, r.Path)
		}
		return err
	})
	// The authorization matrix (cmd/internal/authz) guards every route
	// registered below; a route it does not list is refused.
	if err := useAuthz(a, verifier, over); err != nil {
		return nil, err
	}
	// Staff reads of scans and policy extracts go into the access log
	// (routes.go); it wraps routes registered below.
	useAccessLog(a)
	if err := registerCommands(a.http, a); err != nil {
		return nil, err
	}
	queryapi.Register(a.http, queryapi.Deps{Store: a.store, Waiter: a.leader, Events: a.events, Calendar: calendar.Default(), Logger: log,
		MayAct: authz.ApplicationAction})
	admin.Register(a.http, admin.Deps{Runner: a.leader, Events: a.events, Store: a.store, Logger: log, Erasure: a.commands, Waiter: a.leader, Visits: a.visits})
	if err := registerWeb(a, verifier); err != nil {
		return nil, err
	}
	// The passport rule's second key must cover every open application
	// before the API checks a submission by it, or a second account could
	// take a passport that an older application holds under the first
	// key. So this migration runs before the API serves: at the first
	// start after the change it reads the event log once (some seconds a
	// million events), after that one read of its stream. Nodes of an
	// older version must not run beside this one: they reserve under the
	// first key only.
	if res, err := a.commands.ReserveDocuments(context.Background()); err != nil {
		return nil, fmt.Errorf("app: %s migration (it runs again at the next start): %w", service.DocumentsMigration, err)
	} else if res.Ran {
		log.Info("reservation migration done", "migration", service.DocumentsMigration, "reserved", res.Changed, "conflicts", res.Conflicts)
	}

	if err := startDebug(a); err != nil {
		return nil, err
	}

	sweep, err := sweeper.New(sweeper.Options{Store: a.events, DeleteBlob: a.store.DeleteBlob, Logger: log, Index: history.Projection{}.Name(),
		Attached: func(ctx context.Context, id string) (bool, error) { return history.Attached(ctx, a.store, id) },
		WaitHistory: func(ctx context.Context, pos uint64) error {
			return a.leader.WaitFor(ctx, history.Projection{}.Name(), pos)
		},
	})
	if err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.leaderDone = make(chan struct{})
	if cfg.RunProjections {
		go func() {
			defer close(a.leaderDone)
			if err := a.leader.Run(runCtx); err != nil {
				log.Error("projection lease campaign stopped", "err", err)
			}
		}()
	} else {
		close(a.leaderDone)
		log.Warn("this node runs no projections (OMS_RUN_PROJECTIONS=false): the cabinets, the queue and the history move only while another node runs them")
	}
	// A catch-up or a rebuild leaves its garbage in the heap until a
	// collection that a quiet process never starts, its data keys
	// unwrapped in memory, and the projections' caches full of documents
	// spread over spans the garbage shared: dropped, omsd's RSS at rest
	// after 1M events went from 256-261 MB to 182 MB (its Go heap from
	// 167-171 to 92 MB), and the next events read their documents back
	// from the store.
	go memrelease.Run(runCtx, memrelease.Options{Drop: func() {
		a.keys.Forget()
		if r, ok := a.leader.Runner(); ok {
			r.DropCaches()
		}
	}, Logger: log})
	// Every node ticks; idempotency keys make each reminder and expiry
	// happen once however many nodes see it due.
	go scheduler.New(scheduler.Options{Commands: a.commands, Store: a.store, Interval: cfg.SchedulerInterval, Logger: log}).Run(runCtx)
	// Scans nobody attached go after document.UnattachedRetention; every
	// node sweeps, each step is appended at its stream's revision.
	go sweep.Run(runCtx)
	// Applications from before the account reservation get theirs, once
	// per event store; the API serves meanwhile (a submission the
	// migration has not covered yet is checked by the document alone).
	// So do those from before the residence document's lock.
	go func() {
		for _, m := range []struct {
			name string
			run  func(context.Context) (service.MigrationResult, error)
		}{{service.AccountsMigration, a.commands.ReserveAccounts}, {service.ResidencesMigration, a.commands.ReserveResidences}} {
			res, err := m.run(runCtx)
			switch {
			case err != nil && runCtx.Err() == nil:
				log.Error("reservation migration failed; it runs again at the next start", "migration", m.name, "err", err)
			case res.Ran:
				log.Info("reservation migration done", "migration", m.name, "reserved", res.Changed, "conflicts", res.Conflicts)
			}
		}
	}()
	// A single node takes the lease at once (its own stale lease included,
	// as the holder id is kept in the data dir); wait for that briefly, but
	// a node among several serves queries without it.
	if cfg.RunProjections {
		select {
		case <-a.leader.Started():
		case <-time.After(2 * time.Second):
			log.Info("projections run on another node for now; this node serves the API")
		}
	}

	a.httpLis, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("app: listen on %s: %w", cfg.HTTPAddr, err)
	}
	go func() { a.done <- a.http.Listener(a.httpLis) }()

	esdbWhere := redactURL(cfg.ESDBURL)
	if a.esdb != nil {
		esdbWhere = "embedded, gRPC on " + a.esdb.Addr()
	}
	readWhere := "embedded SQLite in " + cfg.ReadModelsDir
	if cfg.MongoURI != "" {
		readWhere = "MongoDB"
	}
	log.Info("omsd is up", "http", "http://"+a.httpLis.Addr().String(), "eventstore", esdbWhere, "readmodels", readWhere, "data", cfg.DataDir, "auth", verifier.Mode())
	return a, nil
}

// redactURL is a connection string without its password, for messages.
func redactURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unreadable connection string)"
	}
	if u.User != nil {
		u.User = neturl.User(u.User.Username())
	}
	return u.String()
}

func openReadStore(ctx context.Context, cfg config.Config, log *slog.Logger) (readstore.Store, error) {
	if cfg.MongoURI != "" {
		return openMongo(ctx, cfg, log)
	}
	s, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: cfg.ReadModelsDir, Logger: log})
	if err != nil {
		return nil, err // not s: see openMongo
	}
	return s, nil
}

// HTTPAddr is where the API listens.
func (a *App) HTTPAddr() string { return a.httpLis.Addr().String() }

// EmbeddedStoreURL is the connection string of the embedded event store,
// with its password, as another node gives it in OMS_ESDB_URL ("" when
// the event store is external).
func (a *App) EmbeddedStoreURL() string { return a.esdbURL }

// Events is the event store adapter.
func (a *App) Events() *eventstore.Store { return a.events }

// Store is the read-model store.
func (a *App) Store() readstore.Store { return a.store }

// Keys is the keyring that seals applicants' personal data.
func (a *App) Keys() *piicrypt.Keyring { return a.keys }

// Projections answers for the projections on any node; Runner is non-nil
// only while this node holds the lease.
func (a *App) Projections() *leader.Leader { return a.leader }

// Runner returns the running projections of the leaseholder (nil
// elsewhere).
func (a *App) Runner() *runner.Runner {
	r, _ := a.leader.Runner()
	return r
}

// Done reports the HTTP server's exit.
func (a *App) Done() <-chan error { return a.done }

// Close shuts down in dependency order: stop taking requests, stop the
// projections (flushing their batches), then the stores.
func (a *App) Close() error {
	var errs []error
	if a.http != nil {
		errs = append(errs, a.http.ShutdownWithTimeout(10*time.Second))
	}
	if a.cancel != nil {
		// Ends the campaign: the projections flush and the lease is
		// released for another node.
		a.cancel()
		<-a.leaderDone
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	if a.events != nil {
		// A call still blocked in the client (a readiness probe while the
		// store is away) keeps it open: Close waits for it a few seconds
		// and leaves the client to close when it ends.
		errs = append(errs, a.events.Close())
	}
	if a.esdb != nil {
		errs = append(errs, a.esdb.Close())
	}
	if a.dirLock != nil {
		errs = append(errs, a.dirLock.Close())
	}
	return errors.Join(errs...)
}
