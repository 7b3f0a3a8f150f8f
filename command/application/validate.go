package application

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/schema"
)

// Limits on free-text fields: generous for real data, small enough that one
// request cannot bloat every read model.
const (
	maxNameLen     = 100
	maxPlaceLen    = 200
	maxAddressPart = 200
	maxShortPart   = 20
	maxEmailLen    = 254
	maxDocuments   = 10
	maxAgeYears    = 130
	maxQuestions   = 20
	// maxInfoRounds bounds the information requests of one application:
	// each round's questions and answers (up to 20 × 2,000 and 20 × 4,000
	// characters) stay in the application's views for good, and endless
	// rounds took a view past MongoDB's 16 MB document limit, which
	// stalls every projection. Ten rounds leave room for any real case;
	// after them the reviewer decides.
	maxInfoRounds   = 10
	maxQuestionText = 2000
	maxAnswerText   = 4000
	maxReasonText   = 2000
)

// fieldCheck is go-playground/validator, used for the rules it implements
// well (e-mail, E.164); the rest are ours.
var fieldCheck = validator.New()

// Messages shared by many fields.
var (
	msgRequired   = cmderr.T("Заполните поле.", "This field is required.")
	msgDateFormat = cmderr.T("Укажите дату в формате ГГГГ-ММ-ДД.", "Use the date format YYYY-MM-DD.")
	msgControl    = cmderr.T("Поле содержит недопустимые символы: управляющие или невидимые (например, смену направления текста) — или только их.",
		"The field contains characters that are not allowed: control or invisible ones (such as a text direction override), or nothing else.")
	msgReplacement = cmderr.T("Поле содержит знак «�» (U+FFFD): так выглядит символ, потерянный при кодировании, например половина суррогатной пары (\\ud800) в JSON. Введите текст заново.",
		"The field contains \"�\" (U+FFFD), which stands for a character lost in encoding, such as half a surrogate pair (\\ud800) in JSON. Type the text again.")
	msgNoSuchDate = cmderr.T("Такой даты нет в календаре.", "There is no such date in the calendar.")
)

// disallowed are the characters no free-text field may hold: control
// characters, and format characters (Unicode Cf), which are invisible. A
// bidirectional override makes a reviewer read an address in another order
// than it is stored. The two joiners are let through: some scripts need
// them between letters. The invisibles that pasting brings along (a soft
// hyphen, a zero-width space) never get here: cleanText removes them.
func disallowed(r rune) bool {
	return unicode.IsControl(r) || (unicode.Is(unicode.Cf, r) && r != zwnj && r != zwj)
}

const (
	zwnj = '\u200c'
	zwj  = '\u200d'
)

// cleanText trims a free-text value and removes the invisible characters
// that text pasted from PDFs, Word or Windows carries without anyone
// putting them there: a soft hyphen, a zero-width space, a byte order
// mark, left-to-right and right-to-left marks, a word joiner. A person
// could not find them to delete them, and they change nothing a reader
// sees. Direction overrides and isolates are left in, for text to refuse:
// they do change what a reader sees.
//
// Text is also brought to Unicode's composed form (NFC): macOS and text
// copied out of PDFs write "й" and "ё" as a letter and a combining mark,
// which looks the same, was refused by the name rules, counted twice
// against length limits, and made an unchanged address a change.
func cleanText(s string) string {
	if strings.IndexFunc(s, invisibleNoise) >= 0 {
		s = strings.Map(func(r rune) rune {
			if invisibleNoise(r) {
				return -1
			}
			return r
		}, s)
	}
	if !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	return strings.TrimSpace(s)
}

func invisibleNoise(r rune) bool {
	switch r {
	case '\u00ad', '\u200b', '\u200e', '\u200f', '\u2060', '\ufeff':
		return true
	}
	return false
}

// blank reports a value with nothing a person can see in it.
func blank(v string) bool {
	return strings.IndexFunc(v, func(r rune) bool { return !unicode.IsSpace(r) && r != zwnj && r != zwj }) < 0
}

func msgTooLong(n int) cmderr.Text {
	return cmderr.T(fmt.Sprintf("Не больше %d символов.", n), fmt.Sprintf("At most %d characters.", n))
}

func msgOneOf(values []string) cmderr.Text {
	list := strings.Join(values, ", ")
	return cmderr.T("Допустимые значения: "+list+".", "Allowed values: "+list+".")
}

// checker collects field errors against one "today".
type checker struct {
	f     *cmderr.Fields
	today time.Time
	// storedAddress: the address checked is the one stored, which an
	// answer to a question does not touch. Rules added since it was
	// stored (the list of region codes) do not apply to it: the applicant
	// could not fix it there, and could not answer at all.
	storedAddress bool
	// storedResidence is the same for the residence document: the bound
	// on its term (maxTerm) came after forms were stored.
	storedResidence bool
}

