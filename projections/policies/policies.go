// Package policies is the read model of issued policies keyed by ЕНП: one
// document per policy number with its current term, its document version and
// the holder's name, birth date and citizenship. The printable policy extract
// and its public check read it; nothing else needs a lookup by ЕНП.
package policies

import (
	"context"
	"strings"
	"time"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/runner"
)

// Collection is the logical collection of policy documents; views holds the
// projection's per-application fold, because the holder's name is known
// long before the policy exists (and may be corrected in between).
const (
	Collection = "policies"
	views      = "policies_views"
)

// Holder is the insured person as the policy names them.
type Holder struct {
	LastName    string `json:"lastName"`
	FirstName   string `json:"firstName"`
	MiddleName  string `json:"middleName,omitempty"`
	LatinName   string `json:"latinName,omitempty"`
	BirthDate   string `json:"birthDate"`
	Citizenship string `json:"citizenship"`
	Sex         string `json:"sex,omitempty"`
}

// FullName is "Фамилия Имя Отчество" as written in the form.
func (h Holder) FullName() string {
	return strings.Join(strings.Fields(h.LastName+" "+h.FirstName+" "+h.MiddleName), " ")
}

// Doc is one policy.
type Doc struct {
	ENP           string                `json:"enp"`
	ApplicationID string                `json:"applicationId"`
	ApplicantID   string                `json:"applicantId"`
	Holder        Holder                `json:"holder"`
	ValidFrom     string                `json:"validFrom"`
	ValidTo       string                `json:"validTo"`
	Status        string                `json:"status"`
	Document      schema.PolicyDocument `json:"document"`
	Region        string                `json:"region"`
	IssuedAt      time.Time             `json:"issuedAt"`
	Revision      uint64                `json:"revision"`
}

// Projection builds the policies read model.
type Projection struct{}

// Name implements runner.Projection.
func (Projection) Name() string { return "policies" }

// Collections implements runner.Projection. A policy document is derived
// from the view every time and never read back, so it stays out of the
// runner's cache.
func (Projection) Collections() []runner.Collection {
	return []runner.Collection{{Name: Collection, Kind: readstore.KindDocs, Uncached: true}, {Name: views, Kind: readstore.KindDocs}}
}

// Apply implements runner.Projection.
func (Projection) Apply(_ context.Context, tx *runner.Tx, ev eventstore.Recorded) error {
	st, ok, err := appview.NextSlim(tx, views, ev)
	if !ok || err != nil || !st.Fresh {
		return err
	}
	appID, v := st.ApplicationID, st.After
	if !appview.Open(v.Status) && v.Policy == nil {
		// Rejected or withdrawn: no policy will ever come of it.
		return tx.Delete(views, appID)
	}
	if err := tx.Put(views, appID, v, nil); err != nil {
		return err
	}
	if v.Policy == nil {
		return nil
	}
	a := v.Form.Applicant
	p := v.Policy
	return tx.Put(Collection, p.ENP, Doc{
		ENP: p.ENP, ApplicationID: v.ApplicationID, ApplicantID: v.ApplicantID,
		Holder: Holder{LastName: a.LastName, FirstName: a.FirstName, MiddleName: a.MiddleName, LatinName: a.LatinName,
			BirthDate: a.BirthDate, Citizenship: a.Citizenship, Sex: a.Sex},
		ValidFrom: p.ValidFrom, ValidTo: p.ValidTo, Status: p.Status, Document: p.Document, Region: p.Region,
		IssuedAt: p.IssuedAt, Revision: v.Revision,
	}, nil)
}
