package web

import (
	"strings"

	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// Summary is an application's form as labelled rows, for reading.
type Summary struct {
	Name   string
	Groups []SummaryGroup
	Scans  []Scan
}

// SummaryGroup is one section of the summary.
type SummaryGroup struct {
	Title string
	Rows  []SummaryRow
}

// SummaryRow is one labelled value; Ptr ties it to questions about it.
type SummaryRow struct {
	Ptr, Label, Value string
}

// Scan is an uploaded document as a page links or shows it.
type Scan struct {
	Kind, Label, URL string
	Image            bool
	// Why is the catalog key of why a scan without URL is not linked.
	Why string
}

// erasedOnce shows a value that holds erased data (piicrypt.Marker, which
// is bilingual, perhaps several times over in a joined address or name)
// as the page's language says it, once.
func erasedOnce(l *Lang, v string) string {
	if strings.Contains(v, piicrypt.Marker) {
		return l.T("erased.value")
	}
	return v
}

func fullName(a schema.Applicant) string {
	return strings.Join(strings.Fields(a.LastName+" "+a.FirstName+" "+a.MiddleName), " ")
}

func summarize(l *Lang, v appview.View, staff bool) Summary {
	f := v.Form
	row := func(ptr, value string) SummaryRow {
		return SummaryRow{Ptr: ptr, Label: fieldLabel(l, ptr), Value: erasedOnce(l, value)}
	}
	opt := func(prefix, v string) string {
		if v == "" || v == piicrypt.Marker {
			return erasedOnce(l, v)
		}
		return l.T(prefix + v)
	}
	a, id, rd, ad, ct := f.Applicant, f.IdentityDocument, f.ResidenceDocument, f.Address, f.Contacts
	addr := strings.Join(nonEmpty(ad.PostalCode, ad.City, ad.Street, l.T("address.house")+" "+ad.House, prefixed(l.T("address.building"), ad.Building), prefixed(l.T("address.apartment"), ad.Apartment)), ", ")
	s := Summary{Name: erasedOnce(l, fullName(a)), Groups: []SummaryGroup{
		{Title: l.T("section.applicant"), Rows: []SummaryRow{
			row("/applicant/lastName", a.LastName), row("/applicant/firstName", a.FirstName), row("/applicant/middleName", a.MiddleName),
			row("/applicant/latinName", a.LatinName), row("/applicant/birthDate", l.Date(a.BirthDate)), row("/applicant/birthPlace", a.BirthPlace),
			row("/applicant/citizenship", l.Country(a.Citizenship)), row("/applicant/sex", opt("sex.", a.Sex)),
		}},
		{Title: l.T("section.identity"), Rows: []SummaryRow{
			row("/identityDocument/series", id.Series), row("/identityDocument/number", id.Number),
			row("/identityDocument/issuedAt", l.Date(id.IssuedAt)), row("/identityDocument/issuedBy", id.IssuedBy), row("/identityDocument/expiresAt", l.Date(id.ExpiresAt)),
		}},
		{Title: l.T("section.residence"), Rows: []SummaryRow{
			row("/residenceDocument/type", opt("residence.", rd.Type)), row("/residenceDocument/series", rd.Series), row("/residenceDocument/number", rd.Number),
			row("/residenceDocument/issuedAt", l.Date(rd.IssuedAt)), row("/residenceDocument/expiresAt", l.Date(rd.ExpiresAt)),
		}},
		{Title: l.T("section.addressContacts"), Rows: []SummaryRow{
			row("/address/region", ad.Region), row("/address", addr), row("/contacts/phone", ct.Phone), row("/contacts/email", ct.Email),
		}},
	}}
	for i := range s.Groups {
		rows := s.Groups[i].Rows[:0]
		for _, r := range s.Groups[i].Rows {
			if strings.TrimSpace(r.Value) != "" {
				rows = append(rows, r)
			}
		}
		s.Groups[i].Rows = rows
	}
	for _, d := range f.Documents {
		if v.Erased != nil {
			// The scans went with the data: named, not linked to a
			// download that can only refuse.
			s.Scans = append(s.Scans, Scan{Kind: d.Kind, Label: l.T("scan." + d.Kind), Why: "erased.value"})
			continue
		}
		s.Scans = append(s.Scans, Scan{Kind: d.Kind, Label: l.T("scan." + d.Kind), URL: "/api/v1/documents/" + d.ID,
			Image: staff && (d.ContentType == "image/png" || d.ContentType == "image/jpeg")})
	}
	return s
}

func nonEmpty(parts ...string) []string {
	out := parts[:0]
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

func prefixed(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + " " + v
}
