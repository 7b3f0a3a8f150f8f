package web

import (
	"slices"
	"strings"

	"github.com/omsonline/oms/events/schema"
)

// Field is one labelled input. Its name is the JSON pointer of the value in
// the command's body, so the page's script builds the body from the names
// and puts each 422 error beside the input whose name is its pointer.
type Field struct {
	Ptr string
	// ID is the element's id when two forms of a page share a pointer;
	// empty means fieldID(Ptr).
	ID       string
	Label    string
	Hint     string
	Type     string // text, date, email, tel, select, textarea, checkbox
	Value    string
	Checked  bool
	Auto     string // autocomplete token
	Input    string // inputmode
	Size     string // css width class: s, m, l
	Required bool
	Opt      string // "optional", translated, for fields that are not required
	List     string // id of a datalist
	Options  []Option
}

// Option is a choice of a select.
type Option struct{ Value, Label string }

// Section is a fieldset of a form.
type Section struct {
	Legend string
	Ptr    string // pointer of the section, for errors about it as a whole
	Fields []Field
	// Optional sections are sent only when the person changed something in
	// them (a correction, a new document).
	Optional bool
}

// optional makes s an optional section: sent only when changed, and none
// of its fields announced as required to a screen reader, since the whole
// section may be left as it is (web QA: the renewal's optional passport
// said "required" for its number).
func (s Section) optional() Section {
	s.Optional = true
	s.Fields = slices.Clone(s.Fields)
	for i := range s.Fields {
		s.Fields[i].Required = false
	}
	return s
}

type fieldMaker struct {
	l      *Lang
	prefix string
}

func (m fieldMaker) f(name, label, typ string, required bool, value string) Field {
	f := Field{Ptr: m.prefix + name, Label: m.l.T(label), Type: typ, Required: required, Value: value, Size: "l"}
	if !required {
		f.Opt = m.l.T("form.optional")
	}
	if h := label + ".hint"; m.l.Has(h) {
		f.Hint = m.l.T(h)
	}
	return f
}

func sized(f Field, size, auto, input string) Field {
	f.Size, f.Auto, f.Input = size, auto, input
	return f
}

func (m fieldMaker) options(f Field, keyPrefix string, values ...string) Field {
	f.Type = "select"
	f.Options = []Option{{Value: "", Label: m.l.T("form.choose")}}
	for _, v := range values {
		f.Options = append(f.Options, Option{Value: v, Label: m.l.T(keyPrefix + v)})
	}
	return f
}

// citizenships head the form's datalist: the countries most applicants
// come from. Every other country follows them, by name.
var citizenships = []string{"UZB", "TJK", "KGZ", "KAZ", "ARM", "AZE", "BLR", "MDA", "UKR", "CHN", "VNM", "IND", "TUR", "XXA"}

func applicantSection(l *Lang, prefix string, a schema.Applicant) Section {
	m := fieldMaker{l, prefix + "/applicant"}
	cz := sized(m.f("/citizenship", "field.citizenship", "text", true, a.Citizenship), "s", "off", "")
	cz.List = "countries"
	return Section{Legend: l.T("section.applicant"), Ptr: prefix + "/applicant", Fields: []Field{
		sized(m.f("/lastName", "field.lastName", "text", true, a.LastName), "l", "family-name", ""),
		sized(m.f("/firstName", "field.firstName", "text", true, a.FirstName), "l", "given-name", ""),
		sized(m.f("/middleName", "field.middleName", "text", false, a.MiddleName), "l", "additional-name", ""),
		sized(m.f("/latinName", "field.latinName", "text", false, a.LatinName), "l", "off", ""),
		sized(m.f("/birthDate", "field.birthDate", "date", true, a.BirthDate), "m", "bday", ""),
		sized(m.f("/birthPlace", "field.birthPlace", "text", true, a.BirthPlace), "l", "off", ""),
		cz,
		m.options(m.f("/sex", "field.sex", "select", true, a.Sex), "sex.", "male", "female"),
	}}
}

func identitySection(l *Lang, prefix string, d schema.IdentityDocument) Section {
	m := fieldMaker{l, prefix + "/identityDocument"}
	if d.Type == "" {
		d.Type = schema.IdentityForeignPassport
	}
	return Section{Legend: l.T("section.identity"), Ptr: prefix + "/identityDocument", Fields: []Field{
		m.options(m.f("/type", "field.identityType", "select", true, d.Type), "identity.", schema.IdentityForeignPassport),
		sized(m.f("/series", "field.passportSeries", "text", false, d.Series), "s", "off", ""),
		sized(m.f("/number", "field.passportNumber", "text", true, d.Number), "m", "off", ""),
		sized(m.f("/issuedAt", "field.issuedAt", "date", true, d.IssuedAt), "m", "off", ""),
		sized(m.f("/issuedBy", "field.issuedBy", "text", true, d.IssuedBy), "l", "off", ""),
		sized(m.f("/expiresAt", "field.expiresAt", "date", true, d.ExpiresAt), "m", "off", ""),
	}}
}

