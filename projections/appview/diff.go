package appview

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
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
// inlined — but walks the Go values directly and builds a path only where
// something changed: the audit history diffs every event and time travel
// every step, so this runs far more often than anything else on the view.
func Diff(before, after any) ([]Change, error) {
	d := differ{path: make([]string, 0, 8)}
	d.value(reflect.ValueOf(before), reflect.ValueOf(after))
	return d.out, nil
}

// Created is the diff of a first event: what it put into a view that did
// not exist. Every field its JSON form shows with a value is an "add"
// without a "from"; empty values ("", 0, false, the zero time, null) are
// left out, because they say only that a field is unset. Diffing against a
// zero view instead would list every field as replaced from "" (or from
// 0001-01-01), which reads as if the application had existed empty.
func Created(after any) []Change {
	a := indirect(reflect.ValueOf(after))
	if !a.IsValid() {
		return nil
	}
	d := differ{path: make([]string, 0, 8), created: true}
	d.value(reflect.Zero(a.Type()), a)
	return d.out
}

type differ struct {
	path []string
	out  []Change
	// created: the before side is a zero value standing in for nothing,
	// so whatever differs was added (see Created).
	created bool
}

func (d *differ) add(op string, from, to reflect.Value) {
	if d.created {
		op, from = "add", reflect.Value{}
	}
	n := 0
	for _, p := range d.path {
		n += 1 + len(p)
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range d.path {
		b.WriteByte('/')
		b.WriteString(p)
	}
	p := b.String()
	if p == "" {
		p = "/"
	}
	c := Change{Path: p, Op: op}
	if from.IsValid() {
		c.From = from.Interface()
	}
	if to.IsValid() {
		c.To = to.Interface()
	}
	if d.out == nil {
		// Most steps change a handful of fields (status, assignee, the
		// revision and time): one allocation instead of growing 1, 2, 4.
		d.out = make([]Change, 0, 8)
	}
	d.out = append(d.out, c)
}

var timeType = reflect.TypeOf(time.Time{})

func indirect(v reflect.Value) reflect.Value {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

func (d *differ) value(a, b reflect.Value) {
	a, b = indirect(a), indirect(b)
	switch {
	case !a.IsValid() && !b.IsValid():
		return
	case !a.IsValid():
		d.add("add", reflect.Value{}, b)
		return
	case !b.IsValid():
		d.add("remove", a, reflect.Value{})
		return
	case a.Type() != b.Type():
		d.add("replace", a, b)
		return
	}
	switch a.Kind() {
	case reflect.String:
		if a.String() != b.String() {
			d.add("replace", a, b)
		}
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			d.add("replace", a, b)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() != b.Int() {
			d.add("replace", a, b)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if a.Uint() != b.Uint() {
			d.add("replace", a, b)
		}
	case reflect.Float32, reflect.Float64:
		if a.Float() != b.Float() {
			d.add("replace", a, b)
		}
	case reflect.Struct:
		if a.Type() == timeType {
			if !timesEqual(a, b) {
				d.add("replace", a, b)
			}
			return
		}
		// Most of a long view is unchanged from one step to the next;
		// a flat comparison settles that without building anything.
		if a.Type().Comparable() && a.Equal(b) {
			return
		}
		d.structFields(a, b)
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() {
			d.add("replace", a, b) // null on one side, as JSON shows it
			return
		}
		start := 0
		if a.Kind() == reflect.Slice && a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			start = min(a.Len(), b.Len()) // the shared prefix is the same memory
		}
		n := max(a.Len(), b.Len())
		for i := start; i < n; i++ {
			d.path = append(d.path, strconv.Itoa(i))
			switch {
			case i >= b.Len():
				d.add("remove", a.Index(i), reflect.Value{})
			case i >= a.Len():
				d.add("add", reflect.Value{}, b.Index(i))
			default:
				d.value(a.Index(i), b.Index(i))
			}
			d.path = d.path[:len(d.path)-1]
		}
	case reflect.Map:
		keys := map[string]reflect.Value{}
		for _, k := range a.MapKeys() {
			keys[k.String()] = k
		}
		for _, k := range b.MapKeys() {
			keys[k.String()] = k
		}
		names := make([]string, 0, len(keys))
		for n := range keys {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			d.path = append(d.path, escape(n))
			d.value(a.MapIndex(keys[n]), b.MapIndex(keys[n]))
			d.path = d.path[:len(d.path)-1]
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			d.add("replace", a, b)
		}
	}
}

// timesEqual compares two time.Time values as instants. Unboxing them
// with Interface copied each to the heap, and most times in a step (when
// submitted, when decided) are the very same bits on both sides, which
// settles it at once.
func timesEqual(a, b reflect.Value) bool {
	if a.Equal(b) {
		return true
	}
	if a.CanAddr() && b.CanAddr() {
		return a.Addr().Interface().(*time.Time).Equal(*b.Addr().Interface().(*time.Time))
	}
	return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
}

// field is what encoding/json would do with one struct field.
type field struct {
	index    int
	name     string // escaped for a JSON pointer
	omit     bool
	inline   bool
	sizeable bool // slice or map: omitempty means length zero
}

var fieldCache sync.Map // reflect.Type → []field

func fieldsOf(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		fd := field{index: i, omit: strings.Contains(opts, "omitempty")}
		fd.inline = f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct
		if name == "" {
			name = f.Name
		}
		fd.name = escape(name)
		k := f.Type.Kind()
		fd.sizeable = k == reflect.Slice || k == reflect.Map
		fs = append(fs, fd)
	}
	fieldCache.Store(t, fs)
	return fs
}

func (d *differ) structFields(a, b reflect.Value) {
	for _, f := range fieldsOf(a.Type()) {
		fa, fb := a.Field(f.index), b.Field(f.index)
		if f.inline {
			d.structFields(fa, fb) // inlined, as encoding/json does
			continue
		}
		absentA, absentB := false, false
		if f.omit {
			if f.sizeable {
				absentA, absentB = fa.Len() == 0, fb.Len() == 0
			} else {
				absentA, absentB = fa.IsZero(), fb.IsZero()
			}
		}
		if absentA && absentB {
			continue
		}
		d.path = append(d.path, f.name)
		switch {
		case absentA:
			d.add("add", reflect.Value{}, fb)
		case absentB:
			d.add("remove", fa, reflect.Value{})
		default:
			d.value(fa, fb)
		}
		d.path = d.path[:len(d.path)-1]
	}
}

func escape(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
