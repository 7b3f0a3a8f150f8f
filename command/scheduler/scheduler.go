// Package scheduler is the system's own actor: when a policy's renewal
// window opens it sends the reminder, and when the term is over it expires
// the policy. It acts only through the command service, as role "system",
// so the domain's rules and the audit history apply to it like to anyone.
package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/renewals"
)

// Options configure a Scheduler.
type Options struct {
	Commands *service.Service
	Store    readstore.Store
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Scheduler sends reminders and expiries that are due.
type Scheduler struct{ o Options }

// New returns a Scheduler.
func New(o Options) *Scheduler {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{o: o}
}

// Run ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		if n, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("scheduler: tick failed", "err", err, "done", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick issues every command that is due now and reports how many it sent.
// Each carries an idempotency key made of the application and the term, so
// several nodes ticking at once send each command once.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := s.o.Now()
	overdue := true
	q := readstore.QueueQuery{Collection: renewals.Collection, Overdue: &overdue, Now: now, Limit: 200}
	sent := 0
	for {
		page, err := s.o.Store.Queue(ctx, q)
		if errors.Is(err, readstore.ErrNoCollection) {
			return sent, nil // the projections have not created it yet
		}
		if err != nil {
			return sent, fmt.Errorf("scheduler: read timetable: %w", err)
		}
		for _, d := range page.Docs {
			var it renewals.Item
			if err := json.Unmarshal(d.Body, &it); err != nil {
				return sent, fmt.Errorf("scheduler: %s: %w", d.ID, err)
			}
			var cmd application.Command = application.ExpirePolicy{}
			if it.Due == renewals.DueRemind && !termEnded(it.ValidTo, now) {
				// A reminder comes only while the policy is still valid:
				// run late, past the term, the scheduler expires it.
				cmd = application.RemindRenewal{}
			}
			req := service.Request{
				Meta:           events.Metadata{Actor: events.Actor{ID: "scheduler", Role: events.RoleSystem}},
				IdempotencyKey: fmt.Sprintf("scheduler:%s:%s:%s", cmd.Name(), it.ApplicationID, it.ValidTo),
			}
			_, err := s.o.Commands.Handle(ctx, req, it.ApplicationID, cmd)
			switch {
			case err == nil:
				sent++
			case cmderr.Is(err, cmderr.Conflict):
				// Someone was quicker (a renewal, another node): the
				// timetable catches up through the projection.
				s.o.Logger.Debug("scheduler: not due any more", "application", it.ApplicationID, "command", cmd.Name(), "err", err)
			default:
				return sent, fmt.Errorf("scheduler: %s %s: %w", cmd.Name(), it.ApplicationID, err)
			}
		}
		if page.Next == nil {
			return sent, nil
		}
		q.After = page.Next
	}
}

// termEnded reports whether now is past the last day of a term ending on
// validTo (YYYY-MM-DD, a Moscow date). A date that does not parse is left
// to the domain, which refuses it in words.
func termEnded(validTo string, now time.Time) bool {
	end, err := time.ParseInLocation(time.DateOnly, validTo, renewals.Location)
	return err == nil && !now.Before(end.AddDate(0, 0, 1))
}