// residenceTypes are offered in the order people hold them; the migration
// card is offered too, because people believe it is enough, and the answer
// then explains which document is needed instead.
var residenceTypes = []string{schema.ResidenceRVP, schema.ResidenceVNZh, schema.ResidenceRefugee, schema.ResidenceEAEUWorker, schema.ResidenceMigrationCard}

func residenceSection(l *Lang, prefix string, d schema.ResidenceDocument) Section {
	m := fieldMaker{l, prefix + "/residenceDocument"}
	return Section{Legend: l.T("section.residence"), Ptr: prefix + "/residenceDocument", Fields: []Field{
		m.options(m.f("/type", "field.residenceType", "select", true, d.Type), "residence.", residenceTypes...),
		byType(sized(m.f("/series", "field.residenceSeries", "text", false, d.Series), "s", "off", "")),
		sized(m.f("/number", "field.residenceNumber", "text", true, d.Number), "m", "off", ""),
		sized(m.f("/issuedAt", "field.issuedAt", "date", true, d.IssuedAt), "m", "off", ""),
		byType(sized(m.f("/expiresAt", "field.residenceExpiresAt", "date", false, d.ExpiresAt), "m", "off", "")),
	}}
}

// byType is for a field that the document's type makes required or not
// (a series for an RVP but none for a contract, an expiry for all but a
// VNZh): it is not marked optional, and its hint says for which types it
// is needed.
func byType(f Field) Field {
	f.Opt = ""
	return f
}

func addressSection(l *Lang, prefix string, a schema.Address) Section {
	m := fieldMaker{l, prefix + "/address"}
	return Section{Legend: l.T("section.address"), Ptr: prefix + "/address", Fields: []Field{
		sized(m.f("/region", "field.region", "text", true, a.Region), "s", "off", "numeric"),
		sized(m.f("/city", "field.city", "text", true, a.City), "l", "address-level2", ""),
		sized(m.f("/street", "field.street", "text", true, a.Street), "l", "address-line1", ""),
		sized(m.f("/house", "field.house", "text", true, a.House), "s", "off", ""),
		sized(m.f("/building", "field.building", "text", false, a.Building), "s", "off", ""),
		sized(m.f("/apartment", "field.apartment", "text", false, a.Apartment), "s", "off", ""),
		sized(m.f("/postalCode", "field.postalCode", "text", true, a.PostalCode), "s", "postal-code", "numeric"),
	}}
}

func contactsSection(l *Lang, prefix string, c schema.Contacts) Section {
	m := fieldMaker{l, prefix + "/contacts"}
	return Section{Legend: l.T("section.contacts"), Ptr: prefix + "/contacts", Fields: []Field{
		sized(m.f("/phone", "field.phone", "tel", true, c.Phone), "m", "tel", "tel"),
		sized(m.f("/email", "field.email", "email", true, c.Email), "l", "email", "email"),
	}}
}

// Upload is one scan widget: a file input that uploads at once, with a
// progress bar, and the hidden kind and id the command body references.
type Upload struct {
	Index int
	Kind  string
	Label string
	Hint  string
	// Optional uploads (a re-upload with an answer) are sent only when a
	// file was uploaded.
	Optional bool
}

func uploads(l *Lang, kinds []string, optional bool) []Upload {
	out := make([]Upload, len(kinds))
	for i, k := range kinds {
		out[i] = Upload{Index: i, Kind: k, Label: l.T("scan." + k), Hint: l.T("scan.hint"), Optional: optional}
	}
	return out
}

// sectionFor is the form section a question's field pointer is in.
func sectionFor(ptr string) string {
	for _, s := range []string{"applicant", "identityDocument", "residenceDocument", "address", "contacts"} {
		if ptr == "/"+s || len(ptr) > len(s)+1 && ptr[:len(s)+2] == "/"+s+"/" {
			return s
		}
	}
	return ""
}

// textOnly says whether a question about field (a pointer, or "") that
// asks for a scan of kind (or "") can be answered only in words: the page
// then offers no correction or upload for it, so its answer is required,
// as the command side requires it (application.addressedBy). A reviewer
// may point a question at any part of the form, /consent for one.
func textOnly(field, kind string) bool {
	return kind == "" && sectionFor(field) == ""
}

// questionFields are the form fields a reviewer can point a question at.
var questionFields = []string{
	"/applicant/lastName", "/applicant/firstName", "/applicant/middleName", "/applicant/latinName", "/applicant/birthDate", "/applicant/birthPlace", "/applicant/citizenship",
	"/identityDocument/series", "/identityDocument/number", "/identityDocument/issuedAt", "/identityDocument/issuedBy", "/identityDocument/expiresAt",
	"/residenceDocument/type", "/residenceDocument/series", "/residenceDocument/number", "/residenceDocument/issuedAt", "/residenceDocument/expiresAt",
	"/address", "/contacts/phone", "/contacts/email",
}

// fieldLabel names a form field pointer for people.
func fieldLabel(l *Lang, ptr string) string {
	if k := "ptr" + ptr; l.Has(k) {
		return l.T(k)
	}
	// Any other part of the form (a reviewer may ask about any) as the
	// timeline names it, less the form itself.
	if names := l.names("/form" + ptr); len(names) > 1 {
		return strings.Join(names[1:], " · ")
	}
	return ptr
}
