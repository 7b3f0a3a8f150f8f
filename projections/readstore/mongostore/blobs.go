package mongostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/gridfs"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/internal/storeutil"
)

const (
	// BucketName is the GridFS bucket that holds the blobs.
	BucketName = "scans"
	// DefaultContentType is stored for blobs put without a content type.
	DefaultContentType = "application/octet-stream"

	// Uploads are streamed under a temporary name, since the hash is known
	// only at the end, and renamed afterwards. Names with this prefix are
	// never SHA-256 hex, so OpenBlob cannot see a partial upload.
	uploadPrefix = "upload/"
	// uploadMaxAge is how old a temporary upload must be before Open
	// removes it as left behind by a crash.
	uploadMaxAge = time.Hour
)

type blobFile struct {
	ID       any    `bson:"_id"`
	Length   int64  `bson:"length"`
	Filename string `bson:"filename"`
	Metadata struct {
		ContentType string `bson:"contentType"`
	} `bson:"metadata"`
}

// bucket returns a fresh GridFS bucket handle. Handles are not shared: the
// driver's Bucket keeps per-handle state (deadlines, first-write index
// check) without locking.
func (s *Store) bucket() (*gridfs.Bucket, error) {
	b, err := gridfs.NewBucket(s.db, options.GridFSBucket().SetName(BucketName))
	if err != nil {
		return nil, fmt.Errorf("mongostore: gridfs bucket: %w", err)
	}
	return b, nil
}

func (s *Store) filesColl() *mongo.Collection { return s.db.Collection(BucketName + ".files") }

// findBlob returns the newest file stored under a hash.
func (s *Store) findBlob(ctx context.Context, sum string) (blobFile, error) {
	var f blobFile
	err := s.filesColl().FindOne(ctx, bson.D{{Key: "filename", Value: sum}},
		options.FindOne().SetSort(bson.D{{Key: "uploadDate", Value: -1}})).Decode(&f)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return f, fmt.Errorf("mongostore: blob %s: %w", sum, readstore.ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("mongostore: blob %s: %w", sum, err)
	}
	return f, nil
}

func (f blobFile) info(sum string) readstore.BlobInfo {
	ct := f.Metadata.ContentType
	if ct == "" {
		ct = DefaultContentType
	}
	return readstore.BlobInfo{SHA256: sum, Size: f.Length, ContentType: ct}
}

// PutBlob streams r into GridFS under a temporary name while hashing it,
// then either renames the file to its hash or, if that hash is stored
// already, deletes the new copy. Two concurrent puts of the same bytes can
// both rename; OpenBlob then reads either (they are equal) and DeleteBlob
// removes both.
func (s *Store) PutBlob(ctx context.Context, r io.Reader, contentType string) (readstore.BlobInfo, error) {
	info, err := s.putBlob(ctx, r, contentType)
	return info, unavailable(err)
}

