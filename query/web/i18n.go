package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/query/countrynames"
)

// Lang is one message catalog. Keys are dotted ("cabinet.title"); values may
// hold {0}, {1}… placeholders for arguments.
type Lang struct {
	Code     string
	Name     string // the language's name in itself, for the switch
	messages map[string]string
	// countries are the form's citizenship choices in this language, made
	// once: naming and sorting 250 countries is not work for every page.
	countries []Option
}

// Languages are the catalogs shipped, Russian first (the default).
var Languages = []string{"ru", "en"}

func loadCatalogs() (map[string]*Lang, error) {
	out := map[string]*Lang{}
	for _, code := range Languages {
		raw, err := fs.ReadFile(catalogFS, "i18n/"+code+".json")
		if err != nil {
			return nil, fmt.Errorf("web: catalog %s: %w", code, err)
		}
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("web: catalog %s: %w", code, err)
		}
		l := &Lang{Code: code, Name: m["lang.name"], messages: m}
		for _, c := range countrynames.Codes(citizenships, code) {
			if !application.KnownCitizenship(c) {
				continue // a territory nobody is a citizen of: the form would be refused
			}
			l.countries = append(l.countries, Option{Value: c, Label: countrynames.Name(c, code)})
		}
		out[code] = l
	}
	return out, nil
}

// Keys lists the catalog's keys, sorted.
func (l *Lang) Keys() []string {
	keys := make([]string, 0, len(l.messages))
	for k := range l.messages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// T returns the message for key with its placeholders filled. A missing key
// shows as the key itself, which the catalog tests keep from happening.
func (l *Lang) T(key string, args ...any) string {
	m, ok := l.messages[key]
	if !ok {
		return key
	}
	for i, a := range args {
		m = strings.ReplaceAll(m, fmt.Sprintf("{%d}", i), fmt.Sprint(a))
	}
	return m
}

// Has reports whether the catalog has key.
func (l *Lang) Has(key string) bool {
	_, ok := l.messages[key]
	return ok
}

// Pick chooses the text of a bilingual {ru, en} value from the API.
func (l *Lang) Pick(ru, en string) string {
	if l.Code == "en" && en != "" {
		return en
	}
	return ru
}

var monthsEN = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// msk is the zone dates and times are shown in: the insurer's deadlines and
// the applicants' letters all speak Moscow time.
var msk = time.FixedZone("MSK", 3*60*60)

// Date formats a "YYYY-MM-DD" date or a time the way the language writes
// dates; an unparsable value is shown as it is.
func (l *Lang) Date(v any) string {
	var t time.Time
	switch x := v.(type) {
	case string:
		if x == "" {
			return ""
		}
		p, err := time.Parse(time.DateOnly, x)
		if err != nil {
			return x
		}
		t = p
	case time.Time:
		if x.IsZero() {
			return ""
		}
		t = x.In(msk)
	default:
		return fmt.Sprint(v)
	}
	if l.Code == "en" {
		return fmt.Sprintf("%d %s %d", t.Day(), monthsEN[t.Month()-1], t.Year())
	}
	return t.Format("02.01.2006")
}

// DateTime formats a time with hours and minutes, Moscow time.
func (l *Lang) DateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return l.Date(t) + " " + t.In(msk).Format("15:04") + " " + l.T("time.msk")
}

// Moment is DateTime to the second, for the audit timeline: events of one
// minute are told apart and set in their order.
func (l *Lang) Moment(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return l.Date(t) + " " + t.In(msk).Format("15:04:05") + " " + l.T("time.msk")
}

// codeNames are the catalog prefixes of the codes a form holds, by the
// end of their path: the timeline names them as the form's pages do.
var codeNames = map[string]string{
	"/sex": "sex.", "/identityDocument/type": "identity.",
	"/residenceDocument/type": "residence.", "/kind": "scan.", "/reasonCode": "reject.", "/role": "role.",
	"/documentKind": "scan.", "/consent/method": "consent.method.",
}