func (c *checker) add(ptr, code string, msg cmderr.Text) { c.f.Add(ptr, code, msg) }

// paragraphs is text for the fields written in a text box, where a
// person presses Enter: a reason, a question, an answer. Line breaks are
// allowed there, and nothing else text refuses (decisions QA: a reviewer's
// two-line rejection reason was refused as holding control characters).
func (c *checker) paragraphs(ptr, v string, required bool, max int) bool {
	return c.check(ptr, v, required, max, true)
}

// cleanParagraphs is cleanText for paragraphs, line breaks brought to
// "\n" (a browser's text box sends "\r\n").
func cleanParagraphs(s string) string {
	return cleanText(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"))
}

// text checks a free-text field: presence (something visible), length
// and no control or invisible characters. It reports whether the value is present and acceptable.
func (c *checker) text(ptr, v string, required bool, max int) bool {
	return c.check(ptr, v, required, max, false)
}

func (c *checker) check(ptr, v string, required bool, max int, lines bool) bool {
	if v == "" {
		if required {
			c.add(ptr, "required", msgRequired)
		}
		return false
	}
	bad := disallowed
	if lines {
		bad = func(r rune) bool { return r != '\n' && disallowed(r) }
	}
	if !utf8.ValidString(v) || strings.IndexFunc(v, bad) >= 0 {
		c.add(ptr, "invalid_characters", msgControl)
		return false
	}
	if strings.ContainsRune(v, utf8.RuneError) {
		// U+FFFD is what JSON's decoder makes of an escaped half of a
		// surrogate pair ("\ud800"): the character sent was lost before
		// this check, and would have been stored as "�" (QA). Bytes that
		// are not UTF-8 are refused before decoding, for the same reason.
		c.add(ptr, "invalid_characters", msgReplacement)
		return false
	}
	if blank(v) {
		if required {
			c.add(ptr, "required", msgRequired)
		} else {
			// Optional, but not empty: it holds only joiners, which
			// would be stored and printed as a blank that is not one.
			c.add(ptr, "invalid_characters", msgControl)
		}
		return false
	}
	if utf8.RuneCountInString(v) > max {
		c.add(ptr, "too_long", msgTooLong(max))
		return false
	}
	return true
}

// date parses a "YYYY-MM-DD" field.
func (c *checker) date(ptr, v string, required bool) (time.Time, bool) {
	if v == "" {
		if required {
			c.add(ptr, "required", msgRequired)
		}
		return time.Time{}, false
	}
	t, ok := parseDate(v)
	switch {
	case ok:
	case dateShape.MatchString(v):
		// The format is right and the day does not exist (2026-02-30):
		// "use YYYY-MM-DD" would send the person looking for a typo in
		// the format.
		c.add(ptr, "no_such_date", msgNoSuchDate)
	default:
		c.add(ptr, "date_format", msgDateFormat)
	}
	return t, ok
}

var dateShape = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

func (c *checker) oneOf(ptr, v string, values []string) bool {
	if v == "" {
		c.add(ptr, "required", msgRequired)
		return false
	}
	if !slices.Contains(values, v) {
		c.add(ptr, "not_allowed", msgOneOf(values))
		return false
	}
	return true
}

func (c *checker) pattern(ptr, v string, re *regexp.Regexp, msg cmderr.Text) bool {
	if v == "" {
		c.add(ptr, "required", msgRequired)
		return false
	}
	if !re.MatchString(v) {
		c.add(ptr, "format", msgDocFormat(msg))
		return false
	}
	return true
}

func msgDocFormat(want cmderr.Text) cmderr.Text {
	return cmderr.T("Неверный формат: "+want.RU+".", "Wrong format: "+want.EN+".")
}

// Script of a name.
type script int

const (
	scriptNone script = iota
	scriptLatin
	scriptCyrillic
)

// nameScript checks a personal name: letters of one script (Cyrillic or
// Latin, diacritics allowed), single spaces, hyphens or apostrophes between
// letters. It returns the script, or a refusal code.
func nameScript(s string) (script, string) {
	sc := scriptNone
	prevSep := true // a name may not start with a separator
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || isApostrophe(r):
			if prevSep {
				return sc, "format"
			}
			prevSep = true
			continue
		case r >= '\uff00' && r <= '\uffef':
			// Fullwidth letters (Ｋ) are Latin to Unicode, but no passport
			// prints them, its machine-readable zone least of all, and a
			// search for the name typed plainly misses them (QA).
			return sc, "fullwidth"
		case unicode.IsLetter(r) && unicode.Is(unicode.Latin, r):
			if sc == scriptCyrillic {
				return sc, "mixed_script"
			}
			sc = scriptLatin
		case unicode.IsLetter(r) && unicode.Is(unicode.Cyrillic, r):
			if sc == scriptLatin {
				return sc, "mixed_script"
			}
			sc = scriptCyrillic
		default:
			return sc, "format"
		}
		prevSep = false
	}
	if prevSep {
		return sc, "format"
	}
	return sc, ""
}

