// Package admin serves the administrator's HTTP endpoints: projections
// (status and lag, blue/green rebuilds, parked messages) and the erasure of
// an applicant's personal data. omsctl drives them; only the admin role may
// call them.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/leader"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Projections is what the endpoints need of the projections; the leader
// package provides it on every node.
type Projections interface {
	Names() []string
	Position(ctx context.Context, name string) (uint64, error)
	Behind(ctx context.Context, name string, head uint64) uint64
	Rebuild(ctx context.Context, name string, o runner.RebuildOptions) (runner.Progress, error)
	ReplayParked(ctx context.Context, name string) (int, error)
	// Leading reports whether this node runs the projections; Holder
	// names the node that does, as the lease says.
	Leading() bool
	Holder(ctx context.Context) (holder string, until time.Time, held bool, err error)
}

// Deps are what the endpoints operate on.
type Deps struct {
	Runner Projections
	Events *eventstore.Store
	Store  readstore.Store
	Logger *slog.Logger
	// Erasure and Waiter serve the erasure endpoint.
	Erasure Eraser
	Waiter  Waiter
	// Visits ends an erased applicant's МФЦ visits; nil leaves them be.
	Visits VisitCloser
}

// ProjectionStatus is one row of GET /api/v1/admin/projections.
type ProjectionStatus struct {
	Name       string `json:"name"`
	Position   uint64 `json:"position"`
	Head       uint64 `json:"head"`
	Generation int    `json:"generation"`
	// Term is the fencing token of the lease term that flushed last (0:
	// never under a lease): after a failover it shows which node's term
	// the read model is at.
	Term         uint64    `json:"term"`
	UpdatedAt    time.Time `json:"updatedAt"`
	EventsBehind uint64    `json:"eventsBehind"`
	Rebuild      *Rebuild  `json:"rebuild,omitempty"`
	// Holder is the node that runs the projections (its node id, the
	// lease's holder), "" while none does; a rebuild or a replay of
	// parked messages goes to it.
	Holder string `json:"holder,omitempty"`
}

// Rebuild is the state of a running or finished rebuild.
type Rebuild struct {
	Running    bool      `json:"running"`
	Events     int       `json:"events"`
	Position   uint64    `json:"position"`
	Head       uint64    `json:"head"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"` // absent while running
	Error      string    `json:"error,omitempty"`
	EventsPerS float64   `json:"eventsPerSecond"`
}

type server struct {
	d        Deps
	mu       sync.Mutex
	rebuilds map[string]*Rebuild
}

// Register mounts the admin routes.
func Register(r fiber.Router, d Deps) {
	s := &server{d: d, rebuilds: map[string]*Rebuild{}}
	g := r.Group("/api/v1/admin", s.onlyAdmin)
	g.Get("/projections", s.status)
	g.Post("/projections/:name/rebuild", s.rebuild)
	g.Get("/parked", s.parked)
	g.Post("/projections/:name/replay-parked", s.replayParked)
	g.Post("/applicants/:id/erase", s.erase)
	g.Get("/erasures", s.erasures)
}

func (s *server) onlyAdmin(c *fiber.Ctx) error {
	md, ok := events.MetadataFrom(c.UserContext())
	if !ok {
		return refuse(c, cmderr.New(cmderr.Unauthenticated, "unauthenticated", cmderr.T("Требуется вход в систему.", "Sign-in required.")))
	}
	if md.Actor.Role != events.RoleAdmin {
		return refuse(c, cmderr.New(cmderr.Forbidden, "wrong_role", cmderr.T("Только для администратора.", "Administrators only.")))
	}
	return c.Next()
}

func errUnknownProjection(name string) error {
	return cmderr.New(cmderr.NotFound, "unknown_projection", cmderr.T(
		fmt.Sprintf("Проекции %q нет.", name), fmt.Sprintf("No projection %q.", name)))
}

// known reports whether name is one of the projections.
func (s *server) known(name string) bool {
	return slices.Contains(s.d.Runner.Names(), name)
}

