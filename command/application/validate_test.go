package application_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/schema"
)

// assertFields checks that err is a validation error with exactly these
// "pointer:code" field errors, in any order.
func assertFields(t *testing.T, err error, want ...string) {
	t.Helper()
	e, ok := cmderr.As(err)
	if !ok || e.Kind != cmderr.Validation {
		t.Fatalf("want field errors %v, got %v", want, err)
	}
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Field+":"+f.Code)
		if f.Message.RU == "" || f.Message.EN == "" {
			t.Errorf("%s:%s has no bilingual message", f.Field, f.Code)
		}
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("field errors\n got %v\nwant %v", got, want)
	}
}

func submit(f schema.Form) error {
	_, err := application.Decide(application.State{}, application.SubmitApplication{ApplicationID: appID, Form: f}, env(asOwner, now))
	return err
}

func TestValidFormPasses(t *testing.T) {
	if err := submit(validForm()); err != nil {
		t.Fatal(err)
	}
}

func TestFieldRules(t *testing.T) {
	cases := []struct {
		name   string
		change func(*schema.Form)
		want   []string
	}{
		{"latin names", func(f *schema.Form) {
			f.Applicant.LastName, f.Applicant.FirstName, f.Applicant.MiddleName = "O'Neil-Smith", "Zoë", ""
		}, nil},
		{"Uzbek Latin apostrophes", func(f *schema.Form) {
			f.Applicant.LastName, f.Applicant.FirstName, f.Applicant.MiddleName = "G\u02BBulomov", "O\u2018tkir", "Bo\u02BCri"
		}, nil},
		{"an apostrophe at the start", func(f *schema.Form) { f.Applicant.FirstName = "\u02BBOtkir" }, []string{"/applicant/firstName:format"}},
		{"mixed script inside a name", func(f *schema.Form) { f.Applicant.LastName = "Ивanov" }, []string{"/applicant/lastName:mixed_script"}},
		{"mixed script across names", func(f *schema.Form) { f.Applicant.FirstName = "Alisher" }, []string{"/applicant/firstName:mixed_script"}},
		{"one name in each script", func(f *schema.Form) {
			f.Applicant.LastName, f.Applicant.FirstName, f.Applicant.MiddleName = "Karimov", "Бахтиёр", ""
		}, []string{"/applicant/lastName:mixed_script", "/applicant/firstName:mixed_script"}},
		{"digits in a name", func(f *schema.Form) { f.Applicant.FirstName = "Алишер2" }, []string{"/applicant/firstName:format"}},
		{"double hyphen", func(f *schema.Form) { f.Applicant.LastName = "Рахимов--Ли" }, []string{"/applicant/lastName:format"}},
		{"cyrillic latin name", func(f *schema.Form) { f.Applicant.LatinName = "РАХИМОВ" }, []string{"/applicant/latinName:latin_only"}},
		{"long name", func(f *schema.Form) { f.Applicant.LastName = strings.Repeat("а", 101) }, []string{"/applicant/lastName:too_long"}},
		{"control character", func(f *schema.Form) { f.Applicant.BirthPlace = "Таш\x00кент" }, []string{"/applicant/birthPlace:invalid_characters"}},
		{"birth today", func(f *schema.Form) { f.Applicant.BirthDate = "2026-03-10" }, []string{"/applicant/birthDate:not_past"}},
		{"age 130", func(f *schema.Form) { f.Applicant.BirthDate = "1896-03-10" }, []string{"/applicant/birthDate:too_old"}},
		{"age just below 130", func(f *schema.Form) { f.Applicant.BirthDate = "1896-03-11" }, nil},
		{"no such date", func(f *schema.Form) { f.Applicant.BirthDate = "1990-02-30" }, []string{"/applicant/birthDate:no_such_date"}},
		{"no such month", func(f *schema.Form) { f.Applicant.BirthDate = "1990-13-01" }, []string{"/applicant/birthDate:no_such_date"}},
		{"russian date format", func(f *schema.Form) { f.Applicant.BirthDate = "12.04.1990" }, []string{"/applicant/birthDate:date_format"}},
		{"zero-width space only", func(f *schema.Form) { f.Applicant.BirthPlace = "\u200b" }, []string{"/applicant/birthPlace:required"}},
		{"byte order mark only", func(f *schema.Form) { f.Address.City = "\ufeff" }, []string{"/address/city:required"}},
		{"joiner only", func(f *schema.Form) { f.Address.House = "\u200d" }, []string{"/address/house:required"}},
		{"direction override", func(f *schema.Form) { f.Address.Street = "ул.\u202e Тверская" }, []string{"/address/street:invalid_characters"}},
		{"direction isolates only", func(f *schema.Form) { f.Address.Street = "\u2066\u2069" }, []string{"/address/street:invalid_characters"}},
		{"soft hyphen only", func(f *schema.Form) { f.IdentityDocument.IssuedBy = "\u00ad" }, []string{"/identityDocument/issuedBy:required"}},
		{"pasted soft hyphen and marks", func(f *schema.Form) { f.IdentityDocument.IssuedBy = "\ufeffMIA of Uz\u00adbe\u200ekistan\u200b" }, nil},
		{"joiner only, optional field", func(f *schema.Form) { f.Address.Apartment = "\u200d" }, []string{"/address/apartment:invalid_characters"}},
		{"arabic letter mark", func(f *schema.Form) { f.Address.Street = "ул.\u061c Тверская" }, []string{"/address/street:invalid_characters"}},
		{"joiner inside a word", func(f *schema.Form) { f.Applicant.BirthPlace = "Таш\u200cкент" }, nil},
		// Letters written as a base and a combining mark (macOS, PDFs)
		// are the letters a person sees.
		{"decomposed й in a name", func(f *schema.Form) { f.Applicant.FirstName = "Андреи\u0306" }, nil},
		{"decomposed umlaut in a Latin name", func(f *schema.Form) {
			f.Applicant.LastName, f.Applicant.FirstName, f.Applicant.MiddleName = "Mu\u0308ller", "Anna", ""
		}, nil},
		{"decomposed ё counted once", func(f *schema.Form) { f.Address.Street = strings.Repeat("е\u0308", 150) }, nil},
		// An address in Russia is written in Cyrillic, Latin letters at
		// most, with digits and the usual punctuation.
		{"address with punctuation", func(f *schema.Form) {
			f.Address.Street, f.Address.House, f.Address.Building = "ул. Маршала Жукова, мкр. «Юг» (бывш. ул. 8 Марта)", "5/2", "корп. Б-1; стр. 2"
		}, nil},
		{"address in Latin letters", func(f *schema.Form) { f.Address.Street = "Tverskaya st." }, nil},
		{"Hebrew street", func(f *schema.Form) { f.Address.Street = "רחוב הרצל" }, []string{"/address/street:address_characters"}},
		{"Arabic city", func(f *schema.Form) { f.Address.City = "مدينة" }, []string{"/address/city:address_characters"}},
		{"emoji in apartment", func(f *schema.Form) { f.Address.Apartment = "12 🏠" }, []string{"/address/apartment:address_characters"}},
		{"Arabic-Indic digits in house", func(f *schema.Form) { f.Address.House = "١٢" }, []string{"/address/house:address_characters"}},
		{"date with time", func(f *schema.Form) { f.Applicant.BirthDate = "1990-02-03T00:00:00Z" }, []string{"/applicant/birthDate:date_format"}},
		{"russian citizen", func(f *schema.Form) { f.Applicant.Citizenship = "RUS" }, []string{"/applicant/citizenship:russian_citizen"}},
		{"unknown country", func(f *schema.Form) { f.Applicant.Citizenship = "XYZ" }, []string{"/applicant/citizenship:unknown_country"}},
		{"alpha-2 country", func(f *schema.Form) { f.Applicant.Citizenship = "UZ" }, []string{"/applicant/citizenship:unknown_country"}},
		{"a territory nobody is a citizen of", func(f *schema.Form) { f.Applicant.Citizenship = "ATA" }, []string{"/applicant/citizenship:unknown_country"}},
		{"lower-case country is normalised", func(f *schema.Form) { f.Applicant.Citizenship = " tjk " }, nil},
		{"stateless", func(f *schema.Form) { f.Applicant.Citizenship = "XXA" }, nil},
		{"sex", func(f *schema.Form) { f.Applicant.Sex = "m" }, []string{"/applicant/sex:not_allowed"}},
		{"passport number", func(f *schema.Form) { f.IdentityDocument.Number = "12№4" }, []string{"/identityDocument/number:format"}},
		{"passport number with spaces is normalised", func(f *schema.Form) { f.IdentityDocument.Number = "12 345 67" }, nil},
		{"passport without series", func(f *schema.Form) { f.IdentityDocument.Series = "" }, nil},
		{"identity type", func(f *schema.Form) { f.IdentityDocument.Type = "internal_passport" }, []string{"/identityDocument/type:not_allowed"}},
		{"passport issued before birth", func(f *schema.Form) { f.IdentityDocument.IssuedAt = "1989-01-01" }, []string{"/identityDocument/issuedAt:before_birth"}},
		{"passport issued in future", func(f *schema.Form) { f.IdentityDocument.IssuedAt = "2026-03-11" }, []string{"/identityDocument/issuedAt:future"}},
		{"passport expired", func(f *schema.Form) { f.IdentityDocument.ExpiresAt = "2026-03-09" }, []string{"/identityDocument/expiresAt:expired"}},
		{"passport valid through today", func(f *schema.Form) { f.IdentityDocument.ExpiresAt = "2026-03-10" }, nil},
		{"expiry before issue", func(f *schema.Form) { f.ResidenceDocument.ExpiresAt = "2025-01-10" }, []string{"/residenceDocument/expiresAt:before_issue"}},
		{"rvp number", func(f *schema.Form) { f.ResidenceDocument.Series, f.ResidenceDocument.Number = "1", "123" }, []string{"/residenceDocument/series:format", "/residenceDocument/number:format"}},
		{"rvp needs expiry", func(f *schema.Form) { f.ResidenceDocument.ExpiresAt = "" }, []string{"/residenceDocument/expiresAt:required"}},
		{"rvp for three years and a day", func(f *schema.Form) { f.ResidenceDocument.ExpiresAt = "2028-01-11" }, nil},
		{"rvp for ten years", func(f *schema.Form) { f.ResidenceDocument.ExpiresAt = "2035-01-10" }, []string{"/residenceDocument/expiresAt:too_long"}},
		{"rvp for three years and two days", func(f *schema.Form) { f.ResidenceDocument.ExpiresAt = "2028-01-12" }, []string{"/residenceDocument/expiresAt:too_long"}},
		{"vnzh until 9999", func(f *schema.Form) {
			f.ResidenceDocument = schema.ResidenceDocument{Type: "vnzh", Series: "82", Number: "0012345", IssuedAt: "2024-06-01", ExpiresAt: "9999-12-31"}
		}, []string{"/residenceDocument/expiresAt:too_long"}},
		{"an open-ended EAEU contract given a far end", func(f *schema.Form) {
			f.Applicant.Citizenship = "KAZ"
			f.ResidenceDocument = schema.ResidenceDocument{Type: "eaeu_worker", Number: "ТД-15/2025", IssuedAt: "2025-06-01", ExpiresAt: "2099-12-31"}
		}, nil},
		{"refugee certificate for ten years", func(f *schema.Form) {
			f.ResidenceDocument = schema.ResidenceDocument{Type: "refugee", Series: "БЖ", Number: "123456", IssuedAt: "2024-06-01", ExpiresAt: "2034-06-01"}
		}, nil},
		{"permanent vnzh", func(f *schema.Form) {
			f.ResidenceDocument = schema.ResidenceDocument{Type: "vnzh", Series: "82", Number: "0012345", IssuedAt: "2024-06-01"}
		}, nil},
		{"refugee", func(f *schema.Form) {
			f.ResidenceDocument = schema.ResidenceDocument{Type: "refugee", Series: "БЖ", Number: "123456", IssuedAt: "2024-06-01", ExpiresAt: "2027-06-01"}
		}, nil},
		{"eaeu worker from Kazakhstan", func(f *schema.Form) {
			f.Applicant.Citizenship = "KAZ"
			f.ResidenceDocument = schema.ResidenceDocument{Type: "eaeu_worker", Number: "ТД-15/2025", IssuedAt: "2025-06-01", ExpiresAt: "2026-12-31"}
		}, nil},
		{"eaeu worker from Uzbekistan", func(f *schema.Form) {
			f.ResidenceDocument = schema.ResidenceDocument{Type: "eaeu_worker", Number: "15", IssuedAt: "2025-06-01", ExpiresAt: "2026-12-31"}
		}, []string{"/residenceDocument/type:not_eligible"}},
		{"eaeu contract has no series", func(f *schema.Form) {
			f.Applicant.Citizenship = "ARM"
			f.ResidenceDocument = schema.ResidenceDocument{Type: "eaeu_worker", Series: "12", Number: "15", IssuedAt: "2025-06-01", ExpiresAt: "2026-12-31"}
		}, []string{"/residenceDocument/series:not_allowed"}},
		{"migration card alone", func(f *schema.Form) {
			f.ResidenceDocument = schema.ResidenceDocument{Type: "migration_card", Series: "4617", Number: "1234567", IssuedAt: "2026-01-10", ExpiresAt: "2026-04-10"}
		}, []string{"/residenceDocument/type:not_eligible"}},
		{"residence type", func(f *schema.Form) { f.ResidenceDocument.Type = "visa" }, []string{"/residenceDocument/type:not_allowed"}},
		{"region", func(f *schema.Form) { f.Address.Region = "00" }, []string{"/address/region:format"}},
		{"postal code", func(f *schema.Form) { f.Address.PostalCode = "12345a" }, []string{"/address/postalCode:format"}},
		{"phone", func(f *schema.Form) { f.Contacts.Phone = "0161234567" }, []string{"/contacts/phone:format"}},
		{"a foreign phone without its +", func(f *schema.Form) { f.Contacts.Phone = "998901234567" }, []string{"/contacts/phone:format"}},
		{"a region code no subject has", func(f *schema.Form) { f.Address.Region = "88" }, []string{"/address/region:unknown_region"}},
		{"Sevastopol", func(f *schema.Form) { f.Address.Region = "92" }, nil},
		{"a Russian phone written as at home", func(f *schema.Form) { f.Contacts.Phone = "8 (916) 123-45-67" }, nil},
		{"ten digits, which may be a foreign mobile", func(f *schema.Form) { f.Contacts.Phone = "9876543210" }, []string{"/contacts/phone:format"}},
		{"phone with separators is normalised", func(f *schema.Form) { f.Contacts.Phone = "+7 (916) 123-45-67" }, nil},
		// +7 and ten digits, no fewer, no more (QA: E.164's 8 to 15 let both through).
		{"a line break in a one-line field", func(f *schema.Form) { f.Applicant.BirthPlace = "Ташкент\nУзбекистан" }, []string{"/applicant/birthPlace:invalid_characters"}},
		{"fullwidth Latin in the Latin name", func(f *schema.Form) { f.Applicant.LatinName = "ＫＡＲＩＭＯＶ BAKHTIYOR" }, []string{"/applicant/latinName:fullwidth"}},
		{"fullwidth Latin in a name", func(f *schema.Form) { f.Applicant.LastName = "Ｋａｒｉｍｏｖ" }, []string{"/applicant/lastName:fullwidth"}},
		{"+7 and nine digits", func(f *schema.Form) { f.Contacts.Phone = "+7 916 12-34-56" }, []string{"/contacts/phone:format"}},
		{"+7 and twelve digits", func(f *schema.Form) { f.Contacts.Phone = "+7916123456789" }, []string{"/contacts/phone:format"}},
		{"a Kazakh mobile", func(f *schema.Form) { f.Contacts.Phone = "+77012345678" }, nil},
		{"an Uzbek mobile", func(f *schema.Form) { f.Contacts.Phone = "+998901234567" }, nil},
		{"email", func(f *schema.Form) { f.Contacts.Email = "alisher@" }, []string{"/contacts/email:format"}},
		{"missing scan", func(f *schema.Form) { f.Documents = f.Documents[:2] }, []string{"/documents:missing_scan"}},
		{"unknown kind", func(f *schema.Form) { f.Documents[2].Kind = "selfie" }, []string{"/documents/2/kind:not_allowed", "/documents:missing_scan"}},
		{"another applicant's scan", func(f *schema.Form) { f.Documents[0].ID = "doc-foreign" }, []string{"/documents/0/id:unknown_document"}},
		{"scan of another kind", func(f *schema.Form) { f.Documents[0].ID = "doc-consent" }, []string{"/documents/0/kind:kind_mismatch"}},
		{"duplicate kind", func(f *schema.Form) {
			f.Documents = append(f.Documents, schema.DocumentRef{Kind: schema.DocumentResidence, ID: "doc-residence2"})
		}, []string{"/documents/3/kind:duplicate"}},
		{"no consent", func(f *schema.Form) { f.Consent = false }, []string{"/consent:consent_required"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := validForm()
			c.change(&f)
			err := submit(f)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			assertFields(t, err, c.want...)
		})
	}
}