// isApostrophe takes every apostrophe a keyboard or a passport gives:
// Uzbek Latin writes Oʻ and Gʻ with U+02BB, and its keyboards and phones
// type U+2018 or U+02BC for it, besides the ASCII and typographic ones.
func isApostrophe(r rune) bool {
	switch r {
	case '\'', '\u2019', '\u2018', '\u02BB', '\u02BC':
		return true
	}
	return false
}

var (
	msgNameFormat = cmderr.T("Только буквы кириллицы или латиницы, пробел, дефис или апостроф между буквами — как в документе.",
		"Only Cyrillic or Latin letters, with a space, hyphen or apostrophe between letters, as in the document.")
	msgMixedScript = cmderr.T("Не смешивайте кириллицу и латиницу: пишите ФИО одним алфавитом, как в документе.",
		"Do not mix Cyrillic and Latin letters: write the whole name in one alphabet, as in the document.")
	msgFullwidth = cmderr.T("Полноширинные знаки (например, Ｋ вместо K): наберите имя в обычной раскладке, как в документе.",
		"Fullwidth characters (such as Ｋ for K): type the name on an ordinary keyboard layout, as in the document.")
	msgLatinOnly = cmderr.T("Только латинские буквы, как в машиночитаемой зоне паспорта.",
		"Latin letters only, as in the passport's machine-readable zone.")
)

// name checks one name field and returns its script.
func (c *checker) name(ptr, v string, required bool) script {
	if !c.text(ptr, v, required, maxNameLen) {
		return scriptNone
	}
	sc, code := nameScript(v)
	switch code {
	case "":
		return sc
	case "mixed_script":
		c.add(ptr, code, msgMixedScript)
	case "fullwidth":
		c.add(ptr, code, msgFullwidth)
	default:
		c.add(ptr, code, msgNameFormat)
	}
	return scriptNone
}

// validateApplicant checks the applicant section and returns the birth date
// (zero when it is not valid) for the cross-field checks of the documents.
func (c *checker) validateApplicant(p string, a schema.Applicant) time.Time {
	// Names in two scripts: the fields in the fewer one are marked, or
	// all of them when it is one against one, as which is "wrong" is then
	// the applicant's to say.
	fields := []struct {
		ptr, v   string
		required bool
	}{{"/lastName", a.LastName, true}, {"/firstName", a.FirstName, true}, {"/middleName", a.MiddleName, false}}
	scripts := make([]script, len(fields))
	count := map[script]int{}
	for i, n := range fields {
		scripts[i] = c.name(p+n.ptr, n.v, n.required)
		if scripts[i] != scriptNone {
			count[scripts[i]]++
		}
	}
	if count[scriptLatin] > 0 && count[scriptCyrillic] > 0 {
		for i, n := range fields {
			other := scriptLatin
			if scripts[i] == scriptLatin {
				other = scriptCyrillic
			}
			if scripts[i] != scriptNone && count[scripts[i]] <= count[other] {
				c.add(p+n.ptr, "mixed_script", msgMixedScript)
			}
		}
	}
	if sc := c.name(p+"/latinName", a.LatinName, false); sc == scriptCyrillic {
		c.add(p+"/latinName", "latin_only", msgLatinOnly)
	}
	var birth time.Time
	if t, ok := c.date(p+"/birthDate", a.BirthDate, true); ok {
		switch {
		case !t.Before(c.today):
			c.add(p+"/birthDate", "not_past", cmderr.T("Дата рождения должна быть в прошлом.", "The birth date must be in the past."))
		case !t.After(c.today.AddDate(-maxAgeYears, 0, 0)):
			c.add(p+"/birthDate", "too_old", cmderr.T(fmt.Sprintf("Возраст должен быть меньше %d лет.", maxAgeYears), fmt.Sprintf("The age must be below %d years.", maxAgeYears)))
		default:
			birth = t
		}
	}
	c.text(p+"/birthPlace", a.BirthPlace, true, maxPlaceLen)
	switch cz := a.Citizenship; {
	case cz == "":
		c.add(p+"/citizenship", "required", msgRequired)
	case cz == RussiaCode:
		c.add(p+"/citizenship", "russian_citizen", cmderr.T(
			"Эта услуга — для иностранных граждан и лиц без гражданства. Гражданину России полис ОМС оформляет страховая медицинская организация по паспорту РФ.",
			"This service is for foreign citizens and stateless persons. A citizen of Russia gets an OMS policy from an insurer with a Russian passport."))
	case !KnownCitizenship(cz):
		c.add(p+"/citizenship", "unknown_country", cmderr.T(
			"Укажите гражданство трёхбуквенным кодом ISO 3166-1 (например, UZB, TJK, CHN) или XXA для лица без гражданства.",
			"Give the citizenship as an ISO 3166-1 alpha-3 code (e.g. UZB, TJK, CHN), or XXA for a stateless person."))
	}
	c.oneOf(p+"/sex", a.Sex, []string{"male", "female"})
	return birth
}

