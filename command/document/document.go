// Package document handles the scans an applicant uploads before submitting:
// it checks what the bytes are (by magic bytes, never by the client's
// header), stores them through the read-model store's blob port, and records
// who owns them in a "document-<id>" stream, which is what later decides who
// may read a scan and what an application's references resolve to.
package document

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/readstore"
)

// MaxSize is the largest scan accepted, in bytes.
const MaxSize = 10 << 20

// Content types accepted.
const (
	TypePDF  = "application/pdf"
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
)

// BlobStore is the part of readstore.Store that uploads need; any readstore
// adapter satisfies it.
type BlobStore interface {
	PutBlob(ctx context.Context, r io.Reader, contentType string) (readstore.BlobInfo, error)
	OpenBlob(ctx context.Context, sha256 string) (io.ReadCloser, readstore.BlobInfo, error)
	DeleteBlob(ctx context.Context, sha256 string) error
}

// Keys seals a scan with its owner's data key, so that erasing the owner
// (destroying the key) makes every copy of the scan unreadable, backups
// included; *piicrypt.Keyring implements it.
type Keys interface {
	SealBytes(ctx context.Context, subject, context string, b []byte) ([]byte, error)
	OpenBytes(ctx context.Context, subject, context string, b []byte) ([]byte, error)
	Erased(ctx context.Context, subject string) (bool, error)
	ErasedNow(ctx context.Context, subject string) (bool, error)
}

// scanContext binds sealed bytes to their use.
const scanContext = "scan"

// Options configure a Service.
type Options struct {
	Store *eventstore.Store
	Blobs BlobStore
	Keys  Keys
	// Now stamps uploads; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Known bounds how many uploads Lookup remembers; zero means
	// DefaultKnown and a negative value remembers none.
	Known int
	// Attached reports whether an application's form refers (or referred)
	// to a scan. Staff read scans only within applications: one that
	// belongs to none is nothing of theirs. Nil lets staff read any scan.
	Attached func(ctx context.Context, documentID string) (bool, error)
}

// DefaultKnown is Options.Known's default: an upload remembered takes a
// few hundred bytes, some 40 MB when the memory is full.
const DefaultKnown = 100_000

// Service uploads and serves scans.
type Service struct {
	store *eventstore.Store
	blobs BlobStore
	keys  Keys
	now   func() time.Time
	log   *slog.Logger
	// known remembers uploads by id. An upload's event never changes and
	// holds nothing personal (it is stored unsealed), so a remembered one
	// is exactly what the event store would answer; every submission looks
	// up its scans, which were three event store reads of its seven.
	// Nil when Options.Known is negative.
	known    *lru.Cache[string, schema.DocumentUploaded]
	attached func(ctx context.Context, documentID string) (bool, error)
	// digests remembers the digests uploads answered, so that a form
	// echoing one is checked without reading and opening the scan again.
	digests *lru.Cache[string, string]
}

// New builds a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Blobs == nil || opts.Keys == nil {
		return nil, errors.New("document: Store, Blobs and Keys are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: opts.Store, blobs: opts.Blobs, keys: opts.Keys, now: opts.Now, log: opts.Logger, attached: opts.Attached}
	if opts.Known == 0 {
		opts.Known = DefaultKnown
	}
	if opts.Known > 0 {
		known, err := lru.New[string, schema.DocumentUploaded](opts.Known)
		if err != nil {
			return nil, fmt.Errorf("document: %w", err)
		}
		s.known = known
		if s.digests, err = lru.New[string, string](opts.Known); err != nil {
			return nil, fmt.Errorf("document: %w", err)
		}
	}
	return s, nil
}

// magic numbers of the accepted types.
var magic = []struct {
	prefix      []byte
	contentType string
}{
	{[]byte("%PDF-"), TypePDF},
	{[]byte{0xFF, 0xD8, 0xFF}, TypeJPEG},
	{[]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}, TypePNG},
}

// SniffLen is how many leading bytes Sniff needs.
const SniffLen = 8

// Sniff returns the content type of a file from its first bytes.
func Sniff(head []byte) (string, bool) {
	for _, m := range magic {
		if bytes.HasPrefix(head, m.prefix) {
			return m.contentType, true
		}
	}
	return "", false
}

// TooLargeError is the cmderr refusal of an oversized upload.
func TooLargeError() error {
	return cmderr.New(cmderr.TooLarge, "file_too_large", cmderr.T(
		fmt.Sprintf("Файл больше %d МБ. Уменьшите разрешение скана или сохраните его в PDF.", MaxSize>>20),
		fmt.Sprintf("The file is larger than %d MB. Lower the scan's resolution or save it as a PDF.", MaxSize>>20)))
}

