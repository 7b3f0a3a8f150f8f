package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/history"
)

// zeroTime is how a time.Time that was never set comes out of
// encoding/json and goccy/go-json alike: year 1, which a client would show
// as a date.
const zeroTime = "0001-01-01T00:00:00Z"

// timeMembers are the JSON names of the time fields of what the query API
// serves, found by reflection so that a time field added to a read model
// is covered without anyone remembering to.
var timeMembers = jsonTimeNames(appview.View{}, cabinet.Doc{}, history.Entry{})

func jsonTimeNames(vs ...any) map[string]bool {
	names := map[string]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			if name == "" {
				name = f.Name
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft == reflect.TypeFor[time.Time]() {
				names[name] = true
				continue
			}
			walk(f.Type)
		}
	}
	for _, v := range vs {
		walk(reflect.TypeOf(v))
	}
	return names
}

// The read models keep a time that was never set (a question not yet
// answered, a consent not withdrawn, the empty view before an
// application's first event that every first diff starts from) as the zero
// time.Time, and write it as year 1: encoding/json's omitempty does not
// apply to structs, and the runner's goccy/go-json ignores omitzero.
// Changing how they are stored would change stored documents, so the query
// API leaves such times out of what it sends instead, and old documents
// are served the same way.

// dropZeroTimes removes, in decoded JSON, every time member holding the
// zero time, and in a diff change ({path, op, from, to}) a from or to that
// is the zero time or null: the value did not exist, so the change is an
// add (no from) or a remove (no to).
func dropZeroTimes(v any) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			dropZeroTimes(e)
		}
	case map[string]any:
		if path, ok := v["path"].(string); ok {
			if op, ok := v["op"].(string); ok {
				dropAbsentEnds(v, path, op)
			}
		}
		for k, e := range v {
			if s, ok := e.(string); ok && s == zeroTime && timeMembers[k] {
				delete(v, k)
				continue
			}
			dropZeroTimes(e)
		}
	}
}

// dropAbsentEnds makes a change from or to a value that did not exist an
// add or a remove.
func dropAbsentEnds(ch map[string]any, path, op string) {
	if op != "replace" {
		return
	}
	absent := func(key string) bool {
		e, ok := ch[key]
		if !ok || e == nil {
			return true
		}
		s, _ := e.(string)
		return s == zeroTime && timeMembers[path[strings.LastIndexByte(path, '/')+1:]]
	}
	from, to := absent("from"), absent("to")
	switch {
	case from && to:
		return // nothing to nothing: leave it as recorded
	case from:
		delete(ch, "from")
		ch["op"] = "add"
	case to:
		delete(ch, "to")
		ch["op"] = "remove"
	}
}

// wireQuestion is a question as sent: AnsweredAt, shadowing the embedded
// one, is left out until there is an answer.
type wireQuestion struct {
	appview.Question
	AnsweredAt *time.Time `json:"answeredAt,omitempty"`
}

func wireQuestions(qs []appview.Question) []wireQuestion {
	if qs == nil {
		return nil
	}
	out := make([]wireQuestion, len(qs))
	for i, q := range qs {
		out[i].Question = q
		if !q.AnsweredAt.IsZero() {
			at := q.AnsweredAt
			out[i].AnsweredAt = &at
		}
	}
	return out
}

// wireView is a view as sent (see wireQuestion). The consent's withdrawal
// time is omitzero already, which encoding/json honours.
type wireView struct {
	appview.View
	Questions []wireQuestion `json:"questions,omitempty"`
}

// wireState is State with the changes of its steps and its state in the
// form dropZeroTimes gives their JSON, built on the Go values: time travel
// folds and sends hundreds of steps, and decoding and encoding them all
// again took it from about 6 to 9.5 ms for 200 events.
func wireState(st State) wireStateDoc {
	steps := make([]Step, len(st.Steps))
	for i, s := range st.Steps {
		d := make([]appview.Change, len(s.Diff))
		for j, ch := range s.Diff {
			d[j] = wireChange(ch)
		}
		s.Diff = d
		steps[i] = s
	}
	return wireStateDoc{State: st, WireState: wireView{View: st.State, Questions: wireQuestions(st.State.Questions)}, WireSteps: steps}
}

