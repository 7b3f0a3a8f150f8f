package appview

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Change is one field that differs between two views, addressed by a JSON
// pointer. From is absent for an added field, To for a removed one.
type Change struct {
	Path string `json:"path"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
	Op   string `json:"op"` // add, remove or replace
}

// Diff compares two values through their JSON form, so it sees exactly
// what a reader of the API sees. Arrays are compared element by element.
func Diff(before, after any) ([]Change, error) {
	a, err := toTree(before)
	if err != nil {
		return nil, err
	}
	b, err := toTree(after)
	if err != nil {
		return nil, err
	}
	var out []Change
	diffTree("", a, b, &out)
	return out, nil
}

func toTree(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("appview: diff: %w", err)
	}
	var t any
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("appview: diff: %w", err)
	}
	return t, nil
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func diffTree(path string, a, b any, out *[]Change) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			x, inA := av[k]
			y, inB := bv[k]
			p := path + "/" + escape(k)
			switch {
			case inA && !inB:
				*out = append(*out, Change{Path: p, From: x, Op: "remove"})
			case !inA && inB:
				*out = append(*out, Change{Path: p, To: y, Op: "add"})
			default:
				diffTree(p, x, y, out)
			}
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		n := max(len(av), len(bv))
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("%s/%d", path, i)
			switch {
			case i >= len(bv):
				*out = append(*out, Change{Path: p, From: av[i], Op: "remove"})
			case i >= len(av):
				*out = append(*out, Change{Path: p, To: bv[i], Op: "add"})
			default:
				diffTree(p, av[i], bv[i], out)
			}
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		if path == "" {
			path = "/"
		}
		*out = append(*out, Change{Path: path, From: a, To: b, Op: "replace"})
	}
}
