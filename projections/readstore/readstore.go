// Package readstore is the storage port of the read side: the documents that
// projections build and queries read, the projection checkpoints, and the
// blobs (uploaded scans).
//
// The port is deliberately small and shaped by what the projections and the
// query API need, rather than by what either database can do. That keeps the
// embedded SQLite adapter and the MongoDB adapter honest twins: both pass the
// contract suite in readstore/storetest.
//
// Collections are addressed by logical name (for example "cabinet"). Each
// logical name is an alias of one physical collection (for example
// "cabinet_g3"), so that a projection can be rebuilt into a fresh physical
// collection while the old one keeps serving, and then switched over in one
// step (blue/green).
package readstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned when a document, checkpoint, alias or blob does not
// exist.
var ErrNotFound = errors.New("readstore: not found")

// ErrUnavailable wraps an error of a store that does not answer (a
// network store during an outage or an election): the request may
// succeed when repeated, and is answered 503 rather than 500.
var ErrUnavailable = errors.New("readstore: the read-model store does not answer")

// ErrNoCollection is returned when a logical name has no alias or a physical
// collection does not exist (was never ensured, or was dropped). It is kept
// apart from ErrNotFound so that a query API can tell "no such document"
// (404) from "this read model is not built yet" (503).
var ErrNoCollection = errors.New("readstore: no such collection")

// ErrFenced is returned by a Flush whose Checkpoint.Fence is older than
// the one a newer lease term stored with the projection's checkpoint: the
// writer has lost the lease, perhaps while this very write was under way,
// and must stop writing.
var ErrFenced = errors.New("readstore: fenced off by a newer lease term")

// Page sizes for List and Queue. A Limit of zero or less means DefaultLimit;
// a Limit above MaxLimit is cut to MaxLimit, so that a caller's typo cannot
// make one request read a whole collection.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Doc is one read-model document.
type Doc struct {
	// ID is unique within a collection. Prefix scans (List) order by ID
	// bytewise, so callers that need an order encode it into the ID, e.g.
	// "<app>/<zero-padded revision>".
	ID string
	// Position is the $all commit position of the last event applied to the
	// document. A projection skips events at or below it, which makes replays
	// after a crash no-ops. Adapters keep the full uint64 range.
	Position uint64
	// Body is the document as JSON (an object). Adapters may re-encode it
	// (MongoDB stores BSON), so compare bodies as JSON values, not as bytes;
	// integers beyond ±2^63 may come back as floats.
	Body json.RawMessage
	// Queue holds the fields the reviewer queue filters and sorts on. It is
	// set exactly for documents of queue collections (see Store.Queue): a
	// flush rejects a queue document without it and a plain document with it,
	// so that a document can never silently drop out of the queue.
	Queue *QueueFields
}

// QueueFields are the indexed fields of a reviewer-queue document.
type QueueFields struct {
	Status   string
	Assignee string // "" when unassigned
	Region   string
	// Deadline is the SLA deadline. While the clock is stopped (the
	// application waits on the applicant, or has been approved) Waiting is
	// true and the document is never overdue. Adapters keep nanoseconds (cursors compare exactly) for
	// deadlines between the years 1678 and 2262 and clamp the others; the
	// zero time round-trips as the zero time and sorts first.
	Deadline time.Time
	Waiting  bool
}

// Write is one change in a flush: a put (Delete false) or a delete of Doc.ID.
// When one flush holds several writes of the same document, the last wins.
type Write struct {
	Collection string // physical collection name
	Doc        Doc
	Delete     bool
	// Encoded marks a Doc.Body that the runner's JSON encoder just produced from a Go
	// value, which is valid JSON by construction: adapters then check only
	// that it is an object and skip the full validation scan every other
	// body gets, which was a twentieth of a projection's CPU.
	Encoded bool
}

