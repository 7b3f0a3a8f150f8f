package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/schema"
)

// DecodeSubmit decodes the body of POST /api/v1/applications. It is the
// exact decoding the handler runs, exported for the fuzz target.
func DecodeSubmit(body []byte) (schema.Form, error) {
	var f schema.Form
	err := decodeBody(body, &f)
	return f, err
}

// DecodeJSON is decodeBody for the other JSON endpoints of omsd (the
// admin API), so that their bodies are refused in the same words.
func DecodeJSON(body []byte, v any) error { return decodeBody(body, v) }

// decodeBody decodes a JSON object into v. An empty body or null is an
// empty object, so commands without fields need no body. Syntax errors are
// a 400; values of the wrong type and members the command does not have
// are a 422 naming each of them. Unknown members are refused rather than
// dropped: a mistyped "apartament" would otherwise lose the apartment
// while the answer said all was well.
func decodeBody(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		// Windows editors save one; JSON forbids it (RFC 8259, 8.1), and
		// "error near byte 1" did not say what to remove.
		return malformed(cmderr.T(
			"Тело запроса начинается с невидимой метки порядка байтов (BOM, EF BB BF); JSON её не допускает — сохраните файл в UTF-8 без BOM.",
			"The request body starts with an invisible byte order mark (BOM, EF BB BF), which JSON does not allow: save the file as UTF-8 without a BOM."))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		// encoding/json stops at the first wrong type or unknown member
		// (which has no error type of its own, only this text) and names
		// it without array indexes (/documents/kind); a person fixing the
		// form needs every one, each exactly. Walking the body again costs
		// three times the decoding, so only a body with one pays it.
		if (errors.As(err, &typ) && typ.Field != "") || strings.HasPrefix(err.Error(), "json: unknown field ") {
			if f := shapeErrors(body, reflect.TypeOf(v)); f.Err() != nil {
				return f.Err()
			}
		}
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed(cmderr.T("После JSON-объекта есть лишние данные.", "There is extra data after the JSON object."))
	}
	if f := repeatedMembers(body); f.Err() != nil {
		return f.Err()
	}
	return nil
}

func malformed(detail cmderr.Text) error {
	return cmderr.New(cmderr.BadRequest, "malformed_json", detail)
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return malformed(cmderr.T(
			fmt.Sprintf("Тело запроса — не корректный JSON (ошибка около байта %d).", syn.Offset),
			fmt.Sprintf("The request body is not valid JSON (error near byte %d).", syn.Offset)))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed(cmderr.T("JSON в теле запроса оборван.", "The JSON in the request body is cut short."))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return malformed(cmderr.T("Тело запроса должно быть JSON-объектом.", "The request body must be a JSON object."))
		}
		want := jsonType(typ.Type)
		var f cmderr.Fields
		f.Add("/"+strings.ReplaceAll(typ.Field, ".", "/"), "type", cmderr.T(
			"Неверный тип значения: ожидается "+want[0]+".", "Wrong value type: expected "+want[1]+"."))
		return f.Err()
	}
	if quoted, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		// Only if the walk above disagreed with encoding/json about a
		// member's name: still a member the command does not have, but
		// encoding/json does not say where, so no pointer is claimed.
		name, uerr := strconv.Unquote(quoted)
		if uerr != nil {
			name = quoted
		}
		return cmderr.New(cmderr.Validation, "unknown_field", cmderr.T(
			fmt.Sprintf("Поля %q нет: проверьте его имя (нет ли опечатки). Значение не принято.", name),
			fmt.Sprintf("There is no field %q: check its name for a typo. The value was not accepted.", name)))
	}
	return malformed(cmderr.T("Тело запроса — не корректный JSON.", "The request body is not valid JSON."))
}