func errUnsupported() error {
	return cmderr.New(cmderr.Unsupported, "unsupported_file_type", cmderr.T(
		"Принимаются только файлы PDF, JPEG и PNG.", "Only PDF, JPEG and PNG files are accepted."))
}

func errNotFound() error {
	return cmderr.New(cmderr.NotFound, "document_not_found", cmderr.T("Документ не найден.", "No such document."))
}

// errOverLimit ends the read of an upload that goes past MaxSize.
var errOverLimit = errors.New("document: over the size limit")

type limitReader struct {
	r io.Reader
	n int64 // bytes still allowed
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errOverLimit
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errOverLimit
	}
	return n, err
}

// readRest reads the rest of an upload after its first bytes, refusing
// more than MaxSize in all (errOverLimit). It allocates the scan and
// nothing else: a pooled half-megabyte reader per upload, which it
// replaced, was dropped at every garbage collection under load and was a
// quarter of the bytes a submission load allocated.
func readRest(head []byte, r io.Reader) ([]byte, error) {
	var b bytes.Buffer
	// An upload from the HTTP server knows its size; sized once, the
	// buffer is the scan's only copy until it is sealed.
	grow := int64(32 << 10)
	if s, ok := r.(interface{ Size() int64 }); ok {
		// ReadFrom wants MinRead bytes free before every read, the one
		// that sees EOF included.
		grow = min(s.Size(), MaxSize) + bytes.MinRead
	}
	b.Grow(len(head) + int(grow))
	b.Write(head)
	_, err := b.ReadFrom(&limitReader{r: r, n: MaxSize - int64(len(head))})
	return b.Bytes(), err
}

// Scan is an upload as the API reports it: the recorded upload and the
// digest of the bytes its owner sent.
type Scan struct {
	schema.DocumentUploaded
	// ContentSHA256 is the lowercase hex SHA-256 of the scan's bytes as
	// uploaded: what sha256sum prints for the file, the same at every
	// upload of it. DocumentUploaded.SHA256 names the stored blob, which
	// holds the scan sealed with the owner's key, so it differs at every
	// upload even of one file; it stays internal (reads and erasure find
	// the blob by it). The digest is not recorded: computed from the
	// bytes, it needs no event of its own, holds for scans uploaded before
	// it was reported, and leaves no fingerprint of the scan in the event
	// store once the owner's key is erased.
	ContentSHA256 string
}

func scanOf(doc schema.DocumentUploaded, plain []byte) Scan {
	sum := sha256.Sum256(plain)
	return Scan{DocumentUploaded: doc, ContentSHA256: hex.EncodeToString(sum[:])}
}

// Upload stores a scan for the caller: an applicant, or an operator acting
// for one (the scan then belongs to that applicant).
func (s *Service) Upload(ctx context.Context, meta events.Metadata, kind string, r io.Reader) (Scan, error) {
	doc, plain, err := s.upload(ctx, meta, kind, r)
	if err != nil {
		return Scan{}, err
	}
	return scanOf(doc, plain), nil
}

