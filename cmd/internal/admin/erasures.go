package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
)

// ErasureTerm is how long after a withdrawn consent the data must be
// erased when nothing must be kept (152-ФЗ art. 21 part 5).
const ErasureTerm = 30 * 24 * time.Hour

// DueErasure is an applicant whose personal data the law wants erased:
// after a withdrawn consent, within ErasureTerm, or, when an issued
// policy's record had to be kept, after its retention.
type DueErasure struct {
	ApplicantID   string    `json:"applicantId"`
	ApplicationID string    `json:"applicationId"`
	WithdrawnAt   time.Time `json:"withdrawnAt"`
	// EraseBy is the last day (Moscow time), YYYY-MM-DD.
	EraseBy string `json:"eraseBy"`
	// Basis is what to give omsctl erase: consent_withdrawn, or
	// retention_ended once a kept record's term is over.
	Basis   string `json:"basis"`
	Overdue bool   `json:"overdue"`
}

var msk = time.FixedZone("MSK", 3*3600)

// erasures lists the applications whose consent was withdrawn and whose
// applicant's data are not erased yet, by the day they must be. It reads
// the event log's ConsentWithdrawn events (the server picks them out) and
// each one's application view: a question asked now and then by an
// administrator, not a page anyone waits on.
func (s *server) erasures(c *fiber.Ctx) error {
	ctx := c.UserContext()
	var out []DueErasure
	now := time.Now()
	err := s.d.Events.CatchUpTypes(ctx, nil, []string{schema.TypeConsentWithdrawn}, func(r eventstore.Recorded) error {
		ev, err := r.Payload()
		if err != nil {
			return err
		}
		w, ok := ev.(schema.ConsentWithdrawn)
		if !ok {
			return nil
		}
		if kept, err := retained(w, now); err != nil || kept {
			return err // the record is still to be kept
		}
		raw, err := s.d.Store.Get(ctx, history.Applications, w.ApplicationID)
		if errors.Is(err, readstore.ErrNotFound) {
			return nil // not projected yet: the next listing has it
		}
		if err != nil {
			return err
		}
		var v appview.View
		if err := json.Unmarshal(raw.Body, &v); err != nil {
			return fmt.Errorf("admin: view of %s: %w", w.ApplicationID, err)
		}
		if d, due := dueErasure(w, &v, now); due {
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("admin: list due erasures: %w", err)
	}
	slices.SortFunc(out, func(a, b DueErasure) int {
		return strings.Compare(a.EraseBy+a.ApplicationID, b.EraseBy+b.ApplicationID)
	})
	if out == nil {
		out = []DueErasure{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

// retained reports whether a withdrawal's record must still be kept at now
// (an issued policy's, until RetainUntil).
func retained(w schema.ConsentWithdrawn, now time.Time) (bool, error) {
	if w.RetainUntil == "" {
		return false, nil
	}
	last, err := time.ParseInLocation(time.DateOnly, w.RetainUntil, msk)
	if err != nil {
		return false, fmt.Errorf("admin: %s retains until %q: %w", w.ApplicationID, w.RetainUntil, err)
	}
	return now.Before(last.AddDate(0, 0, 1)), nil
}

// dueErasure is what a withdrawal asks of the application v is now, at
// now: nothing once the data are erased, or once the consent was given
// again (a renewal with a newly signed consent) or withdrawn again later,
// whose own event is then the one that counts. Listed regardless, a
// person who had given the consent again was shown as due for erasure
// (QA), and one who withdrew twice twice.
func dueErasure(w schema.ConsentWithdrawn, v *appview.View, now time.Time) (DueErasure, bool) {
	if v.Erased != nil || !v.Consent.Withdrawn() || !v.Consent.WithdrawnAt.Equal(w.WithdrawnAt) {
		return DueErasure{}, false
	}
	d := DueErasure{ApplicantID: v.ApplicantID, ApplicationID: w.ApplicationID, WithdrawnAt: w.WithdrawnAt.UTC(), Basis: schema.EraseConsentWithdrawn,
		EraseBy: w.WithdrawnAt.In(msk).Add(ErasureTerm).Format(time.DateOnly)}
	if w.RetainUntil != "" {
		if last, err := time.ParseInLocation(time.DateOnly, w.RetainUntil, msk); err == nil {
			d.Basis, d.EraseBy = schema.EraseRetentionEnded, last.Add(ErasureTerm).Format(time.DateOnly)
		}
	}
	end, _ := time.ParseInLocation(time.DateOnly, d.EraseBy, msk)
	d.Overdue = !now.Before(end.AddDate(0, 0, 1))
	return d, true
}
