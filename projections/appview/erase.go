package appview

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	gojson "github.com/goccy/go-json"

	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
)

// Erasure must leave every read model exactly as a fold of the erased
// events would: after the key is gone the event store adapter hands out
// piicrypt.Marker in place of every non-empty personal string (see
// events/piicrypt), so a rebuild sees markers from the first event on. The
// rules below mirror schema.PersonalSections field for field, which
// TestEraseMatchesErasedFold checks.

// personalPaths are the View's JSON pointers that hold personal data, as
// prefixes; "*" matches one array index.
var personalPaths = [][]string{
	{"form", "applicant"},
	{"form", "identityDocument"},
	{"form", "residenceDocument"},
	{"form", "address"},
	{"form", "contacts"},
	{"questions", "*", "answer"},
	{"withdrawn", "reason"},
}

// Erase replaces v's personal data with the marker, in place. Like Apply it
// copies what it changes, since v may share memory with a cached value.
func Erase(v *View) {
	f := v.Form
	markStrings(&f.Applicant)
	markStrings(&f.IdentityDocument)
	markStrings(&f.ResidenceDocument)
	markStrings(&f.Address)
	markStrings(&f.Contacts)
	v.Form = f
	if len(v.Questions) > 0 {
		v.Questions = slices.Clone(v.Questions)
		for i := range v.Questions {
			if v.Questions[i].Answer != "" {
				v.Questions[i].Answer = piicrypt.Marker
			}
		}
	}
	if v.Withdrawn != nil && v.Withdrawn.Reason != "" {
		w := *v.Withdrawn
		w.Reason = piicrypt.Marker
		v.Withdrawn = &w
	}
}

// markStrings sets every non-empty string field of the struct p points to,
// except the contract's clear keys, to the marker.
func markStrings(p any) {
	rv := reflect.ValueOf(p).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		f := rv.Field(i)
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if f.Kind() == reflect.String && f.String() != "" && !schema.PersonalClearKeys[name] {
			f.SetString(piicrypt.Marker)
		}
	}
}

// EraseChanges applies the erasure to a stored audit-history diff: values
// under personal paths become the marker, and a replacement that erasure
// turns into "marker to marker" disappears, because a fold of the erased
// events sees no change there.
func EraseChanges(changes []Change) ([]Change, error) {
	out := make([]Change, 0, len(changes))
	for _, c := range changes {
		path := splitPointer(c.Path)
		from, err := eraseValue(c.From, path)
		if err != nil {
			return nil, err
		}
		to, err := eraseValue(c.To, path)
		if err != nil {
			return nil, err
		}
		// A side the op has but that holds no value was written as null
		// (a nil slice, say) and has come back from the store as nothing;
		// null it stays, or the rewritten entry would differ from a
		// rebuilt one.
		if from == nil && c.Op != "add" {
			from = jsonNull
		}
		if to == nil && c.Op != "remove" {
			to = jsonNull
		}
		c.From, c.To = from, to
		if c.Op == "replace" && from == piicrypt.Marker && to == piicrypt.Marker {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

var jsonNull = json.RawMessage("null")

func splitPointer(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// eraseValue returns v (a value of a diff, at path) with the personal
// strings in it marked. v may be a Go value from Diff or generic JSON read
// back from the store; it is normalised to generic JSON first.
func eraseValue(v any, path []string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch v.(type) {
	case string, map[string]any, []any:
	default:
		// A Go value (a diff still in memory, not yet read back from the
		// store) goes through JSON into a fresh value: decoded into v,
		// which holds a pointer to a struct, JSON refilled that struct and
		// left a value markJSON cannot walk, so an erasure right after the
		// event kept its personal data in the audit history. Encoded as the
		// runner stores documents (go-json, which writes zero times that
		// encoding/json's omitzero leaves out), so the entry is the one a
		// rebuild writes.
		b, err := gojson.Marshal(v)
		if err != nil {
			return nil, err
		}
		var plain any
		if err := json.Unmarshal(b, &plain); err != nil {
			return nil, err
		}
		v = plain
	}
	return markJSON(v, path), nil
}

func markJSON(v any, path []string) any {
	switch x := v.(type) {
	case string:
		if x != "" && personal(path) {
			return piicrypt.Marker
		}
		return x
	case map[string]any:
		// A fresh map: the stored value may be shared with the runner's
		// cache, which a rolled-back batch must find as it was.
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = markJSON(e, append(slices.Clip(path), k))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = markJSON(e, append(slices.Clip(path), "*"))
		}
		return out
	}
	return v
}

// personal reports whether a string at path is personal data.
func personal(path []string) bool {
	if len(path) > 0 && schema.PersonalClearKeys[path[len(path)-1]] {
		return false
	}
	for _, pre := range personalPaths {
		if len(path) < len(pre) {
			continue
		}
		match := true
		for i, p := range pre {
			if p != "*" && p != path[i] && !(p == "*" && isIndex(path[i])) {
				match = false
				break
			}
			if p == "*" && !isIndex(path[i]) && path[i] != "*" {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