func (s *Service) upload(ctx context.Context, meta events.Metadata, kind string, r io.Reader) (schema.DocumentUploaded, []byte, error) {
	owner, err := uploader(meta)
	if err != nil {
		return schema.DocumentUploaded{}, nil, err
	}
	kind = strings.TrimSpace(kind)
	if !slices.Contains(schema.DocumentKinds, kind) {
		var f cmderr.Fields
		list := strings.Join(schema.DocumentKinds, ", ")
		f.Add("/kind", "not_allowed", cmderr.T("Укажите вид документа: "+list+".", "Give the document kind: "+list+"."))
		return schema.DocumentUploaded{}, nil, f.Err()
	}
	// The whole scan (at most MaxSize) is read before it is checked and
	// sealed: sealing is one AES-GCM message, authenticated as a whole, and
	// the HTTP server holds the request body in memory anyway. Only the
	// first bytes are read before the type is known, so a file of the
	// wrong type is refused without reading the rest.
	var head [SniffLen]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return schema.DocumentUploaded{}, nil, fmt.Errorf("document: read upload: %w", err)
	}
	if n == 0 {
		// Not a file of the wrong type: no file at all (a browser that
		// lost it, a script that sent the name only).
		return schema.DocumentUploaded{}, nil, cmderr.New(cmderr.Validation, "empty_file", cmderr.T(
			"Файл пустой. Выберите файл скана ещё раз.", "The file is empty. Choose the scan's file again."))
	}
	contentType, ok := Sniff(head[:n])
	if !ok {
		return schema.DocumentUploaded{}, nil, errUnsupported()
	}
	plain, err := readRest(head[:n], r)
	if errors.Is(err, errOverLimit) {
		return schema.DocumentUploaded{}, nil, TooLargeError()
	}
	if err != nil {
		return schema.DocumentUploaded{}, nil, fmt.Errorf("document: read upload: %w", err)
	}
	switch contentType {
	case TypePNG, TypeJPEG:
		// The dimensions sit in the header window; CheckImage judges the
		// whole file when it is shorter.
		if err := CheckImage(plain[:min(len(plain), imageHeaderWindow)]); err != nil {
			return schema.DocumentUploaded{}, nil, err
		}
	case TypePDF:
		var guard PDFGuard
		if _, err := guard.Write(plain); err != nil {
			var bomb *bombError
			if errors.As(err, &bomb) {
				return schema.DocumentUploaded{}, nil, bomb.refusal
			}
			return schema.DocumentUploaded{}, nil, fmt.Errorf("document: check PDF: %w", err)
		}
	}
	// After the header checks, which name the more telling fault.
	if err := CheckComplete(contentType, plain); err != nil {
		return schema.DocumentUploaded{}, nil, err
	}
	sealed, err := s.keys.SealBytes(ctx, owner, scanContext, plain)
	if errors.Is(err, piicrypt.ErrErased) {
		return schema.DocumentUploaded{}, nil, application.ApplicantErased()
	}
	if err != nil {
		return schema.DocumentUploaded{}, nil, fmt.Errorf("document: seal scan: %w", err)
	}
	info, err := s.blobs.PutBlob(ctx, bytes.NewReader(sealed), contentType)
	if err != nil {
		return schema.DocumentUploaded{}, nil, fmt.Errorf("document: store blob: %w", err)
	}
	// SHA256 names the blob (sealed, so unique per upload and never shared
	// between owners); Size is what the owner uploaded.
	doc := schema.DocumentUploaded{
		DocumentID: uuid.NewString(), OwnerID: owner, Kind: kind,
		SHA256: info.SHA256, Size: int64(len(plain)), ContentType: contentType, UploadedAt: s.now().UTC(),
	}
	typ, v, data, err := schema.Encode(doc)
	if err != nil {
		return schema.DocumentUploaded{}, nil, err
	}
	meta.At = doc.UploadedAt
	if _, err := s.store.Append(ctx, schema.DocumentStream(doc.DocumentID), eventstore.NoStream, meta,
		eventstore.NewEvent{Type: typ, SchemaVersion: v, Data: data}); err != nil {
		// The caller never learns the document's id, so nothing can
		// refer to the scan, even if the append landed after all (a
		// timeout): the blob goes, or an erasure of its owner could miss
		// it.
		s.dropBlob(ctx, info.SHA256)
		return schema.DocumentUploaded{}, nil, fmt.Errorf("document: record upload: %w", err)
	}
	// An erasure of the owner may have run meanwhile: it destroys the key
	// first and then looks for the owner's uploads in the event store, so
	// one recorded too late for it to see finds the key gone here (read
	// from the vault: another node's erasure counts too) and goes itself.
	// One vault read per upload (about 10 µs on SQLite, a round trip on
	// MongoDB) against the fsyncs of the scan's file.
	erased, err := s.keys.ErasedNow(ctx, owner)
	if err != nil {
		s.dropBlob(ctx, info.SHA256)
		return schema.DocumentUploaded{}, nil, fmt.Errorf("document: check the owner's key: %w", err)
	}
	if erased {
		if err := s.blobs.DeleteBlob(ctx, info.SHA256); err != nil {
			return schema.DocumentUploaded{}, nil, fmt.Errorf("document: delete the scan of an erased owner: %w", err)
		}
		return schema.DocumentUploaded{}, nil, application.ApplicantErased()
	}
	if s.known != nil {
		s.known.Add(doc.DocumentID, detached(doc))
	}
	if s.digests != nil {
		s.digests.Add(doc.DocumentID, scanOf(doc, plain).ContentSHA256)
	}
	s.log.InfoContext(ctx, "document uploaded", "document", doc.DocumentID, "kind", kind, "size", info.Size, "contentType", contentType)
	return doc, plain, nil
}

// dropBlob deletes the blob of an upload that failed after storing it; a
// failure to is only logged, the upload's own error being the answer.
func (s *Service) dropBlob(ctx context.Context, sum string) {
	if err := s.blobs.DeleteBlob(context.WithoutCancel(ctx), sum); err != nil {
		s.log.WarnContext(ctx, "document: the blob of a failed upload stays", "blob", sum, "err", err)
	}
}

