package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/omsonline/oms/command/cmderr"
)

// repeatedMembers reports every member named twice in one object of a
// body that is valid JSON. encoding/json keeps the last of them silently,
// and matches names to fields ignoring case, so {"consent":false, …,
// "Consent":true} would consent while the first member said no: what the
// sender meant is unknowable, and the command is refused instead.
func repeatedMembers(body []byte) cmderr.Fields {
	var f cmderr.Fields
	// One frame per object or array being read; the distinct names met in
	// an object are names[frame.first:], compared as encoding/json matches
	// them to fields (bytes.EqualFold). Nothing here allocates per member
	// unless a name has escapes or repeats.
	type frame struct {
		object bool
		first  int    // where the object's names start in names
		key    []byte // the member whose value is being read
		index  int    // the array element being read
	}
	type seen struct {
		name    []byte
		repeats int
	}
	var stack []frame
	var names []seen
	expectKey := false
	reported := 0
	pointer := func(last []byte) string {
		var b strings.Builder
		for _, fr := range stack[:len(stack)-1] {
			b.WriteByte('/')
			if fr.object {
				b.WriteString(escapePointer(string(fr.key)))
			} else {
				b.WriteString(strconv.Itoa(fr.index))
			}
		}
		b.WriteByte('/')
		b.WriteString(escapePointer(string(last)))
		return b.String()
	}
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{', '[':
			stack = append(stack, frame{object: c == '{', first: len(names)})
			expectKey = c == '{'
		case '}', ']':
			names = names[:stack[len(stack)-1].first]
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			if top := &stack[len(stack)-1]; top.object {
				expectKey = true
			} else {
				top.index++
			}
		case '"':
			end := stringEnd(body, i)
			if expectKey {
				top := &stack[len(stack)-1]
				name := memberName(body[i : end+1])
				top.key = name
				expectKey = false
				known := names[top.first:]
				j := slices.IndexFunc(known, func(s seen) bool { return bytes.EqualFold(s.name, name) })
				switch {
				case j >= 0:
					known[j].repeats++
					// Each name once per object, and a bounded list: a
					// body of one member repeated must not answer many
					// times its size.
					if known[j].repeats == 1 && reported < maxRepeatsReported {
						reported++
						f.Add(pointer(name), "repeated_member", cmderr.T(
							fmt.Sprintf("Поле %q указано в объекте дважды (или с другим регистром букв); оставьте одно значение.", name),
							fmt.Sprintf("The member %q appears twice in one object (perhaps in another letter case); keep one value.", name)))
					}
				case len(known) < maxNamesChecked:
					names = append(names, seen{name: name})
				}
			}
			i = end
		}
	}
	return f
}

// maxRepeatsReported bounds the repeated members a refusal lists, and
// maxNamesChecked the distinct names an object is checked for: the bodies
// decoded here are structs of a few dozen fields (encoding/json has
// refused any other member already), and the bound keeps a hostile body
// from making the check quadratic.
const (
	maxRepeatsReported = 20
	maxNamesChecked    = 256
)

// stringEnd returns the index of the quote that closes the string opening
// at body[start].
func stringEnd(body []byte, start int) int {
	for i := start + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(body) - 1
}

// memberName decodes a quoted member name as encoding/json would: the
// bytes between the quotes, unless it has escapes.
func memberName(quoted []byte) []byte {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return raw
	}
	return []byte(s)
}
