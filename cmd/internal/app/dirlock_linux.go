package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes the data dir for this process: two omsd on one data
// dir share its node id, so both hold the projection lease and take it
// from each other in turn. With the embedded event store its log's own
// lock refused the second; with an external one nothing did. The lock
// goes with the file's descriptor, so a kill -9 leaves none behind.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("app: data dir: %w", err)
	}
	path := filepath.Join(dir, "omsd.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("app: data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("каталог данных %s занят другим процессом omsd; the data dir %s is in use by another omsd: give each node its own OMS_DATA_DIR", dir, dir)
		}
		return nil, fmt.Errorf("app: data dir lock: %w", err)
	}
	return f, nil
}
