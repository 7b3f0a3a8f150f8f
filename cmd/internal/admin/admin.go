// Package admin serves the administrator's HTTP endpoints: projections
// (status and lag, blue/green rebuilds, parked messages) and the erasure of
// an applicant's personal data. omsctl drives them; only the admin role may
// call them.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Projections is what the endpoints need of the projections; the leader
// package provides it on every node.
type Projections interface {
	Names() []string
	Position(ctx context.Context, name string) (uint64, error)
	Behind(name string, head uint64) uint64
	Rebuild(ctx context.Context, name string, o runner.RebuildOptions) (runner.Progress, error)
	ReplayParked(ctx context.Context, name string) (int, error)
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
}

// ProjectionStatus is one row of GET /api/v1/admin/projections.
type ProjectionStatus struct {
	Name         string    `json:"name"`
	Position     uint64    `json:"position"`
	Head         uint64    `json:"head"`
	Generation   int       `json:"generation"`
	UpdatedAt    time.Time `json:"updatedAt"`
	EventsBehind uint64    `json:"eventsBehind"`
	Rebuild      *Rebuild  `json:"rebuild,omitempty"`
}

// Rebuild is the state of a running or finished rebuild.
type Rebuild struct {
	Running    bool      `json:"running"`
	Events     int       `json:"events"`
	Position   uint64    `json:"position"`
	Head       uint64    `json:"head"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
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
}

func problem(c *fiber.Ctx, status int, ru, en string) error {
	return c.Status(status).JSON(fiber.Map{"status": status, "title": fiber.ErrBadRequest.Message, "detail": fiber.Map{"ru": ru, "en": en}}, "application/problem+json")
}

func (s *server) onlyAdmin(c *fiber.Ctx) error {
	md, ok := events.MetadataFrom(c.UserContext())
	if !ok {
		return problem(c, fiber.StatusUnauthorized, "Требуется вход в систему.", "Sign-in required.")
	}
	if md.Actor.Role != events.RoleAdmin {
		return problem(c, fiber.StatusForbidden, "Только для администратора.", "Administrators only.")
	}
	return c.Next()
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
	out := []ProjectionStatus{}
	for _, name := range s.d.Runner.Names() {
		pos, err := s.d.Runner.Position(ctx, name)
		if err != nil {
			return err
		}
		cp := byName[name]
		st := ProjectionStatus{Name: name, Position: pos, Head: head, Generation: cp.Generation, UpdatedAt: cp.UpdatedAt}
		if head > pos {
			st.EventsBehind = s.d.Runner.Behind(name, head)
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

// rebuild starts a rebuild in the background and answers 202; progress is
// in the status listing.
func (s *server) rebuild(c *fiber.Ctx) error {
	name := c.Params("name")
	known := false
	for _, n := range s.d.Runner.Names() {
		known = known || n == name
	}
	if !known {
		return problem(c, fiber.StatusNotFound, "Нет такой проекции.", "No such projection.")
	}
	s.mu.Lock()
	if rb := s.rebuilds[name]; rb != nil && rb.Running {
		s.mu.Unlock()
		return problem(c, fiber.StatusConflict, "Перестройка уже идёт.", "A rebuild is already running.")
	}
	rb := &Rebuild{Running: true, StartedAt: time.Now().UTC()}
	s.rebuilds[name] = rb
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
	return c.Status(fiber.StatusAccepted).JSON(rb)
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

func (s *server) replayParked(c *fiber.Ctx) error {
	n, err := s.d.Runner.ReplayParked(c.UserContext(), c.Params("name"))
	if err != nil && n == 0 && errors.Is(err, context.Canceled) {
		return err
	}
	if err != nil {
		return c.Status(fiber.StatusConflict).JSON(fiber.Map{"replayed": n, "error": err.Error()})
	}
	return c.JSON(fiber.Map{"replayed": n})
}