func TestMigrationCardNamesTheNeededDocument(t *testing.T) {
	f := validForm()
	f.ResidenceDocument = schema.ResidenceDocument{Type: "migration_card", Series: "4617", Number: "1234567", IssuedAt: "2026-01-10", ExpiresAt: "2026-04-10"}
	e, _ := cmderr.As(submit(f))
	if e == nil || len(e.Fields) != 1 {
		t.Fatalf("got %v", e)
	}
	m := e.Fields[0].Message
	for _, want := range []string{"РВП", "ВНЖ", "беженца", "326-ФЗ"} {
		if !strings.Contains(m.RU, want) {
			t.Errorf("ru message lacks %q: %s", want, m.RU)
		}
	}
	if !strings.Contains(m.EN, "residence permit") {
		t.Errorf("en message: %s", m.EN)
	}
}

// TestEveryErrorAtOnce submits an empty form and expects one error per
// required field, not just the first.
func TestEveryErrorAtOnce(t *testing.T) {
	assertFields(t, submit(schema.Form{}),
		"/applicant/lastName:required", "/applicant/firstName:required", "/applicant/birthDate:required",
		"/applicant/birthPlace:required", "/applicant/citizenship:required", "/applicant/sex:required",
		"/identityDocument/type:required", "/identityDocument/issuedBy:required", "/identityDocument/issuedAt:required",
		"/identityDocument/expiresAt:required", "/identityDocument/number:required",
		"/residenceDocument/type:required", "/residenceDocument/number:required", "/residenceDocument/issuedAt:required",
		"/address/region:required", "/address/city:required", "/address/street:required", "/address/house:required", "/address/postalCode:required",
		"/contacts/phone:required", "/contacts/email:required",
		"/documents:missing_scan", "/documents:missing_scan", "/documents:missing_scan",
		"/consent:consent_required",
	)
}