// Document number formats; see the package comment.
var (
	rePassportSeries = regexp.MustCompile(`^[A-Z0-9]{1,10}$`)
	rePassportNumber = regexp.MustCompile(`^[A-Z0-9]{5,20}$`)
	reTwoDigits      = regexp.MustCompile(`^[0-9]{2}$`)
	reSevenDigits    = regexp.MustCompile(`^[0-9]{7}$`)
	reRefugeeSeries  = regexp.MustCompile(`^[А-ЯЁ]{2}$`)
	reRefugeeNumber  = regexp.MustCompile(`^[0-9]{6,7}$`)
	reContractNumber = regexp.MustCompile(`^[0-9A-ZА-ЯЁ/-]{1,30}$`)
	reFourDigits     = regexp.MustCompile(`^[0-9]{4}$`)
	rePostalCode     = regexp.MustCompile(`^[0-9]{6}$`)
	reRegion         = regexp.MustCompile(`^(0[1-9]|[1-9][0-9])$`)
)

type docFormat struct {
	series, number *regexp.Regexp // series nil: must be empty; optional: may be empty
	seriesOptional bool
	seriesMsg      cmderr.Text
	numberMsg      cmderr.Text
}

var (
	twoDigits   = cmderr.T("2 цифры", "2 digits")
	sevenDigits = cmderr.T("7 цифр", "7 digits")
	formats     = map[string]docFormat{
		schema.IdentityForeignPassport: {rePassportSeries, rePassportNumber, true,
			cmderr.T("до 10 латинских букв и цифр", "up to 10 Latin letters and digits"),
			cmderr.T("от 5 до 20 латинских букв и цифр", "5 to 20 Latin letters and digits")},
		schema.ResidenceRVP:  {reTwoDigits, reSevenDigits, false, twoDigits, sevenDigits},
		schema.ResidenceVNZh: {reTwoDigits, reSevenDigits, false, twoDigits, sevenDigits},
		schema.ResidenceRefugee: {reRefugeeSeries, reRefugeeNumber, false,
			cmderr.T("2 заглавные буквы кириллицы", "2 capital Cyrillic letters"),
			cmderr.T("6 или 7 цифр", "6 or 7 digits")},
		schema.ResidenceEAEUWorker: {nil, reContractNumber, false, cmderr.Text{},
			cmderr.T("номер трудового договора: до 30 букв, цифр, «/» или «-»", "the employment contract's number: up to 30 letters, digits, \"/\" or \"-\"")},
		schema.ResidenceMigrationCard: {reFourDigits, reSevenDigits, false, cmderr.T("4 цифры", "4 digits"), sevenDigits},
	}
)

func (c *checker) docNumber(p, typ, series, number string) {
	f, ok := formats[typ]
	if !ok {
		return
	}
	switch {
	case f.series == nil:
		if series != "" {
			c.add(p+"/series", "not_allowed", cmderr.T("У этого документа нет серии; оставьте поле пустым.", "This document has no series; leave the field empty."))
		}
	case series == "" && f.seriesOptional:
	default:
		c.pattern(p+"/series", series, f.series, f.seriesMsg)
	}
	c.pattern(p+"/number", number, f.number, f.numberMsg)
}

// validity checks issuedAt/expiresAt of a document.
func (c *checker) validity(p, issuedAt, expiresAt string, expiryRequired bool, birth time.Time) {
	issued, iok := c.date(p+"/issuedAt", issuedAt, true)
	if iok {
		switch {
		case issued.After(c.today):
			c.add(p+"/issuedAt", "future", cmderr.T("Дата выдачи не может быть в будущем.", "The issue date cannot be in the future."))
			iok = false
		case !birth.IsZero() && issued.Before(birth):
			c.add(p+"/issuedAt", "before_birth", cmderr.T("Документ не мог быть выдан до рождения.", "The document cannot have been issued before the birth date."))
		}
	}
	expires, eok := c.date(p+"/expiresAt", expiresAt, expiryRequired)
	if !eok {
		return
	}
	switch {
	case iok && !expires.After(issued):
		c.add(p+"/expiresAt", "before_issue", cmderr.T("Срок действия должен заканчиваться после даты выдачи.", "The expiry date must be after the issue date."))
	case expires.Before(c.today):
		c.add(p+"/expiresAt", "expired", cmderr.T("Срок действия документа истёк.", "The document has expired."))
	}
}