func (s *Store) putBlob(ctx context.Context, r io.Reader, contentType string) (readstore.BlobInfo, error) {
	if contentType == "" {
		contentType = DefaultContentType
	}
	b, err := s.bucket()
	if err != nil {
		return readstore.BlobInfo{}, err
	}
	id := primitive.NewObjectID()
	up, err := b.OpenUploadStreamWithID(id, uploadPrefix+id.Hex(),
		options.GridFSUpload().SetMetadata(bson.D{{Key: "contentType", Value: contentType}}))
	if err != nil {
		return readstore.BlobInfo{}, fmt.Errorf("mongostore: put blob: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = up.SetWriteDeadline(dl)
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(up, h), ctxReader{ctx, r})
	if err != nil {
		_ = up.Abort()
		return readstore.BlobInfo{}, fmt.Errorf("mongostore: put blob: %w", err)
	}
	if err := up.Close(); err != nil {
		return readstore.BlobInfo{}, fmt.Errorf("mongostore: put blob: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))

	existing, err := s.findBlob(ctx, sum)
	switch {
	case err == nil:
		if derr := b.DeleteContext(ctx, id); derr != nil {
			s.log.Warn("cannot remove duplicate upload", "sha256", sum, "err", derr)
		}
		return existing.info(sum), nil
	case !errors.Is(err, readstore.ErrNotFound):
		_ = b.DeleteContext(context.WithoutCancel(ctx), id)
		return readstore.BlobInfo{}, err
	}
	if err := b.RenameContext(ctx, id, sum); err != nil {
		_ = b.DeleteContext(context.WithoutCancel(ctx), id)
		return readstore.BlobInfo{}, fmt.Errorf("mongostore: put blob %s: %w", sum, err)
	}
	return readstore.BlobInfo{SHA256: sum, Size: size, ContentType: contentType}, nil
}

// OpenBlob opens the newest file stored under a hash.
func (s *Store) OpenBlob(ctx context.Context, sum string) (io.ReadCloser, readstore.BlobInfo, error) {
	rc, info, err := s.openBlob(ctx, sum)
	return rc, info, unavailable(err)
}

func (s *Store) openBlob(ctx context.Context, sum string) (io.ReadCloser, readstore.BlobInfo, error) {
	if !storeutil.CheckSHA256(sum) {
		return nil, readstore.BlobInfo{}, fmt.Errorf("mongostore: blob %q: %w", sum, readstore.ErrNotFound)
	}
	f, err := s.findBlob(ctx, sum)
	if err != nil {
		return nil, readstore.BlobInfo{}, err
	}
	b, err := s.bucket()
	if err != nil {
		return nil, readstore.BlobInfo{}, err
	}
	ds, err := b.OpenDownloadStream(f.ID)
	if errors.Is(err, gridfs.ErrFileNotFound) {
		return nil, readstore.BlobInfo{}, fmt.Errorf("mongostore: blob %s: %w", sum, readstore.ErrNotFound)
	}
	if err != nil {
		return nil, readstore.BlobInfo{}, fmt.Errorf("mongostore: open blob %s: %w", sum, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = ds.SetReadDeadline(dl)
	}
	return ds, f.info(sum), nil
}

// DeleteBlob removes every file stored under a hash.
func (s *Store) DeleteBlob(ctx context.Context, sum string) error {
	if !storeutil.CheckSHA256(sum) {
		return fmt.Errorf("mongostore: delete blob: %q is not a lowercase hex SHA-256", sum)
	}
	return s.deleteFiles(ctx, bson.D{{Key: "filename", Value: sum}})
}

func (s *Store) deleteFiles(ctx context.Context, filter bson.D) error {
	cur, err := s.filesColl().Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("mongostore: find blobs: %w", err)
	}
	var files []blobFile
	if err := cur.All(ctx, &files); err != nil {
		return fmt.Errorf("mongostore: find blobs: %w", err)
	}
	if len(files) == 0 {
		return nil
	}
	b, err := s.bucket()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := b.DeleteContext(ctx, f.ID); err != nil && !errors.Is(err, gridfs.ErrFileNotFound) {
			return fmt.Errorf("mongostore: delete blob: %w", err)
		}
	}
	return nil
}

// cleanUploads removes temporary uploads left behind by a crash. It is best
// effort: a failure is logged and does not stop Open.
func (s *Store) cleanUploads(ctx context.Context) {
	cutoff := time.Now().Add(-uploadMaxAge)
	filter := bson.D{
		{Key: "filename", Value: bson.D{{Key: "$gte", Value: uploadPrefix}, {Key: "$lt", Value: storeutil.PrefixEnd(uploadPrefix)}}},
		{Key: "uploadDate", Value: bson.D{{Key: "$lt", Value: cutoff}}},
	}
	if err := s.deleteFiles(ctx, filter); err != nil {
		s.log.Warn("cannot clean up old blob uploads", "err", err)
	}
}

// ctxReader stops a long upload when its context ends; the GridFS upload
// stream itself only knows deadlines.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