func TestSubmitStoresTheNormalisedFormAndResolvedScans(t *testing.T) {
	f := validForm()
	f.Applicant.Citizenship = "uzb"
	f.IdentityDocument.Number = " 12-345 67 "
	evs, err := application.Decide(application.State{}, application.SubmitApplication{ApplicationID: appID, Form: f}, env(asOperator, now))
	if err != nil {
		t.Fatal(err)
	}
	s := evs[0].(schema.ApplicationSubmitted)
	if s.ApplicantID != owner || s.ApplicationID != appID || !s.SubmittedAt.Equal(now) {
		t.Errorf("ids: %+v", s)
	}
	if s.Applicant.Citizenship != "UZB" || s.IdentityDocument.Number != "1234567" {
		t.Errorf("not normalised: %+v", s)
	}
	if d := s.Documents[1]; d.SHA256 != "sha-doc-residence" || d.Size != 1000 || d.ContentType != "application/pdf" {
		t.Errorf("scan not resolved: %+v", d)
	}
	typed := s.Form
	typed.IdentityDocument = schema.IdentityDocument{Type: "foreign_passport", Series: "fa", Number: "1234 567"}
	if application.PersonKey([]byte("k"), s.Form) != application.PersonKey([]byte("k"), typed) {
		t.Error("person key depends on spelling")
	}
}