// wireStateDoc is State with its state and steps as sent: a field of the
// outer struct hides the embedded one of the same JSON name, and every
// other field of State is sent as it is.
type wireStateDoc struct {
	State
	WireState wireView `json:"state"`
	WireSteps []Step   `json:"steps"`
}

// wireChange is dropAbsentEnds and wireQuestion for one change.
func wireChange(ch appview.Change) appview.Change {
	if ch.Op == "replace" {
		from, to := absentValue(ch.From), absentValue(ch.To)
		switch {
		case from && !to:
			ch.From, ch.Op = nil, "add"
		case to && !from:
			ch.To, ch.Op = nil, "remove"
		}
	}
	ch.From, ch.To = wireValue(ch.From), wireValue(ch.To)
	return ch
}

// absentValue reports whether a diff's value is written as null or as the
// zero time.
func absentValue(v any) bool {
	if v == nil {
		return true
	}
	if t, ok := v.(time.Time); ok {
		return t.IsZero()
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func wireValue(v any) any {
	switch v := v.(type) {
	case appview.Question:
		return wireQuestions([]appview.Question{v})[0]
	case []appview.Question:
		return wireQuestions(v)
	case appview.View:
		return wireView{View: v, Questions: wireQuestions(v.Questions)}
	}
	return v
}

// emptyArrays are the array members the OpenAPI schema requires of a
// cabinet and of each of its applications; an older stored cabinet (or
// none at all) may have them null.
var (
	cabinetArrays     = []string{"applications", "pastPolicies", "inbox"}
	cabinetAppsArrays = []string{"actions", "openQuestions"}
)

func fillArrays(o map[string]any, names []string) {
	for _, n := range names {
		if o[n] == nil {
			o[n] = []any{}
		}
	}
}

// normalizeCabinet is dropZeroTimes for a cabinet, which also gets [] for
// every array the schema requires.
func normalizeCabinet(v any) {
	dropZeroTimes(v)
	doc, ok := v.(map[string]any)
	if !ok {
		return
	}
	fillArrays(doc, cabinetArrays)
	apps, _ := doc["applications"].([]any)
	for _, a := range apps {
		if a, ok := a.(map[string]any); ok {
			fillArrays(a, cabinetAppsArrays)
		}
	}
}

// normalizeEntry is dropZeroTimes for an audit history entry, whose diff
// the schema requires as an array; an event that changed nothing in the
// view is stored with a null one.
func normalizeEntry(v any) {
	dropZeroTimes(v)
	if e, ok := v.(map[string]any); ok {
		fillArrays(e, []string{"diff"})
	}
}

// clean returns raw with normalize applied. JSON without a zero time or a
// null member is returned as is: the decode and encode are paid only by
// documents that need them.
func clean(raw []byte, normalize func(any)) ([]byte, error) {
	if !bytes.Contains(raw, []byte(zeroTime)) && !bytes.Contains(raw, []byte(":null")) {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // positions and revisions are uint64: keep every digit
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("httpapi: normalize: %w", err)
	}
	normalize(v)
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("httpapi: normalize: %w", err)
	}
	return out, nil
}

// sendJSON answers v as JSON, normalized (dropZeroTimes or
// normalizeCabinet).
func sendJSON(c *fiber.Ctx, v any, normalize func(any)) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("httpapi: encode: %w", err)
	}
	return sendRaw(c, raw, normalize)
}

// sendRaw answers stored JSON, normalized.
func sendRaw(c *fiber.Ctx, raw []byte, normalize func(any)) error {
	out, err := clean(raw, normalize)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(out)
}
