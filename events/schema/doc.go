// Package schema is the contract of the events «ОМС онлайн» stores: one Go
// type per event payload, the current schema version of each event type, and
// the upcasters that lift payloads written by older versions of the service.
//
// The write side (command/...) produces these payloads and the projections
// decode them, so the JSON shape is the contract and the Go types are its
// reference. Rules that keep the contract safe to evolve:
//
//   - Field names are lowerCamelCase and are never renamed in place. A rename
//     or a change of meaning bumps the type's version and adds an upcaster
//     from the previous version (see upcast.go), so that readers only ever see
//     the current shape.
//   - Adding an optional field does not need a new version: old events simply
//     lack it and decode to the zero value.
//   - Calendar dates are strings "YYYY-MM-DD" (a date has no time zone);
//     instants are RFC 3339 timestamps in UTC.
//   - Payloads carry everything a projection needs (the applicant id, the
//     whole form, the policy's validity), so a projection never loads a
//     stream to interpret an event.
//
// The envelope (who, when, correlation, schema version) is not part of the
// payload: it travels as the event's metadata, see events.Envelope.
package schema