// Checkpoint is a projection's progress through $all.
type Checkpoint struct {
	Projection string
	Position   uint64
	// Generation is the physical-collection generation the projection is
	// writing to; see Store.SetAliases.
	Generation int
	// UpdatedAt is informational; adapters keep at least milliseconds. A
	// zero UpdatedAt is set to the time of the flush.
	UpdatedAt time.Time
	// Fence is the fencing token of the lease term that flushed, or zero
	// for a writer outside any lease. The store keeps the highest token it
	// was given for the projection and refuses a Flush with a lower
	// non-zero one (ErrFenced), so that a holder stalled in the middle of
	// a write cannot land it over its successor's. A zero Fence is not
	// checked and leaves the stored token as it is.
	Fence uint64
}

// QueueQuery selects a page of the reviewer queue, sorted by (Deadline, ID).
type QueueQuery struct {
	Collection string // logical name
	Status     []string
	Assignee   *string // nil: any; pointer to "": unassigned only
	Region     string
	// Overdue, when non-nil, keeps only documents that are (true) or are not
	// (false) overdue at Now: not waiting and Deadline before Now.
	Overdue *bool
	Now     time.Time
	// After is the cursor: the last (Deadline, ID) of the previous page.
	After *QueueCursor
	// Through keeps only documents at or before it in the queue's order,
	// (Deadline, ID) <= Through: the side of a cursor After leaves out.
	Through *QueueCursor
	// ChangedAfter, when not zero, keeps only documents whose Position is
	// greater. With Through it finds what moved behind a reader's cursor,
	// or changed there, since the read at that position.
	ChangedAfter uint64
	Limit        int // see DefaultLimit and MaxLimit
}

// QueueCursor is a keyset cursor over (Deadline, ID).
type QueueCursor struct {
	Deadline time.Time
	ID       string
}

// QueuePage is one page of a queue query. Next is nil on the last page.
type QueuePage struct {
	Docs []Doc
	Next *QueueCursor
}

// ListQuery is a prefix scan over IDs in bytewise order.
type ListQuery struct {
	Collection string // logical name
	Prefix     string
	AfterID    string // exclusive cursor; "" to start at the beginning
	Limit      int    // see DefaultLimit and MaxLimit
}

// BlobInfo describes a stored blob. Blobs are content-addressed: the ID is
// the lowercase hex SHA-256 of the bytes.
type BlobInfo struct {
	SHA256      string
	Size        int64
	ContentType string
}

// Kind says which typed queries a physical collection must support, and so
// which indexes an adapter builds for it.
type Kind int

const (
	// KindDocs is read by ID and by ID prefix.
	KindDocs Kind = iota
	// KindQueue is additionally read by QueueQuery.
	KindQueue
)

// AtomicFlusher is implemented by a Store whose Flush writes the documents
// and the checkpoint in one transaction. No document of such a store is
// ever ahead of its projection's checkpoint, which lets the runner know
// some documents absent without reading (see runner.Tx.StartsStream).
type AtomicFlusher interface {
	AtomicFlush() bool
}