func (s *server) status(c *fiber.Ctx) error {
	ctx := c.UserContext()
	head, err := s.d.Events.Head(ctx)
	if err != nil {
		return err
	}
	cps, err := s.d.Store.Checkpoints(ctx)
	if err != nil {
		return err
	}
	byName := map[string]readstore.Checkpoint{}
	for _, cp := range cps {
		byName[cp.Projection] = cp
	}
	holder, _, _, err := s.d.Runner.Holder(ctx)
	if err != nil {
		return err
	}
	out := []ProjectionStatus{}
	for _, name := range s.d.Runner.Names() {
		pos, err := s.d.Runner.Position(ctx, name)
		if err != nil {
			return err
		}
		cp := byName[name]
		st := ProjectionStatus{Name: name, Position: pos, Head: head, Generation: cp.Generation, Term: cp.Fence, UpdatedAt: cp.UpdatedAt, Holder: holder}
		if head > pos {
			st.EventsBehind = s.d.Runner.Behind(ctx, name, head)
		}
		s.mu.Lock()
		if rb := s.rebuilds[name]; rb != nil {
			copy := *rb
			st.Rebuild = &copy
		}
		s.mu.Unlock()
		out = append(out, st)
	}
	return c.JSON(out)
}

// notLeader refuses what only the node running the projections does,
// naming that node so that an operator behind a load balancer can reach
// it.
func (s *server) notLeader(ctx context.Context) error {
	holder, until, held, err := s.d.Runner.Holder(ctx)
	if err != nil || !held {
		return cmderr.New(cmderr.Conflict, "not_leader", cmderr.T(
			"Проекции сейчас не работают на этом узле omsd, и ни один узел не держит их аренду; повторите запрос через несколько секунд.",
			"The projections do not run on this omsd node, and no node holds their lease; retry in a few seconds."))
	}
	return cmderr.New(cmderr.Conflict, "not_leader", cmderr.T(
		fmt.Sprintf("Проекции сейчас работают на узле %s (аренда до %s UTC); отправьте запрос туда.", holder, until.UTC().Format(time.DateTime)),
		fmt.Sprintf("The projections run on node %s (lease until %s UTC); send the request there.", holder, until.UTC().Format(time.DateTime))))
}

// rebuild starts a rebuild in the background and answers 202; progress is
// in the status listing.
func (s *server) rebuild(c *fiber.Ctx) error {
	// A copy: Fiber's parameter points into the request's buffer, which
	// later requests reuse, and the rebuild below outlives this one.
	name := strings.Clone(c.Params("name"))
	if !s.known(name) {
		return refuse(c, errUnknownProjection(name))
	}
	// A rebuild takes no options yet; a body, if any, must still be a JSON
	// object, so that a client's malformed request is not taken for a
	// request to rebuild.
	var opts struct{}
	if body := c.Body(); len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &opts); err != nil {
			return refuse(c, cmderr.New(cmderr.BadRequest, "bad_json", cmderr.T(
				"Тело запроса, если оно есть, — JSON-объект, например {}.", "The body, if any, is a JSON object such as {}.")))
		}
	}
	// Refused here rather than by the rebuild after the 202: the
	// client was told it had started, and learnt otherwise only later.
	if !s.d.Runner.Leading() {
		return refuse(c, s.notLeader(c.UserContext()))
	}
	s.mu.Lock()
	if rb := s.rebuilds[name]; rb != nil && rb.Running {
		s.mu.Unlock()
		return refuse(c, cmderr.New(cmderr.Conflict, "rebuild_running", cmderr.T("Перестройка уже идёт.", "A rebuild is already running.")))
	}
	rb := &Rebuild{Running: true, StartedAt: time.Now().UTC()}
	s.rebuilds[name] = rb
	// The answer is this copy: the rebuild below writes rb under s.mu
	// while the answer is encoded.
	started := *rb
	s.mu.Unlock()
	go func() {
		p, err := s.d.Runner.Rebuild(context.Background(), name, runner.RebuildOptions{OnProgress: func(p runner.Progress) {
			s.mu.Lock()
			rb.Events, rb.Position, rb.Head = p.Events, p.Position, p.Head
			if p.Elapsed > 0 {
				rb.EventsPerS = float64(p.Events) / p.Elapsed.Seconds()
			}
			s.mu.Unlock()
		}})
		s.mu.Lock()
		defer s.mu.Unlock()
		rb.Running, rb.FinishedAt = false, time.Now().UTC()
		rb.Events, rb.Position, rb.Head = p.Events, p.Position, p.Head
		if p.Elapsed > 0 {
			rb.EventsPerS = float64(p.Events) / p.Elapsed.Seconds()
		}
		if err != nil {
			rb.Error = err.Error()
			s.d.Logger.Error("rebuild failed", "projection", name, "err", err)
		}
	}()
	return c.Status(fiber.StatusAccepted).JSON(started)
}

