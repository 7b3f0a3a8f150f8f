package schema

import "time"

// Event types of the streams that support the application stream: uploads,
// and the reservations that make uniqueness and idempotency hold across
// processes (the event store's expected-revision checks are the only lock the
// write side has). Projections that only follow applications ignore them.
const (
	TypeDocumentUploaded     = "DocumentUploaded"
	TypePersonReserved       = "PersonReserved"
	TypeENPReserved          = "EnpReserved"
	TypeIdempotencyClaimed   = "IdempotencyKeyClaimed"
	TypeIdempotencyCompleted = "IdempotencyKeyCompleted"
	TypeIdempotencyReleased  = "IdempotencyKeyReleased"
	TypeMigrationCompleted   = "MigrationCompleted"
)

// DocumentStream is the stream of one uploaded scan.
func DocumentStream(documentID string) string { return "document-" + documentID }

// PersonStream is the reservation stream of one person; key is the hex
// SHA-256 of the normalised identity document (see
// command/application.PersonKey).
func PersonStream(key string) string { return "person-" + key }

// MigrationStream records that a one-time migration of the event store's
// data has run to its end, so that no node runs it again.
func MigrationStream(name string) string { return "migration-" + name }

// ENPStream is the reservation stream of one ЕНП.
func ENPStream(enp string) string { return "enp-" + enp }

// IdempotencyStream is the record of one idempotency key; key is the hex
// SHA-256 of the caller's subject and the client's key.
func IdempotencyStream(key string) string { return "idempotency-" + key }

// DocumentUploaded records an uploaded scan: who owns it and where its bytes
// are. The bytes live in the read-model store's blob storage, sealed with
// the owner's key and addressed by SHA256, the digest of that sealed copy
// (see DocumentRef.SHA256). Only the owner, reviewers and auditors may read
// it.
type DocumentUploaded struct {
	DocumentID string `json:"documentId"`
	// OwnerID is the subject id of the applicant the scan belongs to (the
	// applicant an МФЦ operator acted for, when an operator uploaded it).
	OwnerID     string    `json:"ownerId"`
	Kind        string    `json:"kind"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	ContentType string    `json:"contentType"`
	UploadedAt  time.Time `json:"uploadedAt"`
}

// Ref is the document as an application form references it.
func (d DocumentUploaded) Ref() DocumentRef {
	return DocumentRef{Kind: d.Kind, ID: d.DocumentID, SHA256: d.SHA256, Size: d.Size, ContentType: d.ContentType}
}

// PersonReserved points a person at the application that holds the person's
// "one open application" slot. The pointer is only a lock: it holds while the
// application exists, is open (not rejected or withdrawn) and still names
// this person, so a closed application frees the person without any further
// write.
type PersonReserved struct {
	ApplicationID string    `json:"applicationId"`
	PersonKey     string    `json:"personKey"`
	ReservedAt    time.Time `json:"reservedAt"`
}

// ENPReserved takes an ЕНП for an application; the stream "enp-<number>" is
// created with no_stream, so a number is never given twice.
type ENPReserved struct {
	ENP           string    `json:"enp"`
	ApplicationID string    `json:"applicationId"`
	ReservedAt    time.Time `json:"reservedAt"`
}

// CommandResult is what every command returns.
type CommandResult struct {
	ApplicationID string `json:"applicationId"`
	// Revision is the application stream's revision after the command.
	Revision uint64 `json:"revision"`
	// Position is the $all commit position of the command's last event; a
	// client can wait for read models to pass it.
	Position uint64 `json:"position"`
}

// IdempotencyClaimed starts the execution of a command under an idempotency
// key. Whoever appends it first (no_stream, or after a release) executes the
// command; everyone else waits for IdempotencyCompleted.
type IdempotencyClaimed struct {
	// Fingerprint is the SHA-256 of the command and its input; a repeat with
	// the same key and another input is refused.
	Fingerprint string `json:"fingerprint"`
	Command     string `json:"command"`
	// ApplicationID is the target application (chosen in advance for a
	// submission), so that a takeover can find what a crashed owner wrote.
	ApplicationID string `json:"applicationId"`
	// CommandID is stamped on the envelopes of the command's events.
	CommandID string    `json:"commandId"`
	ClaimedAt time.Time `json:"claimedAt"`
}

// IdempotencyCompleted stores the first successful response; repeats return
// it and append nothing.
type IdempotencyCompleted struct {
	Fingerprint string        `json:"fingerprint"`
	Result      CommandResult `json:"result"`
	CompletedAt time.Time     `json:"completedAt"`
}

// IdempotencyReleased gives a key back after the command failed without
// writing anything (validation, wrong state), so a retry executes again.
type IdempotencyReleased struct {
	Reason     string    `json:"reason"`
	ReleasedAt time.Time `json:"releasedAt"`
}

// MigrationCompleted closes a migration's stream (MigrationStream).
type MigrationCompleted struct {
	Name string `json:"name"`
	// Changed counts what the migration wrote; Conflicts what it left for
	// a person to decide (and logged).
	Changed     int       `json:"changed"`
	Conflicts   int       `json:"conflicts"`
	CompletedAt time.Time `json:"completedAt"`
}

// EventType implementations.
func (MigrationCompleted) EventType() string   { return TypeMigrationCompleted }
func (DocumentUploaded) EventType() string     { return TypeDocumentUploaded }
func (PersonReserved) EventType() string       { return TypePersonReserved }
func (ENPReserved) EventType() string          { return TypeENPReserved }
func (IdempotencyClaimed) EventType() string   { return TypeIdempotencyClaimed }
func (IdempotencyCompleted) EventType() string { return TypeIdempotencyCompleted }
func (IdempotencyReleased) EventType() string  { return TypeIdempotencyReleased }