// detached copies the strings of an upload made from a request: the HTTP
// server may reuse the memory behind the caller's id and the form fields
// once the request is answered, and a remembered upload outlives it (the
// event store's copy is safe: it went through JSON).
func detached(doc schema.DocumentUploaded) schema.DocumentUploaded {
	doc.DocumentID = strings.Clone(doc.DocumentID)
	doc.OwnerID = strings.Clone(doc.OwnerID)
	doc.Kind = strings.Clone(doc.Kind)
	doc.SHA256 = strings.Clone(doc.SHA256)
	doc.ContentType = strings.Clone(doc.ContentType)
	return doc
}

func uploader(meta events.Metadata) (string, error) {
	switch {
	case meta.Actor.ID == "":
		return "", cmderr.New(cmderr.Unauthenticated, "unauthenticated", cmderr.T("Войдите в систему.", "Sign in first."))
	case meta.Actor.Role == events.RoleApplicant:
		return meta.Actor.ID, nil
	case meta.Actor.Role == events.RoleOperator && meta.OnBehalfOf != "":
		return meta.OnBehalfOf, nil
	case meta.Actor.Role == events.RoleOperator:
		return "", cmderr.New(cmderr.Forbidden, "on_behalf_required", cmderr.T(
			"Оператор МФЦ загружает документы только от имени заявителя: укажите заявителя.",
			"An MFC operator uploads documents only on behalf of an applicant: name the applicant."))
	}
	return "", cmderr.New(cmderr.Forbidden, "wrong_role", cmderr.T(
		"Загружать документы может только заявитель или оператор МФЦ от его имени.",
		"Only the applicant, or an MFC operator on their behalf, may upload documents."))
}

// UnattachedRetention is how long a scan that no application refers to
// is kept (command/sweeper discards it then): long enough to finish a
// form another week, short enough that a passport uploaded and given up
// on is not kept for nothing.
const UnattachedRetention = 30 * 24 * time.Hour

// cacheAge bounds the uploads Lookup answers from memory: only those
// younger than the sweeper ever touches, so that a scan another node
// marked for deletion is never taken from a node's memory.
const cacheAge = UnattachedRetention - 24*time.Hour

// Lookup returns the record of an upload; ok is false for an unknown id
// and for a scan marked for deletion or deleted (command/sweeper).
func (s *Service) Lookup(ctx context.Context, id string) (schema.DocumentUploaded, bool, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return schema.DocumentUploaded{}, false, nil
	}
	if s.known != nil {
		if doc, ok := s.known.Get(u.String()); ok && s.now().Sub(doc.UploadedAt) < cacheAge {
			return doc, true, nil
		}
	}
	// An upload's stream is its upload and, for a scan nobody attached,
	// the sweeper's mark and what became of it: a handful of events.
	recs, err := s.store.LoadFrom(ctx, schema.DocumentStream(u.String()), 0, 16)
	if err != nil {
		return schema.DocumentUploaded{}, false, fmt.Errorf("document: load %s: %w", id, err)
	}
	if len(recs) == 0 {
		return schema.DocumentUploaded{}, false, nil
	}
	e, err := schema.Decode(recs[0].Envelope.Type, recs[0].Envelope.SchemaVersion, recs[0].Data)
	if err != nil {
		return schema.DocumentUploaded{}, false, fmt.Errorf("document: %s: %w", id, err)
	}
	doc, ok := e.(schema.DocumentUploaded)
	if !ok {
		return schema.DocumentUploaded{}, false, nil
	}
	gone := false
	for _, r := range recs[1:] {
		switch r.Envelope.Type {
		case schema.TypeDocumentDiscarding, schema.TypeDocumentDiscarded:
			gone = true
		case schema.TypeDocumentKept:
			gone = false
		}
	}
	if gone {
		return schema.DocumentUploaded{}, false, nil
	}
	if s.known != nil {
		s.known.Add(u.String(), doc)
	}
	return doc, true, nil
}

// MayRead reports whether the caller may read an upload: its owner (or an
// operator acting for the owner), a reviewer or an auditor.
func MayRead(meta events.Metadata, doc schema.DocumentUploaded) bool {
	switch meta.Actor.Role {
	case events.RoleReviewer, events.RoleAuditor:
		return true
	case events.RoleApplicant:
		return meta.Actor.ID == doc.OwnerID
	case events.RoleOperator:
		return meta.OnBehalfOf != "" && meta.OnBehalfOf == doc.OwnerID
	}
	return false
}