func (c *checker) validateIdentity(p string, d schema.IdentityDocument, birth time.Time) {
	if c.oneOf(p+"/type", d.Type, []string{schema.IdentityForeignPassport}) {
		c.docNumber(p, d.Type, d.Series, d.Number)
	} else if d.Number == "" {
		c.add(p+"/number", "required", msgRequired) // as for the residence document
	}
	c.text(p+"/issuedBy", d.IssuedBy, true, maxPlaceLen)
	c.validity(p, d.IssuedAt, d.ExpiresAt, true, birth)
}

var residenceTypes = []string{schema.ResidenceRVP, schema.ResidenceVNZh, schema.ResidenceRefugee, schema.ResidenceEAEUWorker, schema.ResidenceMigrationCard}

// msgMigrationCard is the eligibility refusal the seed gets wrong: a
// migration card records an entry, it gives no right to ОМС.
var msgMigrationCard = cmderr.T(
	"Миграционная карта не даёт права на полис ОМС (326-ФЗ, ст. 10). Нужен один из документов: разрешение на временное проживание (РВП), вид на жительство (ВНЖ), удостоверение беженца, или — для граждан Армении, Беларуси, Казахстана и Киргизии — трудовой договор.",
	"A migration card does not give the right to an OMS policy (Federal Law 326-FZ, art. 10). One of these is needed: a temporary residence permit (RVP), a residence permit (VNZh), a refugee certificate, or, for citizens of Armenia, Belarus, Kazakhstan and Kyrgyzstan, an employment contract.")

// validateResidence checks the residence document and eligibility.
func (c *checker) validateResidence(p string, d schema.ResidenceDocument, birth time.Time, citizenship string) {
	if !c.oneOf(p+"/type", d.Type, residenceTypes) {
		// The number's format depends on the type, but what does not is
		// still checked, so that one answer lists every field to fix.
		if d.Number == "" {
			c.add(p+"/number", "required", msgRequired)
		}
		c.validity(p, d.IssuedAt, d.ExpiresAt, false, birth)
		return
	}
	switch d.Type {
	case schema.ResidenceMigrationCard:
		c.add(p+"/type", "not_eligible", msgMigrationCard)
		return
	case schema.ResidenceEAEUWorker:
		if citizenship != "" && !eaeuMembers[citizenship] {
			c.add(p+"/type", "not_eligible", cmderr.T(
				"Трудовой договор даёт право на ОМС только гражданам государств ЕАЭС (Армения, Беларусь, Казахстан, Киргизия). Нужны РВП, ВНЖ или удостоверение беженца.",
				"An employment contract gives the right to OMS only to citizens of EAEU states (Armenia, Belarus, Kazakhstan, Kyrgyzstan). A temporary residence permit, a residence permit or a refugee certificate is needed."))
		}
	}
	c.docNumber(p, d.Type, d.Series, d.Number)
	c.validity(p, d.IssuedAt, d.ExpiresAt, d.Type != schema.ResidenceVNZh, birth)
	if !c.storedResidence {
		c.maxTerm(p, d)
	}
}

// maxTerm refuses a residence document said to last longer than any does:
// an RVP is issued for three years (115-ФЗ, art. 6(4)), and no permit or
// refugee certificate lasts ten. Such a date is a typo (2205 for 2025),
// and the policy's term would rest on it. A day's slack covers documents
// valid "through" their anniversary. An EAEU worker's employment contract
// is not bounded: one without an end date is common, and its holder can
// only give a far one.
func (c *checker) maxTerm(p string, d schema.ResidenceDocument) {
	if d.Type == schema.ResidenceEAEUWorker {
		return
	}
	issued, iok := parseDate(d.IssuedAt)
	expires, eok := parseDate(d.ExpiresAt)
	if !iok || !eok || !expires.After(issued) {
		return
	}
	if d.Type == schema.ResidenceRVP && expires.After(issued.AddDate(3, 0, 1)) {
		c.add(p+"/expiresAt", "too_long", cmderr.T(
			"РВП выдаётся на 3 года (115-ФЗ, ст. 6): срок действия не может кончаться позже чем через 3 года после выдачи. Проверьте даты.",
			"An RVP is issued for 3 years (Federal Law 115-FZ, art. 6): it cannot expire later than 3 years after its issue. Check the dates."))
		return
	}
	if expires.After(issued.AddDate(10, 0, 1)) {
		c.add(p+"/expiresAt", "too_long", cmderr.T(
			"Срок действия больше 10 лет после выдачи: такого документа нет. Проверьте даты.",
			"An expiry more than 10 years after the issue: no such document lasts that long. Check the dates."))
	}
}

