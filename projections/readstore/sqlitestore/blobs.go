package sqlitestore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/internal/storeutil"
)

// DefaultContentType is stored for blobs put without a content type.
const DefaultContentType = "application/octet-stream"

// tmpMaxAge is how old an upload in blobs/tmp must be before Open removes it:
// old enough that no live PutBlob can still own it.
const tmpMaxAge = time.Hour

func (s *Store) blobPath(sum string) string {
	return filepath.Join(s.blobs, sum[:2], sum)
}

// PutBlob streams r to a temporary file while hashing it, makes the file
// durable, and only then publishes it under its hash, so a crash never leaves
// a partial blob under a valid name. The metadata row is written after the
// file: a file without a row is invisible and the next put of the same bytes
// adopts it.
func (s *Store) PutBlob(ctx context.Context, r io.Reader, contentType string) (readstore.BlobInfo, error) {
	if contentType == "" {
		contentType = DefaultContentType
	}
	f, err := os.CreateTemp(filepath.Join(s.blobs, blobTmpDir), "put-*")
	if err != nil {
		return readstore.BlobInfo{}, fmt.Errorf("sqlitestore: put blob: %w", err)
	}
	tmp := f.Name()
	published := false
	defer func() {
		// Once renamed there is nothing to remove, and an unlink of a
		// missing name still costs a syscall per upload.
		if !published {
			_ = os.Remove(tmp)
		}
	}()

	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return readstore.BlobInfo{}, fmt.Errorf("sqlitestore: put blob: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))

	mu := s.blobLock(sum)
	mu.Lock()
	defer mu.Unlock()

	final := s.blobPath(sum)
	if _, err := os.Stat(final); errors.Is(err, fs.ErrNotExist) {
		if err := s.publish(tmp, final, &published); err != nil {
			return readstore.BlobInfo{}, fmt.Errorf("sqlitestore: put blob %s: %w", sum, err)
		}
	} else if err != nil {
		return readstore.BlobInfo{}, fmt.Errorf("sqlitestore: put blob %s: %w", sum, err)
	} else if err := syncDir(filepath.Dir(final)); err != nil {
		// The file may be one a failed put left: renamed, but its name
		// not yet durable. It is adopted only once it is.
		return readstore.BlobInfo{}, fmt.Errorf("sqlitestore: put blob %s: %w", sum, err)
	}

	info := readstore.BlobInfo{SHA256: sum}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO readstore_blobs (sha256, size, content_type, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`, sum, size, contentType, time.Now().UnixNano()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT size, content_type FROM readstore_blobs WHERE sha256 = ?`, sum).
			Scan(&info.Size, &info.ContentType)
	})
	if err != nil {
		return readstore.BlobInfo{}, fmt.Errorf("sqlitestore: put blob %s: %w", sum, err)
	}
	return info, nil
}

// publish renames a synced temp file into place and syncs the directory, so
// that the new name survives a crash too. It sets *renamed once tmp is gone.
func (s *Store) publish(tmp, final string, renamed *bool) error {
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	*renamed = true
	return syncDir(dir)
}

// syncDir makes the names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// OpenBlob opens a blob file.
func (s *Store) OpenBlob(ctx context.Context, sum string) (io.ReadCloser, readstore.BlobInfo, error) {
	if !storeutil.CheckSHA256(sum) {
		return nil, readstore.BlobInfo{}, fmt.Errorf("sqlitestore: blob %q: %w", sum, readstore.ErrNotFound)
	}
	info := readstore.BlobInfo{SHA256: sum}
	err := s.r.QueryRowContext(ctx, `SELECT size, content_type FROM readstore_blobs WHERE sha256 = ?`, sum).
		Scan(&info.Size, &info.ContentType)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, readstore.BlobInfo{}, fmt.Errorf("sqlitestore: blob %s: %w", sum, readstore.ErrNotFound)
	}
	if err != nil {
		return nil, readstore.BlobInfo{}, fmt.Errorf("sqlitestore: blob %s: %w", sum, err)
	}
	f, err := os.Open(s.blobPath(sum))
	if errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("blob row without file", "sha256", sum)
		return nil, readstore.BlobInfo{}, fmt.Errorf("sqlitestore: blob %s file: %w", sum, readstore.ErrNotFound)
	}
	if err != nil {
		return nil, readstore.BlobInfo{}, fmt.Errorf("sqlitestore: blob %s: %w", sum, err)
	}
	return f, info, nil
}

// DeleteBlob removes the row first and then the file: a crash in between
// leaves an invisible file, which the next put of the same bytes adopts.
func (s *Store) DeleteBlob(ctx context.Context, sum string) error {
	if !storeutil.CheckSHA256(sum) {
		return fmt.Errorf("sqlitestore: delete blob: %q is not a lowercase hex SHA-256", sum)
	}
	mu := s.blobLock(sum)
	mu.Lock()
	defer mu.Unlock()
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM readstore_blobs WHERE sha256 = ?`, sum)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete blob %s: %w", sum, err)
	}
	if err := os.Remove(s.blobPath(sum)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlitestore: delete blob %s: %w", sum, err)
	}
	return nil
}

// cleanTmp removes uploads that a crashed process left behind.
func (s *Store) cleanTmp() {
	dir := filepath.Join(s.blobs, blobTmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		s.log.Warn("cannot list blob temp dir", "dir", dir, "err", err)
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < tmpMaxAge {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			s.log.Warn("cannot remove stale blob upload", "file", e.Name(), "err", err)
		}
	}
}

// ctxReader stops a long upload when its context ends.
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