// Field names what a diff's JSON pointer addresses in an application's
// view, part by part as the form's pages name them, items by their number:
// "/form/address/city" reads "Анкета · Адрес проживания · Город или
// населённый пункт", "/questions/1/answer" "Вопросы специалиста · вопрос
// 2 · Ответ".
// The catalog has a name (the key "path" and the pointer, items as "*")
// for every part of the view; for a pointer it lacks one for, from a
// field added later, Field is empty rather than half a name, and the
// timeline shows the pointer alone.
func (l *Lang) Field(path string) string {
	return strings.Join(l.names(path), " · ")
}

// names are the names of path's parts, or none when one has no name.
func (l *Lang) names(path string) []string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	names := make([]string, 0, len(parts))
	key := "path"
	for _, p := range parts {
		name, ok := l.part(&key, p)
		if !ok {
			return nil
		}
		names = append(names, name)
	}
	return names
}

// part extends the catalog key of a pointer's parent by one part p and
// returns that part's own name.
func (l *Lang) part(key *string, p string) (string, bool) {
	if n, err := strconv.Atoi(p); err == nil && n >= 0 {
		*key += "/*"
		return l.T(*key, n+1), l.Has(*key)
	}
	*key += "/" + strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	return l.T(*key), l.Has(*key)
}

// Country names a citizenship code as the form's list does, with the code
// beside it for staff who work by codes ("Узбекистан (UZB)"); a code that
// is no citizenship is shown as it is.
func (l *Lang) Country(code string) string {
	name := countrynames.Name(code, l.Code)
	if name == "" {
		return code
	}
	return name + " (" + code + ")"
}

// Value shows a value of the audit timeline's diff at path for a person:
// a status by its name, a time or a date as the pages write them, erased
// data in the page's language, an object as its members rather than JSON.
func (l *Lang) Value(path string, v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		switch {
		case x == piicrypt.Marker:
			return l.T("erased.value")
		case strings.HasSuffix(path, "/policy/status") && l.Has("policy.status."+x):
			return l.T("policy.status." + x)
		case strings.HasSuffix(path, "/decision/outcome") && l.Has("decision."+x):
			return l.T("decision." + x)
		case strings.HasSuffix(path, "/status") && l.Has("status."+x):
			return l.T("status." + x)
		}
		if strings.HasPrefix(path, "/questions/") && strings.HasSuffix(path, "/field") && strings.HasPrefix(x, "/") {
			// The field a question is about, by its label, not its
			// pointer (web QA: "About the field: /applicant/birthPlace").
			return fieldLabel(l, x)
		}
		if strings.HasSuffix(path, "/citizenship") {
			if name := countrynames.Name(x, l.Code); name != "" {
				return name
			}
		}
		for suffix, prefix := range codeNames {
			if strings.HasSuffix(path, suffix) && l.Has(prefix+x) {
				return l.T(prefix + x)
			}
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return l.DateTime(t)
		}
		if _, err := time.Parse(time.DateOnly, x); err == nil {
			return l.Date(x)
		}
		return x
	case bool:
		return l.T(fmt.Sprintf("value.%t", x))
	case float64: // JSON numbers: a size in bytes, not 2.097152e+06
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			if s := l.Value(path+"/"+k, x[k]); s != "" && s != "—" {
				parts = append(parts, l.member(path, k)+": "+s)
			}
		}
		return strings.Join(parts, "; ")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = l.Value(path+"/"+strconv.Itoa(i), e)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// member names member k of the object at path, on its own (the row
// already names the object), or by its JSON name where the catalog has
// none.
func (l *Lang) member(path, k string) string {
	key := "path"
	for _, p := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if _, ok := l.part(&key, p); !ok {
			return k
		}
	}
	if name, ok := l.part(&key, k); ok {
		return name
	}
	return k
}

// Prefixed returns the messages whose keys start with prefix, for the
// page's script (which shows the few texts it builds itself from them).
func (l *Lang) Prefixed(prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range l.messages {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}
