package appview

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Change is one field that differs between two views, addressed by a JSON
// pointer. From is absent for an added field, To for a removed one.
type Change struct {
	Path string `json:"path"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
	Op   string `json:"op"` // add, remove or replace
}

// Diff compares two values the way their JSON forms differ — field names
// from json tags, omitempty fields absent when zero, embedded structs
// inlined — but walks the Go values directly: the audit history computes a
// diff for every event, and going through JSON cost more than the rest of
// the projection together.
func Diff(before, after any) ([]Change, error) {
	var out []Change
	if err := diffValue("", reflect.ValueOf(before), reflect.ValueOf(after), &out); err != nil {
		return nil, err
	}
	return out, nil
}

var timeType = reflect.TypeOf(time.Time{})

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func iface(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	return v.Interface()
}

func diffValue(path string, a, b reflect.Value, out *[]Change) error {
	for a.IsValid() && (a.Kind() == reflect.Pointer || a.Kind() == reflect.Interface) {
		if a.IsNil() {
			a = reflect.Value{}
			break
		}
		a = a.Elem()
	}
	for b.IsValid() && (b.Kind() == reflect.Pointer || b.Kind() == reflect.Interface) {
		if b.IsNil() {
			b = reflect.Value{}
			break
		}
		b = b.Elem()
	}
	p := path
	if p == "" {
		p = "/"
	}
	switch {
	case !a.IsValid() && !b.IsValid():
		return nil
	case !a.IsValid():
		*out = append(*out, Change{Path: p, To: iface(b), Op: "add"})
		return nil
	case !b.IsValid():
		*out = append(*out, Change{Path: p, From: iface(a), Op: "remove"})
		return nil
	case a.Type() != b.Type():
		*out = append(*out, Change{Path: p, From: iface(a), To: iface(b), Op: "replace"})
		return nil
	}
	switch a.Kind() {
	case reflect.Struct:
		if a.Type() == timeType {
			if !a.Interface().(time.Time).Equal(b.Interface().(time.Time)) {
				*out = append(*out, Change{Path: p, From: iface(a), To: iface(b), Op: "replace"})
			}
			return nil
		}
		return diffStruct(path, a, b, out)
	case reflect.Slice, reflect.Array:
		n := max(a.Len(), b.Len())
		for i := 0; i < n; i++ {
			ep := fmt.Sprintf("%s/%d", path, i)
			switch {
			case i >= b.Len():
				*out = append(*out, Change{Path: ep, From: iface(a.Index(i)), Op: "remove"})
			case i >= a.Len():
				*out = append(*out, Change{Path: ep, To: iface(b.Index(i)), Op: "add"})
			default:
				if err := diffValue(ep, a.Index(i), b.Index(i), out); err != nil {
					return err
				}
			}
		}
		return nil
	case reflect.Map:
		keys := map[string]reflect.Value{}
		for _, k := range a.MapKeys() {
			keys[fmt.Sprint(k.Interface())] = k
		}
		for _, k := range b.MapKeys() {
			keys[fmt.Sprint(k.Interface())] = k
		}
		names := make([]string, 0, len(keys))
		for n := range keys {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			k := keys[n]
			if err := diffValue(path+"/"+escape(n), a.MapIndex(k), b.MapIndex(k), out); err != nil {
				return err
			}
		}
		return nil
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, Change{Path: p, From: iface(a), To: iface(b), Op: "replace"})
		}
		return nil
	}
}

func diffStruct(path string, a, b reflect.Value, out *[]Change) error {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		fa, fb := a.Field(i), b.Field(i)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if err := diffStruct(path, fa, fb, out); err != nil { // inlined, as encoding/json does
				return err
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(opts, "omitempty")
		absentA, absentB := omit && fa.IsZero(), omit && fb.IsZero()
		if (fa.Kind() == reflect.Slice || fa.Kind() == reflect.Map) && omit {
			absentA, absentB = fa.Len() == 0, fb.Len() == 0
		}
		fp := path + "/" + escape(name)
		switch {
		case absentA && absentB:
		case absentA:
			*out = append(*out, Change{Path: fp, To: iface(fb), Op: "add"})
		case absentB:
			*out = append(*out, Change{Path: fp, From: iface(fa), Op: "remove"})
		default:
			if err := diffValue(fp, fa, fb, out); err != nil {
				return err
			}
		}
	}
	return nil
}