func (c *checker) validateAddress(p string, a schema.Address) {
	if a.Region == "" {
		c.add(p+"/region", "required", msgRequired)
	} else if !reRegion.MatchString(a.Region) {
		c.add(p+"/region", "format", cmderr.T("Укажите двузначный код субъекта РФ, например 77 для Москвы.", "Give the two-digit code of the region of Russia, e.g. 77 for Moscow."))
	} else if !KnownRegion(a.Region) && !c.storedAddress {
		c.add(p+"/region", "unknown_region", cmderr.T(
			"Субъекта РФ с кодом "+a.Region+" нет. Укажите код субъекта, например 77 для Москвы или 50 для Московской области; коды с автомобильных номеров (97, 99, 177 и т. п.) — не коды субъектов.",
			"No region of Russia has the code "+a.Region+". Give the region's code, e.g. 77 for Moscow or 50 for the Moscow oblast; car-plate codes (97, 99, 177 and so on) are not region codes."))
	}
	for _, part := range []struct {
		name     string
		v        string
		required bool
		max      int
	}{
		{"/city", a.City, true, maxNameLen},
		{"/street", a.Street, true, maxAddressPart},
		{"/house", a.House, true, maxShortPart},
		{"/building", a.Building, false, maxShortPart},
		{"/apartment", a.Apartment, false, maxShortPart},
	} {
		if c.text(p+part.name, part.v, part.required, part.max) && !c.storedAddress && strings.IndexFunc(part.v, notAddressChar) >= 0 {
			c.add(p+part.name, "address_characters", msgAddressChars)
		}
	}
	if a.PostalCode == "" {
		c.add(p+"/postalCode", "required", msgRequired)
	} else if !rePostalCode.MatchString(a.PostalCode) {
		c.add(p+"/postalCode", "format", cmderr.T("Почтовый индекс — 6 цифр.", "The postal code has 6 digits."))
	}
}

// notAddressChar is what an address in Russia is not written with:
// letters of scripts other than Cyrillic and Latin, digits other than
// 0-9, emoji and other symbols. A letter's combining accent is allowed.
func notAddressChar(r rune) bool {
	switch {
	case unicode.Is(unicode.Cyrillic, r), unicode.Is(unicode.Latin, r), r >= '0' && r <= '9', r == ' ':
		return false
	case r >= '\u0300' && r <= '\u036f': // combining diacritical marks
		return false
	}
	return !strings.ContainsRune(addressPunctuation, r)
}

const addressPunctuation = ".,-‐‑–—/\\№#()«»\"'’ʼ:;+"

var msgAddressChars = cmderr.T(
	"Адрес в России пишется кириллицей; допустимы также латиница, цифры, пробелы и знаки . , - / № ( ) « » \" ' : ;",
	"An address in Russia is written in Cyrillic; Latin letters, digits, spaces and . , - / № ( ) « » \" ' : ; are allowed too.")

func (c *checker) validateContacts(p string, ct schema.Contacts) {
	if ct.Phone == "" {
		c.add(p+"/phone", "required", msgRequired)
	} else if !strings.HasPrefix(ct.Phone, "+") || fieldCheck.Var(ct.Phone, "e164") != nil {
		// The validator's e164 makes the "+" optional; E.164 in a form is
		// only unambiguous with it (8 916… is a domestic Russian number).
		c.add(p+"/phone", "format", cmderr.T("Телефон в международном формате, например +79161234567, или российский номер как 8 916 123-45-67.",
			"The phone number in the international format, e.g. +79161234567, or a Russian number as 8 916 123-45-67."))
	} else if strings.HasPrefix(ct.Phone, "+7") && len(ct.Phone) != len("+7")+10 {
		// Country code 7 (Russia, Kazakhstan) is followed by exactly ten
		// digits; E.164's 8 to 15 let a digit too few or too many through,
		// and no SMS would ever reach it (QA).
		c.add(p+"/phone", "format", cmderr.T("Номер с кодом +7 — это +7 и ещё 10 цифр, например +79161234567.",
			"A number with the code +7 is +7 and 10 more digits, e.g. +79161234567."))
	}
	if ct.Email == "" {
		c.add(p+"/email", "required", msgRequired)
	} else if len(ct.Email) > maxEmailLen || fieldCheck.Var(ct.Email, "email") != nil {
		c.add(p+"/email", "format", cmderr.T("Укажите действующий адрес электронной почты.", "Give a valid e-mail address."))
	}
}