// Store is the read side's storage port.
//
// Single writer per document: projections are the only writers of their
// collections and each runs in one place at a time, so adapters need no
// multi-writer atomicity beyond what a single flush requires.
type Store interface {
	// EnsureCollection creates a physical collection and its indexes if it
	// does not exist. Ensuring an existing collection as another kind is an
	// error. Names (physical and logical) match ^[a-z][a-z0-9_]{0,62}$,
	// because adapters use them in SQL identifiers and collection names.
	EnsureCollection(ctx context.Context, physical string, kind Kind) error
	// DropCollection removes a physical collection; missing is not an error.
	// Dropping a collection that an alias points at is an error: switch the
	// alias first (and, with the MongoDB adapter, give readers a second to
	// see the switch).
	DropCollection(ctx context.Context, physical string) error
	// SetAliases points logical names at physical collections, all at once.
	// Logical names not in the map keep their alias; an empty physical name
	// removes the alias. Every named physical collection must exist.
	SetAliases(ctx context.Context, aliases map[string]string) error
	// Alias returns the physical collection a logical name points at, or
	// ErrNotFound.
	Alias(ctx context.Context, logical string) (string, error)

	// Get reads one document by ID from a logical collection. It returns
	// ErrNotFound for a missing document and ErrNoCollection for a logical
	// name without an alias (List and Queue too).
	Get(ctx context.Context, logical, id string) (Doc, error)
	// GetPhysical reads one document by ID from a physical collection; a
	// projection reads its own (possibly not yet aliased) generation.
	GetPhysical(ctx context.Context, physical, id string) (Doc, error)
	// List is a prefix scan of a logical collection.
	List(ctx context.Context, q ListQuery) ([]Doc, error)
	// Queue queries a logical queue collection; querying a KindDocs
	// collection is an error.
	Queue(ctx context.Context, q QueueQuery) (QueuePage, error)

	// Flush applies writes and then stores the checkpoint. The embedded
	// adapter does both in one transaction; the MongoDB adapter writes the
	// documents (one unordered bulk write per collection) strictly before
	// the checkpoint, and relies on Doc.Position to make the replay after a
	// crash a no-op.
	// A Flush refused for its Fence returns ErrFenced and changes neither
	// the checkpoint nor any document that a flush with a newer Fence wrote
	// or deleted; the embedded adapter writes nothing of it at all, while
	// the MongoDB adapter, which has no transaction, may have written
	// documents that no newer term has written or deleted yet. (MongoDB
	// keeps a fenced deletion's token in a tombstone that readers never
	// see, for mongostore.Options.TombstoneTTL.)
	// Writes must target existing physical collections (ErrNoCollection
	// otherwise), have a non-empty ID and a JSON object body, and carry
	// Doc.Queue exactly for queue collections; cp.Projection must not be
	// empty.
	Flush(ctx context.Context, writes []Write, cp Checkpoint) error
	// LoadCheckpoint returns ErrNotFound for a projection that never flushed.
	LoadCheckpoint(ctx context.Context, projection string) (Checkpoint, error)
	// Checkpoints lists all stored checkpoints, sorted by projection.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)

	// PutBlob stores bytes read from r and returns their info. Storing the
	// same bytes twice stores them once, and the content type of the first
	// store is kept.
	PutBlob(ctx context.Context, r io.Reader, contentType string) (BlobInfo, error)
	// OpenBlob opens a blob by its SHA-256; the caller closes the reader. A
	// string that is not a lowercase hex SHA-256 is ErrNotFound too.
	OpenBlob(ctx context.Context, sha256 string) (io.ReadCloser, BlobInfo, error)
	// DeleteBlob removes a blob; missing is not an error.
	DeleteBlob(ctx context.Context, sha256 string) error

	// The key vault holds the wrapped data keys that encrypt applicants'
	// personal data (see events/piicrypt). It lives here, never in the
	// event store, because erasing a person means destroying their key,
	// and the event store cannot forget.

	// LoadKey returns a wrapped key. found is false for an id that was
	// never created; erased is true (and wrapped nil) once EraseKey ran.
	LoadKey(ctx context.Context, id string) (wrapped []byte, erased, found bool, err error)
	// CreateKey stores wrapped under id unless id already exists, and
	// returns what is stored: concurrent creators all end up with the
	// first key. An erased id stays erased.
	CreateKey(ctx context.Context, id string, wrapped []byte) (stored []byte, erased bool, err error)
	// EraseKey destroys the key and leaves a tombstone, so that "erased"
	// stays distinguishable from "never existed" (a misconfigured store
	// must not read as a mass erasure). Erasing twice is not an error.
	EraseKey(ctx context.Context, id string) error
	// EdgeKey returns the newest key that is not erased (the oldest when
	// newest is false), for a start-up check that the master key opens
	// what the vault holds; found is false when it holds none.
	EdgeKey(ctx context.Context, newest bool) (id string, wrapped []byte, found bool, err error)
	// Scrub makes content that was overwritten or deleted unrecoverable
	// from the store's own files, as far as the adapter can: after an
	// erasure the old bytes must not linger in free pages or logs.
	Scrub(ctx context.Context) error

	// Close releases the store's resources.
	Close() error
}
