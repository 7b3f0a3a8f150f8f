package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/omsonline/oms/events/storedjson"
)

// Event is an event payload.
type Event interface {
	// EventType is the event's type name.
	EventType() string
}

// Upcaster lifts a payload from one schema version to the next. It works on
// JSON rather than on Go types so that old versions need no Go type of their
// own: the package only ever has types for the current versions.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// Errors of Decode and Upcast.
var (
	ErrUnknownType = errors.New("schema: unknown event type")
	// ErrUnsupportedVersion is a version newer than this build knows (an
	// older binary reading a newer writer's events) or one without an
	// upcaster path.
	ErrUnsupportedVersion = errors.New("schema: unsupported schema version")
)

type entry struct {
	version int
	decode  func(json.RawMessage) (Event, error)
	// up[v] lifts version v to v+1.
	up map[int]Upcaster
}

var registry = map[string]*entry{}

func register[T Event](version int, up map[int]Upcaster) {
	var zero T
	t := zero.EventType()
	if _, dup := registry[t]; dup {
		panic("schema: duplicate registration of " + t) // programming error at init
	}
	for v := 1; v < version; v++ {
		if up[v] == nil {
			panic(fmt.Sprintf("schema: %s v%d has no upcaster to v%d", t, v, v+1))
		}
	}
	registry[t] = &entry{version: version, up: up, decode: func(data json.RawMessage) (Event, error) {
		var v T
		if err := storedjson.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return v, nil
	}}
}

func init() {
	register[ApplicationSubmitted](2, map[int]Upcaster{1: upcastSubmittedV1})
	register[ApplicationClaimed](1, nil)
	register[ClaimReleased](1, nil)
	register[InfoRequested](1, nil)
	register[InfoProvided](1, nil)
	register[ApplicationApproved](1, nil)
	register[ApplicationRejected](1, nil)
	register[PolicyIssued](1, nil)
	register[AddressChanged](1, nil)
	register[PolicyRenewed](1, nil)
	register[ApplicationWithdrawn](1, nil)
	register[PolicyExpired](1, nil)
	register[RenewalDue](1, nil)

	register[DocumentUploaded](1, nil)
	register[PersonReserved](1, nil)
	register[ENPReserved](1, nil)
	register[MigrationCompleted](1, nil)
	register[IdempotencyClaimed](1, nil)
	register[IdempotencyCompleted](1, nil)
	register[IdempotencyReleased](1, nil)
	register[SessionEnded](1, nil)
	register[VisitCodeIssued](1, nil)
	register[VisitCodeRefused](1, nil)
	register[VisitOpened](1, nil)
	register[VisitClosed](1, nil)
	register[DocumentDiscarding](1, nil)
	register[DocumentKept](1, nil)
	register[DocumentDiscarded](1, nil)
	register[UploadsSwept](1, nil)
}

// Version returns the current schema version of an event type.
func Version(eventType string) (int, bool) {
	e, ok := registry[eventType]
	if !ok {
		return 0, false
	}
	return e.version, true
}

// Types lists every registered event type, sorted.
func Types() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Encode serialises a payload at its type's current version.
func Encode(e Event) (eventType string, version int, data json.RawMessage, err error) {
	eventType = e.EventType()
	en, ok := registry[eventType]
	if !ok {
		return "", 0, nil, fmt.Errorf("%w: %s", ErrUnknownType, eventType)
	}
	data, err = json.Marshal(e)
	if err != nil {
		return "", 0, nil, fmt.Errorf("schema: encode %s: %w", eventType, err)
	}
	return eventType, en.version, data, nil
}

// Upcast lifts a payload stored at version to the type's current version. A
// version of 0 means 1 (events written before versions were recorded).
func Upcast(eventType string, version int, data json.RawMessage) (json.RawMessage, error) {
	en, ok := registry[eventType]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownType, eventType)
	}
	if version == 0 {
		version = 1
	}
	if version < 1 || version > en.version {
		return nil, fmt.Errorf("%w: %s v%d (current v%d)", ErrUnsupportedVersion, eventType, version, en.version)
	}
	for v := version; v < en.version; v++ {
		up, err := en.up[v](data)
		if err != nil {
			return nil, fmt.Errorf("schema: upcast %s v%d to v%d: %w", eventType, v, v+1, err)
		}
		data = up
	}
	return data, nil
}

// Decode upcasts a stored payload and decodes it into its current Go type
// (a value, not a pointer), e.g. ApplicationSubmitted. Unknown JSON fields are
// ignored, so writers may add optional fields without breaking readers.
func Decode(eventType string, version int, data json.RawMessage) (Event, error) {
	data, err := Upcast(eventType, version, data)
	if err != nil {
		return nil, err
	}
	e, err := registry[eventType].decode(data)
	if err != nil {
		return nil, fmt.Errorf("schema: decode %s: %w", eventType, err)
	}
	return e, nil
}
