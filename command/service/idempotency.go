package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
)

// MaxIdempotencyKeyLen bounds the client's key.
const MaxIdempotencyKeyLen = 255

// idempotencyStream names the record of a key. The caller is part of the
// hash, so two callers who happen to pick the same key never meet.
func idempotencyStream(req Request) string {
	m := req.Meta
	h := sha256.Sum256([]byte(m.Actor.Role + "\x00" + m.Actor.ID + "\x00" + m.OnBehalfOf + "\x00" + req.IdempotencyKey))
	return schema.IdempotencyStream(hex.EncodeToString(h[:]))
}

// fingerprint identifies a command and its input as the domain reads it
// (application.Canonical); a new application's id is not part of it, since
// it is chosen afresh for every request.
func fingerprint(applicationID string, cmd application.Command) (string, error) {
	body, err := json.Marshal(application.Canonical(cmd))
	if err != nil {
		return "", fmt.Errorf("service: fingerprint %s: %w", cmd.Name(), err)
	}
	if _, ok := cmd.(application.SubmitApplication); ok {
		applicationID = ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", cmd.Name(), applicationID)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func errKeyReused() error {
	return cmderr.New(cmderr.Validation, "idempotency_key_reused", cmderr.T(
		"Этот ключ идемпотентности уже использован для другого запроса. Для нового запроса нужен новый ключ.",
		"This Idempotency-Key was already used for another request. Use a new key for a new request."))
}

func errInProgress() error {
	return cmderr.New(cmderr.Conflict, "idempotency_in_progress", cmderr.T(
		"Запрос с этим ключом идемпотентности ещё выполняется. Повторите чуть позже.",
		"A request with this Idempotency-Key is still being processed. Try again shortly."))
}

// idempotent executes a command at most once per key.
//
// The key's stream is a small state machine, every step an append with an
// expected revision: Claimed (no_stream, or after Released) makes the
// appender the executor; Completed stores the response that every repeat
// returns; Released gives the key back after a refusal, which wrote nothing,
// so that a retry, corrected or not, runs again. A request that finds a live claim waits for
// the outcome; one that finds a claim older than the lease takes it over,
// keeping the command id, and the run first looks for events that id
// already wrote, so a command whose executor died after its append is not
// applied twice.
func (s *Service) idempotent(ctx context.Context, req Request, applicationID string, cmd application.Command) (Result, error) {
	if len(req.IdempotencyKey) > MaxIdempotencyKeyLen {
		return Result{}, cmderr.New(cmderr.BadRequest, "bad_idempotency_key", cmderr.T(
			fmt.Sprintf("Ключ идемпотентности длиннее %d символов.", MaxIdempotencyKeyLen),
			fmt.Sprintf("The Idempotency-Key is longer than %d characters.", MaxIdempotencyKeyLen)))
	}
	fp, err := fingerprint(applicationID, cmd)
	if err != nil {
		return Result{}, err
	}
	stream := idempotencyStream(req)
	deadline := time.Now().Add(s.opts.IdempotencyWait)
	pause := 5 * time.Millisecond
	for {
		recs, err := s.store.Load(ctx, stream)
		if err != nil {
			return Result{}, fmt.Errorf("service: load idempotency record: %w", err)
		}
		claim := schema.IdempotencyClaimed{Fingerprint: fp, Command: cmd.Name(), ApplicationID: applicationID, CommandID: uuid.NewString()}
		exp := eventstore.NoStream
		if n := len(recs); n > 0 {
			last := recs[n-1]
			e, err := schema.Decode(last.Envelope.Type, last.Envelope.SchemaVersion, last.Data)
			if err != nil {
				return Result{}, fmt.Errorf("service: idempotency record: %w", err)
			}
			switch e := e.(type) {
			case schema.IdempotencyCompleted:
				if e.Fingerprint != fp {
					return Result{}, errKeyReused()
				}
				return e.Result, nil
			case schema.IdempotencyClaimed:
				if e.Fingerprint != fp {
					return Result{}, errKeyReused()
				}
				if time.Since(last.Created) < s.opts.IdempotencyLease {
					if time.Now().After(deadline) {
						return Result{}, errInProgress()
					}
					if err := sleep(ctx, pause); err != nil {
						return Result{}, err
					}
					pause = min(pause*2, 200*time.Millisecond)
					continue
				}
				s.log.WarnContext(ctx, "taking over an abandoned idempotency claim", "stream", stream, "command", e.Command, "application", e.ApplicationID)
				claim.ApplicationID, claim.CommandID = e.ApplicationID, e.CommandID
			case schema.IdempotencyReleased:
				// A refusal wrote nothing, so the key is free again, even for
				// a corrected request.
			default:
				return Result{}, fmt.Errorf("service: unexpected %s in %s", last.Envelope.Type, stream)
			}
			exp = eventstore.AtRevision(last.Revision)
		}
		claim.ClaimedAt = s.now().UTC()
		claimed, err := s.store.Append(ctx, stream, exp, req.Meta, eventstore.NewEvent{Type: claim.EventType(), Data: claim})
		if errors.Is(err, eventstore.ErrConflict) {
			continue // another request claimed first: wait for its outcome
		}
		if err != nil {
			return Result{}, fmt.Errorf("service: claim idempotency key: %w", err)
		}
		return s.execute(ctx, req, stream, claimed.Revision, claim, cmd)
	}
}

// execute runs a claimed command and records its outcome.
func (s *Service) execute(ctx context.Context, req Request, stream string, claimRev uint64, claim schema.IdempotencyClaimed, cmd application.Command) (Result, error) {
	req.Meta.CommandID = claim.CommandID
	res, err := s.run(ctx, req, claim.ApplicationID, cmd, true)
	if err != nil {
		if _, refused := cmderr.As(err); refused {
			rel := schema.IdempotencyReleased{Reason: err.Error(), ReleasedAt: s.now().UTC()}
			if _, rerr := s.store.Append(ctx, stream, eventstore.AtRevision(claimRev), req.Meta, eventstore.NewEvent{Type: rel.EventType(), Data: rel}); rerr != nil {
				s.log.WarnContext(ctx, "could not release an idempotency key; it frees itself after the lease", "stream", stream, "err", rerr)
			}
		}
		// Other errors leave the claim: the command may or may not have
		// been written, and only a takeover after the lease can tell.
		return Result{}, err
	}
	done := schema.IdempotencyCompleted{Fingerprint: claim.Fingerprint, Result: res, CompletedAt: s.now().UTC()}
	if _, err := s.store.Append(ctx, stream, eventstore.AtRevision(claimRev), req.Meta, eventstore.NewEvent{Type: done.EventType(), Data: done}); err != nil {
		// The command is written; a later repeat recovers the result from
		// the application stream by the command id.
		s.log.WarnContext(ctx, "could not record an idempotent result", "stream", stream, "err", err)
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
