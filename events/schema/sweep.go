package schema

import "time"

// A scan uploaded and never attached to an application is a copy of a
// passport kept for nothing; after a retention period it is discarded.
// Two steps, because a submission may be referring to the scan at that
// very moment: the scan is first marked (new submissions no longer take
// it), and only after a grace period, with the read model past every
// submission begun before the mark, is it deleted, or kept if one
// attached it after all.
const (
	TypeDocumentDiscarding = "DocumentDiscarding"
	TypeDocumentKept       = "DocumentKept"
	TypeDocumentDiscarded  = "DocumentDiscarded"
	TypeUploadsSwept       = "UploadsSwept"
)

// UploadSweepStream holds the sweeper's progress through the event log.
const UploadSweepStream = "sweep-uploads"

// DocumentDiscarding marks an unattached scan for deletion; from now on
// no submission takes it.
type DocumentDiscarding struct {
	DocumentID string    `json:"documentId"`
	UploadedAt time.Time `json:"uploadedAt"`
	MarkedAt   time.Time `json:"markedAt"`
}

// EventType implements Event.
func (DocumentDiscarding) EventType() string { return TypeDocumentDiscarding }

// DocumentKept lifts the mark: a submission begun before it attached the
// scan.
type DocumentKept struct {
	DocumentID string    `json:"documentId"`
	KeptAt     time.Time `json:"keptAt"`
}

// EventType implements Event.
func (DocumentKept) EventType() string { return TypeDocumentKept }

// DocumentDiscarded records that the scan's bytes were deleted.
type DocumentDiscarded struct {
	DocumentID  string    `json:"documentId"`
	DiscardedAt time.Time `json:"discardedAt"`
}

// EventType implements Event.
func (DocumentDiscarded) EventType() string { return TypeDocumentDiscarded }

// UploadsSwept is how far the sweeper has read: the uploads up to
// UploadsThrough were marked or found attached, the marks up to
// MarksThrough were settled.
type UploadsSwept struct {
	UploadsThrough uint64    `json:"uploadsThrough"`
	MarksThrough   uint64    `json:"marksThrough"`
	SweptAt        time.Time `json:"sweptAt"`
}

// EventType implements Event.
func (UploadsSwept) EventType() string { return TypeUploadsSwept }