func TestCountryList(t *testing.T) {
	n := 0
	for _, c := range strings.Fields("ABW AFG ZWE RUS UZB TJK KGZ KAZ ARM BLR CHN VNM XXA") {
		if application.KnownCitizenship(c) {
			n++
		}
	}
	if n != 13 {
		t.Errorf("known %d of 13", n)
	}
	if application.KnownCitizenship("SUN") || application.KnownCitizenship("uzb") {
		t.Error("unknown codes accepted")
	}
}

func TestENP(t *testing.T) {
	if !application.ValidENP(testENP) {
		t.Fatalf("%s should be valid", testENP)
	}
	for _, bad := range []string{"", "1234567890123453", "0234567890123452", "123456789012345", "12345678901234522", "12345678901234a2"} {
		if application.ValidENP(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	// Luhn catches every single-digit error.
	for i := range 15 {
		b := []byte(testENP)
		b[i] = '0' + (b[i]-'0'+1)%10
		if b[0] != '0' && application.ValidENP(string(b)) {
			t.Errorf("typo at %d accepted: %s", i, b)
		}
	}
	seen := map[string]bool{}
	for i := range 1000 {
		c := application.ENPCandidate(appID, i)
		if !application.ValidENP(c) || seen[c] {
			t.Fatalf("candidate %d: %s", i, c)
		}
		seen[c] = true
	}
	if application.ENPCandidate(appID, 0) != application.ENPCandidate(appID, 0) {
		t.Error("candidates are not deterministic")
	}
}

// FuzzValidate feeds arbitrary JSON through normalisation, validation and the
// submit decision. Nothing may panic, and an accepted form must be stable
// under a second normalisation.
func FuzzValidate(f *testing.F) {
	valid, _ := json.Marshal(validForm())
	f.Add(valid)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"applicant":{"lastName":"\u0000","birthDate":"9999-99-99","citizenship":"ру"},"documents":[{},{"kind":"passport","id":"doc-passport"}]}`))
	f.Add([]byte(`{"residenceDocument":{"type":"eaeu_worker","expiresAt":"0000-01-01"},"contacts":{"phone":"+","email":"@"}}`))
	f.Add([]byte(`{"applicant":{"lastName":"-","firstName":"' '","birthDate":"0001-01-01"},"identityDocument":{"issuedAt":"2026-03-10","expiresAt":"2026-03-10"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var form schema.Form
		if json.Unmarshal(data, &form) != nil {
			return
		}
		e := env(asOwner, now)
		checked, errs := application.ValidateForm(application.Normalize(form), e, owner)
		for _, fe := range errs {
			if !strings.HasPrefix(fe.Field, "/") || fe.Code == "" || fe.Message.RU == "" || fe.Message.EN == "" {
				t.Fatalf("malformed field error %+v", fe)
			}
		}
		if len(errs) == 0 {
			if _, again := application.ValidateForm(application.Normalize(checked), e, owner); len(again) != 0 {
				t.Fatalf("an accepted form fails once normalised again: %v", again)
			}
		}
		_, _ = application.Decide(application.State{}, application.SubmitApplication{ApplicationID: appID, Form: form}, e)
	})
}

// Invisible characters that pasting brings along are removed, not refused:
// the person could not find them to delete them.
func TestNormalizeRemovesPastedInvisibles(t *testing.T) {
	f := validForm()
	f.Applicant.BirthPlace = "\ufeffТаш\u00adкент\u200b "
	f.Address.Street = "ул.\u200e Тверская\u2060"
	n := application.Normalize(f)
	if n.Applicant.BirthPlace != "Ташкент" || n.Address.Street != "ул. Тверская" {
		t.Fatalf("%q, %q", n.Applicant.BirthPlace, n.Address.Street)
	}
	// Numbers and contacts too: a pasted zero-width space is not a
	// format error the person cannot find.
	f.IdentityDocument.Number = "FA\u200b1234567"
	f.Contacts.Phone, f.Contacts.Email = "\ufeff+7 916 123-45-67", "user@example.org\u200b"
	n = application.Normalize(f)
	if n.IdentityDocument.Number != "FA1234567" || n.Contacts.Phone != "+79161234567" || n.Contacts.Email != "user@example.org" {
		t.Fatalf("%q, %q, %q", n.IdentityDocument.Number, n.Contacts.Phone, n.Contacts.Email)
	}
	// Composed, as a person sees the letters.
	f.Applicant.FirstName, f.Address.Street = "Андреи\u0306", "ул. Але\u0308шина"
	if n := application.Normalize(f); n.Applicant.FirstName != "Андрей" || n.Address.Street != "ул. Алёшина" {
		t.Fatalf("not composed: %q, %q", n.Applicant.FirstName, n.Address.Street)
	}
	// A direction override is not noise: it stays, for validation to refuse.
	f.Address.Street = "ул.\u202e Тверская"
	if n := application.Normalize(f); n.Address.Street != f.Address.Street {
		t.Fatalf("override removed: %q", n.Address.Street)
	}
}

// A form stored before pasted invisibles were removed may still hold one
// in a section an answer does not touch; answering must not be refused
// for it.
func TestAnsweringIgnoresOldInvisiblesInUntouchedSections(t *testing.T) {
	s := askedWithStored(func(f *schema.Form) { f.IdentityDocument.IssuedBy = "MIA of Uz\u00adbekistan" })
	_, err := application.Decide(s, application.ProvideInfo{Answers: []schema.Answer{{QuestionID: "1.1", Text: "Москва"}}}, env(asOwner, now))
	if err != nil {
		t.Fatalf("answer refused for an old soft hyphen: %v", err)
	}
}

// An address stored before the script rule must not stop an answer that
// does not touch it.
func TestAnsweringIgnoresAnOldAddressScript(t *testing.T) {
	s := askedWithStored(func(f *schema.Form) { f.Address.Street = "רחוב הרצל 5" })
	if _, err := application.Decide(s, application.ProvideInfo{Answers: []schema.Answer{{QuestionID: "1.1", Text: "Москва"}}}, env(asOwner, now)); err != nil {
		t.Fatalf("answer refused for the stored address: %v", err)
	}
}

// What a form says of a scan besides its kind and id must be what was
// uploaded: the blob's id or the digest the upload answered as sha256, the
// size, the content type. It used to be replaced without a word, so a
// client naming the wrong scan by a typo in its id learnt nothing.
func TestDocumentDetailsMustMatchTheUpload(t *testing.T) {
	submit := func(ref schema.DocumentRef, digests map[string]string) error {
		t.Helper()
		f := validForm()
		for i, d := range f.Documents {
			if d.Kind == ref.Kind {
				f.Documents[i] = ref
			}
		}
		e := env(asOwner, now)
		e.ContentSHA256 = digests
		_, err := application.Decide(application.State{}, application.SubmitApplication{ApplicationID: appID, Form: f}, e)
		return err
	}
	passport := func(sha string, size int64, ct string) schema.DocumentRef {
		return schema.DocumentRef{Kind: schema.DocumentPassport, ID: "doc-passport", SHA256: sha, Size: size, ContentType: ct}
	}
	content := map[string]string{"doc-passport": "c0ffee"}
	for _, ok := range []schema.DocumentRef{
		passport("", 0, ""),
		passport("sha-doc-passport", 1000, "application/pdf"), // the blob's id, as the views show it
		passport("SHA-DOC-PASSPORT", 0, "Application/PDF"),
		passport("c0ffee", 1000, ""), // the digest the upload answered
	} {
		if err := submit(ok, content); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	assertFields(t, submit(passport("0000", 0, ""), content), "/documents/0/sha256:sha256_mismatch")
	assertFields(t, submit(passport("c0ffee", 0, ""), nil), "/documents/0/sha256:sha256_mismatch")
	assertFields(t, submit(passport("", 999, ""), content), "/documents/0/size:size_mismatch")
	assertFields(t, submit(passport("", 0, "image/png"), content), "/documents/0/contentType:content_type_mismatch")
}

// One passport is one person however its series and number are split
// between the two fields, and whatever citizenship is claimed with it.
func TestPersonKeyReadsSeriesAndNumberAsOne(t *testing.T) {
	form := func(country, series, number string) schema.Form {
		var f schema.Form
		f.Applicant.Citizenship = country
		f.IdentityDocument = schema.IdentityDocument{Type: schema.IdentityForeignPassport, Series: series, Number: number}
		return f
	}
	secret := []byte("k")
	want := application.PersonKey(secret, form("UZB", "FA", "1234567"))
	for _, f := range []schema.Form{
		form("UZB", "", "FA1234567"),
		form("UZB", "F", "A1234567"),
		form("UZB", "FA1234567", ""),
		form("uzb", "fa", "1234 567"),
		form("UZB", "FA-", "123\u00a04567"),
		form("TJK", "FA", "1234567"),
	} {
		if got := application.PersonKey(secret, f); got != want {
			t.Errorf("%+v: a different person key from FA 1234567's", f.IdentityDocument)
		}
	}
	for _, f := range []schema.Form{
		form("UZB", "FA", "1234568"),
		form("UZB", "AF", "1234567"),
	} {
		if got := application.PersonKey(secret, f); got == want {
			t.Errorf("%s %+v: the same person key as UZB FA 1234567's", f.Applicant.Citizenship, f.IdentityDocument)
		}
	}
	if application.PersonKey([]byte("other"), form("UZB", "FA", "1234567")) == want {
		t.Error("the key does not depend on the secret")
	}
}

// A Russian number typed as at home is stored in E.164, as sign-in reads it.
func TestHomePhoneIsStoredInE164(t *testing.T) {
	for in, want := range map[string]string{
		"8 (916) 123-45-67": "+79161234567",
		"79161234567":       "+79161234567",
		"98765 43210":       "9876543210", // perhaps India's: left for the check to refuse
		"+998 90 123 45 67": "+998901234567",
		"8916123456":        "8916123456", // one digit short: left for the check to refuse
	} {
		f := validForm()
		f.Contacts.Phone = in
		if got := application.Normalize(f).Contacts.Phone; got != want {
			t.Errorf("%q is stored as %q, want %q", in, got, want)
		}
	}
}

// Every named region is a known one, and every known one but the two
// whose numbering sources disagree has a name.
func TestRegionNames(t *testing.T) {
	for i := range 100 {
		code := fmt.Sprintf("%02d", i)
		name, named := application.RegionName(code)
		known := application.KnownRegion(code)
		if named && !known {
			t.Errorf("%s is named %q but not a known region", code, name)
		}
		if known && !named && code != "84" && code != "85" {
			t.Errorf("%s is known but has no name", code)
		}
	}
	if n, _ := application.RegionName("77"); n != "Москва" {
		t.Errorf("77 is %q", n)
	}
}

func TestCanonicalLeavesTheCallersCommandAlone(t *testing.T) {
	answers := []schema.Answer{{QuestionID: " q1 ", Text: " да "}}
	docs := []schema.DocumentRef{{Kind: schema.DocumentPassport, ID: " ABC "}}
	got := application.Canonical(application.ProvideInfo{Answers: answers, Documents: docs}).(application.ProvideInfo)
	if got.Answers[0] != (schema.Answer{QuestionID: "q1", Text: "да"}) || got.Documents[0].ID != "abc" {
		t.Fatalf("canonical: %+v", got)
	}
	if answers[0].Text != " да " || docs[0].ID != " ABC " {
		t.Fatalf("the caller's command changed: %+v %+v", answers, docs)
	}
}

func TestCanonicalQuestionsAreTrimmedOnACopy(t *testing.T) {
	qs := []application.QuestionInput{{Text: " Уточните дату ", Field: " /address "}}
	got := application.Canonical(application.RequestInfo{Questions: qs}).(application.RequestInfo)
	if got.Questions[0] != (application.QuestionInput{Text: "Уточните дату", Field: "/address"}) {
		t.Fatalf("canonical: %+v", got.Questions)
	}
	if qs[0].Text != " Уточните дату " {
		t.Fatalf("the caller's command changed: %+v", qs)
	}
}

// Every command with free text is compared as decide reads it: the same
// reason with a browser's CRLF, or spaces around it, is the same request.
func TestCanonicalReasonsAreReadAsDecideReadsThem(t *testing.T) {
	for _, tc := range []struct{ sent, same application.Command }{
		{application.WithdrawConsent{Reason: " Передумал\r\nсовсем "}, application.WithdrawConsent{Reason: "Передумал\nсовсем"}},
		{application.Withdraw{Reason: "Уезжаю\r\n"}, application.Withdraw{Reason: "Уезжаю"}},
		{application.ReleaseClaim{Reason: " В отпуске\r\nдо марта"}, application.ReleaseClaim{Reason: "В отпуске\nдо марта"}},
		{application.Reject{ReasonCode: " other ", Reason: "Нет\r\nскана"}, application.Reject{ReasonCode: "other", Reason: "Нет\nскана"}},
	} {
		if got := application.Canonical(tc.sent); got != tc.same {
			t.Errorf("%T: %+v, want %+v", tc.sent, got, tc.same)
		}
	}
}
