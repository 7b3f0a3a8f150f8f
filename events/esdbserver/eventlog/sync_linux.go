package eventlog

import (
	"os"
	"syscall"
)

// fdatasync skips the inode metadata flush that fsync does; the file size
// still reaches disk because it is data-relevant metadata.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// lockFile takes an exclusive advisory lock, released when the file is
// closed or the process dies (so a kill -9 leaves nothing to clean up).
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
