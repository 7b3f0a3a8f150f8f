package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/omsonline/oms/events/schema"
)

// schemas turns Go types into OpenAPI 3.0 schemas the way encoding/json
// sees them: names from json tags, omitempty fields optional, embedded
// structs inlined. Named struct types become components referenced by
// $ref, so a type used by many operations is described once.
type schemas struct {
	comps map[string]any
	names map[reflect.Type]string
	taken map[string]reflect.Type
}

func newSchemas() *schemas {
	return &schemas{comps: map[string]any{}, names: map[reflect.Type]string{}, taken: map[string]reflect.Type{}}
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

// of returns the schema of v's type.
func (s *schemas) of(v any) map[string]any { return s.typ(reflect.TypeOf(v)) }

func (s *schemas) typ(t reflect.Type) map[string]any {
	switch {
	case t == nil:
		return map[string]any{}
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return s.typ(t.Elem())
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": s.typ(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.typ(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return s.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + s.component(t)}
	}
	return map[string]any{}
}

// component registers a named struct type and returns its component name:
// the type's name, prefixed by its package's when two packages share it.
func (s *schemas) component(t reflect.Type) string {
	if n, ok := s.names[t]; ok {
		return n
	}
	name := t.Name()
	if other, ok := s.taken[name]; ok && other != t {
		pkg := t.PkgPath()[strings.LastIndexByte(t.PkgPath(), '/')+1:]
		r := []rune(pkg)
		r[0] = unicode.ToUpper(r[0])
		name = string(r) + name
	}
	s.names[t] = name
	s.taken[name] = t
	s.comps[name] = map[string]any{} // placeholder: the type may refer to itself
	s.comps[name] = s.object(t)
	return name
}

func (s *schemas) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	s.fields(t, props, &required)
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (s *schemas) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				s.fields(et, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		typ := s.typ(f.Type)
		if vals, ok := fieldEnums[t.String()+"."+f.Name]; ok {
			typ = withEnum(typ, vals)
		}
		props[name] = typ
		if !omitted(opts) && f.Type.Kind() != reflect.Pointer && f.Tag.Get("openapi") != "optional" {
			*required = append(*required, name)
		}
	}
}

func reflectOf(v any) reflect.Type { return reflect.TypeOf(v) }

// omitted reports whether a field with these json tag options may be left
// out of the JSON: omitempty, or omitzero (Go 1.24), which encoding/json
// honours too, so such a field is not required.
func omitted(opts string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == "omitempty" || o == "omitzero" {
			return true
		}
	}
	return false
}

// fieldEnums are the closed value sets of string fields, by "package.Type.Field",
// from the lists the code checks against, so that the document cannot
// drift from them.
var fieldEnums = map[string][]string{
	"application.Reject.ReasonCode": schema.RejectReasons,
}

func withEnum(typ map[string]any, vals []string) map[string]any {
	out := make(map[string]any, len(typ)+1)
	for k, v := range typ {
		out[k] = v
	}
	out["enum"] = vals
	return out
}
