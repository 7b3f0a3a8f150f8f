// Package cabinet is the applicant's cabinet read model: one document per
// applicant with their applications and each one's status, read by the
// applicant and by an МФЦ operator acting for them.
package cabinet

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Collection names.
const (
	Collection = "cabinet"
	owners     = "cabinet_owners"
)

// Doc is the cabinet document served by the query API.
type Doc struct {
	ApplicantID  string        `json:"applicantId"`
	Applications []Application `json:"applications"`
}

// Application is one application as its applicant sees it.
type Application struct {
	ApplicationID string    `json:"applicationId"`
	Status        string    `json:"status"`
	SubmittedAt   time.Time `json:"submittedAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	Revision      uint64    `json:"revision"`
}

// statusAfter maps an event type to the status it leaves an application in.
var statusAfter = map[string]string{
	"ApplicationSubmitted": "submitted",
	"ApplicationClaimed":   "in_review",
	"InfoRequested":        "info_requested",
	"InfoProvided":         "in_review",
	"ApplicationApproved":  "approved",
	"ApplicationRejected":  "rejected",
	"ApplicationWithdrawn": "withdrawn",
	"PolicyIssued":         "policy_active",
	"AddressChanged":       "policy_active",
	"PolicyRenewed":        "policy_active",
	"PolicyExpired":        "policy_expired",
}

// Projection builds cabinets.
type Projection struct{}

// Name implements runner.Projection.
func (Projection) Name() string { return "cabinet" }

// Collections implements runner.Projection.
func (Projection) Collections() []runner.Collection {
	return []runner.Collection{{Name: Collection, Kind: readstore.KindDocs}, {Name: owners, Kind: readstore.KindDocs}}
}

type owner struct {
	ApplicantID string `json:"applicantId"`
}

// Apply implements runner.Projection.
func (Projection) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	appID, ok := strings.CutPrefix(ev.Stream, "application-")
	if !ok {
		return nil
	}
	status, known := statusAfter[ev.Envelope.Type]
	if !known {
		return nil
	}
	var applicantID string
	if ev.Envelope.Type == "ApplicationSubmitted" {
		var p struct {
			ApplicantID string `json:"applicantId"`
		}
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			return fmt.Errorf("cabinet: decode ApplicationSubmitted: %w", err)
		}
		if p.ApplicantID == "" {
			return fmt.Errorf("cabinet: ApplicationSubmitted %s has no applicantId", appID)
		}
		applicantID = p.ApplicantID
		if err := tx.Put(owners, appID, owner{ApplicantID: applicantID}, nil); err != nil {
			return err
		}
	} else {
		var o owner
		exists, _, err := tx.GetJSON(owners, appID, &o)
		if err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("cabinet: %s for unknown application %s", ev.Envelope.Type, appID)
		}
		applicantID = o.ApplicantID
	}
	var doc Doc
	_, fresh, err := tx.GetJSON(Collection, applicantID, &doc)
	if err != nil {
		return err
	}
	if !fresh {
		return nil // a replay of an event this cabinet already has
	}
	doc.ApplicantID = applicantID
	i := sort.Search(len(doc.Applications), func(i int) bool { return doc.Applications[i].ApplicationID >= appID })
	if i == len(doc.Applications) || doc.Applications[i].ApplicationID != appID {
		doc.Applications = append(doc.Applications, Application{})
		copy(doc.Applications[i+1:], doc.Applications[i:])
		doc.Applications[i] = Application{ApplicationID: appID, SubmittedAt: ev.Envelope.OccurredAt}
	}
	a := &doc.Applications[i]
	a.Status = status
	a.UpdatedAt = ev.Envelope.OccurredAt
	a.Revision = ev.Revision
	return tx.Put(Collection, applicantID, doc, nil)
}
