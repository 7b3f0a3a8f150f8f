package eventlog

import (
	"os"
	"syscall"
)

// fdatasync skips the inode metadata flush that fsync does; the file size
// still reaches disk because it is data-relevant metadata.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