var kindNames = map[string]cmderr.Text{
	schema.DocumentPassport:  cmderr.T("скан паспорта (страница с личными данными)", "a scan of the passport (the personal data page)"),
	schema.DocumentResidence: cmderr.T("скан документа о праве проживания (РВП, ВНЖ, удостоверения беженца или трудового договора)", "a scan of the residence document (RVP, VNZh, refugee certificate or employment contract)"),
	schema.DocumentConsent:   cmderr.T("подписанное согласие на обработку персональных данных", "the signed consent to the processing of personal data"),
}

// validateDocuments checks document references against the uploads in env
// and returns them completed with the uploads' hashes, sizes and types.
// Every kind in required must be present.
func (c *checker) validateDocuments(p string, docs []schema.DocumentRef, env Env, owner string, required []string) []schema.DocumentRef {
	if len(docs) > maxDocuments {
		c.add(p, "too_many", cmderr.T(fmt.Sprintf("Не больше %d документов.", maxDocuments), fmt.Sprintf("At most %d documents.", maxDocuments)))
		return nil
	}
	out := make([]schema.DocumentRef, 0, len(docs))
	seen := map[string]bool{}
	for i, d := range docs {
		dp := fmt.Sprintf("%s/%d", p, i)
		kindOK := c.oneOf(dp+"/kind", d.Kind, schema.DocumentKinds)
		if kindOK && seen[d.Kind] {
			c.add(dp+"/kind", "duplicate", cmderr.T("Документ этого вида уже указан.", "A document of this kind is already listed."))
			kindOK = false
		}
		if d.ID == "" {
			c.add(dp+"/id", "required", msgRequired)
			continue
		}
		up, ok := env.Documents[d.ID]
		if !ok || up.OwnerID == "" || up.OwnerID != owner {
			c.add(dp+"/id", "unknown_document", cmderr.T("Документ не найден среди загруженных вами (скан, не приложенный к заявлению за 30 дней, удаляется). Загрузите скан ещё раз.", "No such document among your uploads (a scan not attached to an application within 30 days is deleted). Upload the scan again."))
			continue
		}
		if kindOK && up.Kind != d.Kind {
			c.add(dp+"/kind", "kind_mismatch", cmderr.T("Документ был загружен как другой вид документа.", "The document was uploaded as another kind of document."))
			continue
		}
		// What the sender says of the file must be what was uploaded;
		// kind and id are enough, and the rest is filled in from the
		// upload.
		if NeedsContentSHA256(d, up) && !strings.EqualFold(d.SHA256, env.ContentSHA256[d.ID]) {
			c.add(dp+"/sha256", "sha256_mismatch", cmderr.T(
				"sha256 не совпадает с хешем загруженного файла (его сообщил ответ на загрузку). Проверьте, тот ли это скан; поле можно не указывать.",
				"sha256 is not the digest of the file uploaded (the upload's answer gave it). Check that this is the right scan; the field may be left out."))
			kindOK = false
		}
		if d.Size != 0 && d.Size != up.Size {
			c.add(dp+"/size", "size_mismatch", cmderr.T(
				fmt.Sprintf("Размер не совпадает с загруженным файлом (%d байт); поле можно не указывать.", up.Size),
				fmt.Sprintf("The size is not that of the file uploaded (%d bytes); the field may be left out.", up.Size)))
			kindOK = false
		}
		if d.ContentType != "" && !strings.EqualFold(d.ContentType, up.ContentType) {
			c.add(dp+"/contentType", "content_type_mismatch", cmderr.T(
				fmt.Sprintf("Тип файла не совпадает с загруженным (%s); поле можно не указывать.", up.ContentType),
				fmt.Sprintf("The content type is not that of the file uploaded (%s); the field may be left out.", up.ContentType)))
			kindOK = false
		}
		if kindOK {
			seen[d.Kind] = true
			out = append(out, up.Ref())
		}
	}
	for _, k := range required {
		if !seen[k] && !slices.ContainsFunc(docs, func(d schema.DocumentRef) bool { return d.Kind == k }) {
			c.add(p, "missing_scan", cmderr.T("Приложите "+kindNames[k].RU+".", "Attach "+kindNames[k].EN+"."))
		}
	}
	return out
}