// ParkedRow is one parked message as listed.
type ParkedRow struct {
	EventID    string `json:"eventId"`
	Projection string `json:"projection"`
	Reason     string `json:"reason"`
	Stream     string `json:"stream"`
	Position   string `json:"position"`
	Type       string `json:"type"`
	ParkedAt   string `json:"parkedAt"`
}

func (s *server) parked(c *fiber.Ctx) error {
	ps, err := s.d.Events.ListParked(c.UserContext(), eventstore.ParkedStream)
	if err != nil {
		return err
	}
	out := []ParkedRow{}
	for _, p := range ps {
		md := p.Message.Metadata
		out = append(out, ParkedRow{EventID: p.EventID, Projection: p.Handler(), Reason: p.Reason(), Stream: md[eventstore.MetaStream],
			Position: md[eventstore.MetaPosition], Type: md[eventstore.MetaType], ParkedAt: p.Message.ParkedAt.Format(time.RFC3339)})
	}
	return c.JSON(out)
}

// replayParked re-applies a projection's parked messages. A failure is
// told to the operator in both languages with how far the replay got; the
// Go error, which is neither, goes to the log.
func (s *server) replayParked(c *fiber.Ctx) error {
	ctx := c.UserContext()
	name := c.Params("name")
	if !s.known(name) {
		return refuse(c, errUnknownProjection(name))
	}
	n, err := s.d.Runner.ReplayParked(ctx, name)
	if err != nil && n == 0 && errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, leader.ErrNotLeader) {
		return refuse(c, s.notLeader(ctx))
	}
	var sup *runner.SupersededError
	if errors.As(err, &sup) {
		s.d.Logger.WarnContext(ctx, "parked messages left parked: their streams went on", "projection", name, "replayed", n, "superseded", sup.Skipped)
		return refuse(c, cmderr.New(cmderr.Conflict, "replay_superseded", cmderr.T(
			fmt.Sprintf("Повторно применено сообщений: %d. Ещё %d не применены: проекция уже применила более поздние события тех же потоков, и сейчас они легли бы не на своё место. Они остаются в списке отложенных; чтобы их учесть, пересоберите проекцию: omsctl projections rebuild %s.", n, sup.Skipped, name),
			fmt.Sprintf("%d parked messages replayed. %d more were not: the projection has applied later events of their streams, and applied now they would land out of order. They stay parked; to include them, rebuild the projection: omsctl projections rebuild %s.", n, sup.Skipped, name))))
	}
	if err != nil {
		s.d.Logger.WarnContext(ctx, "replay of parked messages stopped", "projection", name, "replayed", n, "err", err)
		return refuse(c, cmderr.New(cmderr.Conflict, "replay_failed", cmderr.T(
			fmt.Sprintf("Повторно применено сообщений: %d; следующее снова не удалось применить (причина — в журнале omsd).", n),
			fmt.Sprintf("%d parked messages replayed; the next one failed again (the omsd log says why).", n))))
	}
	return c.JSON(fiber.Map{"replayed": n})
}