// Open returns a scan's bytes for a caller allowed to read them; the caller
// closes the reader.
func (s *Service) Open(ctx context.Context, meta events.Metadata, id string) (io.ReadCloser, Scan, error) {
	rc, doc, plain, err := s.open(ctx, meta, id)
	if err != nil {
		return nil, Scan{DocumentUploaded: doc}, err
	}
	return rc, scanOf(doc, plain), nil
}

func (s *Service) open(ctx context.Context, meta events.Metadata, id string) (io.ReadCloser, schema.DocumentUploaded, []byte, error) {
	if meta.Actor.ID == "" {
		return nil, schema.DocumentUploaded{}, nil, cmderr.New(cmderr.Unauthenticated, "unauthenticated", cmderr.T("Войдите в систему.", "Sign in first."))
	}
	doc, ok, err := s.Lookup(ctx, id)
	if err != nil {
		return nil, doc, nil, err
	}
	if !ok {
		return nil, doc, nil, errNotFound()
	}
	if !MayRead(meta, doc) {
		if meta.Actor.Role == events.RoleApplicant || meta.Actor.Role == events.RoleOperator {
			// Someone else's scan is one this caller cannot see: the
			// answer does not tell it exists.
			return nil, doc, nil, errNotFound()
		}
		return nil, doc, nil, cmderr.New(cmderr.Forbidden, "wrong_role", cmderr.T(
			"Этот документ может читать только его владелец, специалист фонда или аудитор.",
			"Only the document's owner, a reviewer or an auditor may read it."))
	}
	if staff := meta.Actor.Role != events.RoleApplicant && meta.Actor.Role != events.RoleOperator; staff && s.attached != nil {
		ok, err := s.attached(ctx, doc.DocumentID)
		if err != nil {
			return nil, doc, nil, fmt.Errorf("document: is %s in an application: %w", doc.DocumentID, err)
		}
		if !ok {
			return nil, doc, nil, cmderr.New(cmderr.NotFound, "document_not_in_application", cmderr.T(
				"Скан не приложен ни к одному заявлению: сотрудники видят сканы только в заявлениях.",
				"The scan is attached to no application: staff see scans only within applications."))
		}
	}
	plain, err := s.plain(ctx, doc)
	if err != nil {
		return nil, doc, nil, err
	}
	return io.NopCloser(bytes.NewReader(plain)), doc, plain, nil
}

// plain reads a scan's bytes as uploaded: its blob, opened with its
// owner's key.
func (s *Service) plain(ctx context.Context, doc schema.DocumentUploaded) ([]byte, error) {
	if erased, err := s.keys.Erased(ctx, doc.OwnerID); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	} else if erased {
		return nil, ErasedError()
	}
	rc, _, err := s.blobs.OpenBlob(ctx, doc.SHA256)
	if errors.Is(err, readstore.ErrNotFound) {
		s.log.ErrorContext(ctx, "document blob missing", "document", doc.DocumentID, "sha256", doc.SHA256)
		return nil, errNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("document: open blob %s: %w", doc.SHA256, err)
	}
	defer rc.Close()
	sealed, err := io.ReadAll(io.LimitReader(rc, 2*MaxSize))
	if err != nil {
		return nil, fmt.Errorf("document: read blob %s: %w", doc.SHA256, err)
	}
	plain, err := s.keys.OpenBytes(ctx, doc.OwnerID, scanContext, sealed)
	if errors.Is(err, piicrypt.ErrErased) {
		return nil, ErasedError()
	}
	if err != nil {
		return nil, fmt.Errorf("document: open scan %s: %w", doc.DocumentID, err)
	}
	return plain, nil
}

// ContentSHA256 is the hex SHA-256 of an upload's bytes as uploaded (what
// the upload answered as sha256), for a command that names it: it is
// stored nowhere, so the scan is read and hashed again. It checks no
// caller: the domain decides whose scans a command may name.
func (s *Service) ContentSHA256(ctx context.Context, doc schema.DocumentUploaded) (string, error) {
	if s.digests != nil {
		if sum, ok := s.digests.Get(doc.DocumentID); ok {
			return sum, nil
		}
	}
	plain, err := s.plain(ctx, doc)
	if err != nil {
		return "", err
	}
	sum := scanOf(doc, plain).ContentSHA256
	if s.digests != nil {
		s.digests.Add(doc.DocumentID, sum)
	}
	return sum, nil
}

// ErasedError is the refusal to serve a scan whose owner's personal data
// were erased.
func ErasedError() error {
	return cmderr.New(cmderr.NotFound, "document_erased", cmderr.T(
		"Скан удалён вместе с персональными данными заявителя.",
		"The scan was erased together with the applicant's personal data."))
}