// Normalize trims every field and brings codes and numbers to the form they
// are validated and stored in: upper-case citizenship and document numbers
// without spaces, a phone number without spaces, dashes or brackets.
func Normalize(f schema.Form) schema.Form {
	a := &f.Applicant
	for _, s := range []*string{&a.LastName, &a.FirstName, &a.MiddleName, &a.LatinName, &a.BirthDate, &a.BirthPlace, &a.Sex} {
		*s = cleanText(*s)
	}
	a.Citizenship = strings.ToUpper(cleanText(a.Citizenship))
	f.IdentityDocument = normIdentity(f.IdentityDocument)
	f.ResidenceDocument = normResidence(f.ResidenceDocument)
	f.Address = normAddress(f.Address)
	f.Contacts = normContacts(f.Contacts)
	docs := make([]schema.DocumentRef, len(f.Documents))
	for i, d := range f.Documents {
		// What the sender says of the file stays, for validateDocuments
		// to hold to the upload; what is stored comes from the upload.
		docs[i] = schema.DocumentRef{Kind: cleanText(d.Kind), ID: scanID(d.ID),
			SHA256: cleanText(d.SHA256), Size: d.Size, ContentType: cleanText(d.ContentType)}
	}
	if f.Documents == nil {
		docs = nil
	}
	f.Documents = docs
	return f
}

// scanID is a scan's id as the server writes it: a UUID in any of the
// spellings RFC 9562 readers take (upper case, urn:uuid:, braces, no
// dashes) names the same scan, and was looked up as one but then not
// matched, so the form answered unknown_document for a scan that was
// there. Anything else is left for validation to refuse.
func scanID(s string) string {
	s = strings.ToLower(cleanText(s))
	if id, err := uuid.Parse(s); err == nil {
		return id.String()
	}
	return s
}

func normIdentity(d schema.IdentityDocument) schema.IdentityDocument {
	d.Type, d.IssuedAt, d.IssuedBy, d.ExpiresAt = cleanText(d.Type), cleanText(d.IssuedAt), cleanText(d.IssuedBy), cleanText(d.ExpiresAt)
	d.Series, d.Number = normDocPart(cleanText(d.Series)), normDocPart(cleanText(d.Number))
	return d
}

func normResidence(d schema.ResidenceDocument) schema.ResidenceDocument {
	d.Type, d.IssuedAt, d.ExpiresAt = cleanText(d.Type), cleanText(d.IssuedAt), cleanText(d.ExpiresAt)
	d.Series, d.Number = normDocPart(cleanText(d.Series)), normDocPart(cleanText(d.Number))
	return d
}

// normAddress also collapses runs of spaces, which people type and which
// would otherwise make one address two.
func normAddress(a schema.Address) schema.Address {
	for _, s := range addressParts(&a) {
		*s = strings.Join(strings.Fields(cleanText(*s)), " ")
	}
	return a
}

func addressParts(a *schema.Address) []*string {
	return []*string{&a.Region, &a.City, &a.Street, &a.House, &a.Building, &a.Apartment, &a.PostalCode}
}

// sameAddress compares two normalised addresses as a post office would,
// whatever the case of their letters.
func sameAddress(a, b schema.Address) bool {
	pa, pb := addressParts(&a), addressParts(&b)
	for i := range pa {
		if !strings.EqualFold(*pa[i], *pb[i]) {
			return false
		}
	}
	return true
}

func normContacts(c schema.Contacts) schema.Contacts {
	c.Email = cleanText(c.Email)
	c.Phone = HomePhone(strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, cleanText(c.Phone)))
	return c
}

// HomePhone brings a Russian number written as at home, its spaces and
// brackets already gone, to E.164: 8 or 7 and ten digits become +7 and the
// ten digits. Anything else comes back as it is, for the E.164 check to
// judge: ten digits alone may be a Russian mobile or, as often for these
// applicants, an Indian or other foreign one, so other countries' numbers
// need their "+".
func HomePhone(p string) string {
	if len(p) == 11 && (p[0] == '8' || p[0] == '7') && strings.Trim(p, "0123456789") == "" {
		return "+7" + p[1:]
	}
	return p
}

// ValidateForm checks a whole (normalised) form and completes its document
// references; field pointers are relative to the form. It is what
// SubmitApplication runs, exported for the fuzz target and for clients of
// the package that want to pre-check a draft.
func ValidateForm(f schema.Form, env Env, owner string) (schema.Form, []cmderr.FieldError) {
	var fields cmderr.Fields
	c := &checker{f: &fields, today: env.today()}
	birth := c.validateApplicant("/applicant", f.Applicant)
	c.validateIdentity("/identityDocument", f.IdentityDocument, birth)
	c.validateResidence("/residenceDocument", f.ResidenceDocument, birth, f.Applicant.Citizenship)
	c.validateAddress("/address", f.Address)
	c.validateContacts("/contacts", f.Contacts)
	f.Documents = c.validateDocuments("/documents", f.Documents, env, owner, schema.DocumentKinds)
	c.checkConsentVersion(f.ConsentVersion)
	if !f.Consent {
		c.add("/consent", "consent_required", cmderr.T(
			"Без согласия на обработку персональных данных заявление не может быть рассмотрено.",
			"The application cannot be processed without consent to the processing of personal data."))
	}
	return f, fields.List()
}