// shapeErrors walks the body as plain JSON against the Go type it was to
// decode into, the way encoding/json matches them (field names by their
// tags, case-insensitively; inlined embedded structs), and reports every
// value of the wrong JSON type and every member the type does not have,
// each with its JSON pointer. Types that decode themselves
// (json.Unmarshaler, encoding.TextUnmarshaler) are left to their own errors.
func shapeErrors(body []byte, t reflect.Type) cmderr.Fields {
	var f cmderr.Fields
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var tree any
	if dec.Decode(&tree) != nil {
		return f
	}
	walkTypes(&f, "", tree, t)
	return f
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func walkTypes(f *cmderr.Fields, ptr string, val any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if val == nil || reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return // null fits anything; self-decoding types judge themselves
	}
	wrong := func() {
		if f.Full() {
			f.Omit() // spares building a message no one will read
			return
		}
		want := jsonType(t)
		f.Add(ptr, "type", cmderr.T("Неверный тип значения: ожидается "+want[0]+".", "Wrong value type: expected "+want[1]+"."))
	}
	switch t.Kind() {
	case reflect.Interface:
	case reflect.String:
		if _, ok := val.(string); !ok {
			wrong()
		}
	case reflect.Bool:
		if _, ok := val.(bool); !ok {
			wrong()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, ok := val.(json.Number); !ok || !fitsInt(n, t) {
			wrong()
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, ok := val.(json.Number); !ok || !fitsUint(n, t) {
			wrong()
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := val.(json.Number); !ok {
			wrong()
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if _, ok := val.(string); !ok { // []byte is base64 text
				wrong()
			}
			return
		}
		items, ok := val.([]any)
		if !ok {
			wrong()
			return
		}
		for i, it := range items {
			walkTypes(f, ptr+"/"+strconv.Itoa(i), it, t.Elem())
		}
	case reflect.Map:
		m, ok := val.(map[string]any)
		if !ok {
			wrong()
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			walkTypes(f, ptr+"/"+escapePointer(k), m[k], t.Elem())
		}
	case reflect.Struct:
		m, ok := val.(map[string]any)
		if !ok {
			wrong()
			return
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fd, ok := fields.byName[k]
			if !ok {
				// encoding/json's fallback: a case-insensitive match by
				// its folding, which strings.EqualFold shares ("ſ" is "s").
				i := slices.IndexFunc(fields.list, func(f jsonField) bool { return strings.EqualFold(f.name, k) })
				if ok = i >= 0; ok {
					fd = fields.list[i]
				}
			}
			if !ok {
				f.Add(ptr+"/"+escapePointer(k), "unknown_field", msgUnknownField)
				continue
			}
			walkTypes(f, ptr+"/"+escapePointer(fd.name), m[k], fd.typ)
		}
	}
}

var msgUnknownField = cmderr.T("Такого поля нет: проверьте его имя (нет ли опечатки). Значение не принято.",
	"There is no such field: check its name for a typo. The value was not accepted.")

type jsonField struct {
	name string
	typ  reflect.Type
}

var jsonFieldCache sync.Map // reflect.Type → structFields

type structFields struct {
	byName map[string]jsonField
	list   []jsonField // in field order, for the case-insensitive match
}

// jsonFields lists a struct's JSON members, inlining embedded structs.
func jsonFields(t reflect.Type) structFields {
	if m, ok := jsonFieldCache.Load(t); ok {
		return m.(structFields)
	}
	out := structFields{byName: map[string]jsonField{}}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" || (!sf.IsExported() && !sf.Anonymous) {
				continue
			}
			ft := sf.Type
			if sf.Anonymous && name == "" {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if name == "" {
				name = sf.Name
			}
			if _, taken := out.byName[name]; !taken {
				fd := jsonField{name: name, typ: sf.Type}
				out.byName[name] = fd
				out.list = append(out.list, fd)
			}
		}
	}
	walk(t)
	jsonFieldCache.Store(t, out)
	return out
}

func fitsInt(n json.Number, t reflect.Type) bool {
	i, err := strconv.ParseInt(string(n), 10, 64)
	return err == nil && !reflect.New(t).Elem().OverflowInt(i)
}

func fitsUint(n json.Number, t reflect.Type) bool {
	u, err := strconv.ParseUint(string(n), 10, 64)
	return err == nil && !reflect.New(t).Elem().OverflowUint(u)
}

func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func jsonType(t reflect.Type) [2]string {
	if t == nil {
		return [2]string{"другое значение", "another value"}
	}
	switch t.Kind() {
	case reflect.String:
		return [2]string{"строка", "a string"}
	case reflect.Bool:
		return [2]string{"true или false", "true or false"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// 67.0 is a number too, and was told "expected a number".
		return [2]string{"целое число без дробной части, например 67", "a whole number without a fraction, e.g. 67"}
	case reflect.Float32, reflect.Float64:
		return [2]string{"число", "a number"}
	case reflect.Slice, reflect.Array:
		return [2]string{"массив", "an array"}
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return [2]string{"объект", "an object"}
	}
	return [2]string{"другое значение", "another value"}
}

// commandFor decodes the body of an application action.
func commandFor(action string, body []byte) (application.Command, error) {
	switch action {
	case "claim":
		return decodeAs[application.ClaimForReview](body)
	case "release":
		return decodeAs[application.ReleaseClaim](body)
	case "request-info":
		return decodeAs[application.RequestInfo](body)
	case "provide-info":
		return decodeAs[application.ProvideInfo](body)
	case "approve":
		return decodeAs[application.Approve](body)
	case "reject":
		return decodeAs[application.Reject](body)
	case "issue-policy":
		return decodeAs[application.IssuePolicy](body)
	case "change-address":
		return decodeAs[application.ChangeAddress](body)
	case "renew":
		return decodeAs[application.Renew](body)
	case "withdraw":
		return decodeAs[application.Withdraw](body)
	case "withdraw-consent":
		return decodeAs[application.WithdrawConsent](body)
	}
	return nil, cmderr.New(cmderr.NotFound, "no_route", cmderr.T("Такого действия нет.", "No such action."))
}

func decodeAs[T application.Command](body []byte) (application.Command, error) {
	var c T
	if err := decodeBody(body, &c); err != nil {
		return nil, err
	}
	return c, nil
}

// Actions are the application actions, in the order of their life.
var Actions = []string{"claim", "release", "request-info", "provide-info", "approve", "reject", "issue-policy", "change-address", "renew", "withdraw", "withdraw-consent"}
