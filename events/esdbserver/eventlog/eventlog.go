// Package eventlog is the durable storage engine under the embedded
// EventStoreDB-protocol server: one append-only file of checksummed records
// with group commit.
//
// Why our own file and not Pebble or bbolt: the event store's access pattern
// is a single totally ordered log that is only ever appended to and read
// sequentially ($all catch-up) or at known offsets (stream reads). A record's
// byte offset is exactly what EventStoreDB calls its commit/prepare position,
// so the file is both the log and the $all index; the per-stream index is
// small and rebuilt in memory at start-up by one sequential scan. An LSM
// (Pebble) would write every event twice (WAL + memtable flush) and compact
// behind our back; bbolt fsyncs a B+tree page set per transaction and allows
// one writer, which caps durable appends near the disk's fsync rate. With a
// plain log, one fdatasync covers every append that queued while the previous
// one ran (group commit), which is the only way past the disk's ~4k fsyncs/s.
//
// Format: a 16-byte file header, then frames
//
//	u32 body length | u32 CRC-32C of body | body
//
// The body's first byte carries flags; FlagBatchEnd marks the last record of
// one append. Recovery scans the file, stops at the first frame that is short
// or fails its checksum, and then truncates back to the end of the last whole
// batch, so a multi-event append is all or nothing even if the process died
// in the middle of writing it. Acknowledged appends are never lost: an append
// returns only after the fdatasync that covered its bytes.
package eventlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// FlagBatchEnd is set by Enqueue in the first body byte of the last record of
// an append. Callers own the other bits of that byte.
const FlagBatchEnd byte = 1

const (
	fileName   = "events.log"
	headerSize = 16
	frameHead  = 8
	// MaxRecordSize bounds one record; EventStoreDB's own limit is 16 MiB.
	MaxRecordSize = 16 << 20
)

var (
	magic      = [8]byte{'O', 'M', 'S', 'E', 'L', 'O', 'G', '1'}
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
	errClosed  = errors.New("eventlog: closed")
	ErrCorrupt = errors.New("eventlog: corrupt record")
)

// Options configure a Log.
type Options struct {
	Dir string
	// NoSync skips fdatasync. Only for benchmarks that measure the protocol
	// rather than the disk; never for a running service.
	NoSync bool
	// SyncDelay is added to every write, as a slow disk would add it.
	// Only for tests of what clients see while an append waits to become
	// durable (readers do not see it yet, expected-revision checks do).
	SyncDelay time.Duration
	Logger    *slog.Logger
}

// Log is an append-only file of records. Appends from many goroutines are
// batched into one write and one fdatasync.
type Log struct {
	f         *os.File
	noSync    bool
	syncDelay time.Duration
	log       *slog.Logger

	mu      sync.Mutex
	pending *batch // accumulating, not yet handed to the writer
	end     uint64 // logical end including pending bytes
	closed  bool
	failed  error

	durable atomic.Uint64 // end of bytes known to be on disk
	kick    chan struct{}
	stopped chan struct{}

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced whenever durable advances

	syncs atomic.Uint64
}

type batch struct {
	buf  []byte
	end  uint64
	done chan struct{}
	err  error
}

// Recovered reports what Open found.
type Recovered struct {
	End          uint64 // end of valid data
	TruncatedBy  int64  // bytes cut from a torn or corrupt tail
	ScannedBytes uint64
}

// Open opens or creates the log in dir, truncating a torn tail.
func Open(opts Options) (*Log, Recovered, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, Recovered{}, fmt.Errorf("eventlog: create dir: %w", err)
	}
	path := filepath.Join(opts.Dir, fileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, Recovered{}, fmt.Errorf("eventlog: open: %w", err)
	}
	// Two writers on one log would interleave frames and corrupt it.
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, Recovered{}, fmt.Errorf("eventlog: %s is in use by another process: %w", path, err)
	}
	rec, err := recoverFile(f)
	if err != nil {
		f.Close()
		return nil, Recovered{}, err
	}
	if rec.TruncatedBy > 0 {
		opts.Logger.Warn("eventlog: truncated torn tail", "bytes", rec.TruncatedBy, "end", rec.End)
	}
	l := &Log{
		f:         f,
		noSync:    opts.NoSync,
		syncDelay: opts.SyncDelay,
		log:       opts.Logger,
		end:       rec.End,
		kick:      make(chan struct{}, 1),
		stopped:   make(chan struct{}),
		notify:    make(chan struct{}),
	}
	l.durable.Store(rec.End)
	l.pending = &batch{done: make(chan struct{})}
	go l.writer()
	return l, rec, nil
}

func recoverFile(f *os.File) (Recovered, error) {
	st, err := f.Stat()
	if err != nil {
		return Recovered{}, fmt.Errorf("eventlog: stat: %w", err)
	}
	size := st.Size()
	if size < headerSize {
		// New file, or a header that never made it to disk.
		var h [headerSize]byte
		copy(h[:], magic[:])
		if err := f.Truncate(0); err != nil {
			return Recovered{}, fmt.Errorf("eventlog: truncate: %w", err)
		}
		if _, err := f.WriteAt(h[:], 0); err != nil {
			return Recovered{}, fmt.Errorf("eventlog: write header: %w", err)
		}
		if err := f.Sync(); err != nil {
			return Recovered{}, fmt.Errorf("eventlog: sync header: %w", err)
		}
		return Recovered{End: headerSize, TruncatedBy: size}, nil
	}
	var h [headerSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return Recovered{}, fmt.Errorf("eventlog: read header: %w", err)
	}
	if [8]byte(h[:8]) != magic {
		return Recovered{}, fmt.Errorf("eventlog: %s is not an event log (bad magic)", f.Name())
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, headerSize, size-headerSize), 1<<20)
	pos := uint64(headerSize)
	lastBatchEnd := pos
	var head [frameHead]byte
	body := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			break
		}
		n := binary.LittleEndian.Uint32(head[0:4])
		sum := binary.LittleEndian.Uint32(head[4:8])
		if n == 0 || n > MaxRecordSize {
			break
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			break
		}
		if crc32.Checksum(body, crcTable) != sum {
			break
		}
		pos += frameHead + uint64(n)
		if body[0]&FlagBatchEnd != 0 {
			lastBatchEnd = pos
		}
	}
	rec := Recovered{End: lastBatchEnd, ScannedBytes: pos, TruncatedBy: size - int64(lastBatchEnd)}
	if rec.TruncatedBy > 0 {
		if err := f.Truncate(int64(lastBatchEnd)); err != nil {
			return Recovered{}, fmt.Errorf("eventlog: truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			return Recovered{}, fmt.Errorf("eventlog: sync after truncate: %w", err)
		}
	}
	return rec, nil
}

// Pending is an enqueued append; Wait blocks until it is durable.
type Pending struct{ b *batch }

// Wait returns once the bytes are on disk, or the error that prevented it.
func (p Pending) Wait() error {
	<-p.b.done
	return p.b.err
}

// Enqueue frames bodies as one batch, assigns their positions and hands them
// to the group-commit writer. The caller must serialise Enqueue with whatever
// decides the records' content (the stream index), because positions are
// assigned here in call order. The returned positions are frame offsets.
func (l *Log) Enqueue(bodies [][]byte) ([]uint64, Pending, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, Pending{}, errClosed
	}
	if l.failed != nil {
		return nil, Pending{}, l.failed
	}
	// Every size is checked before any record is framed: a refusal after
	// the first records had gone into the batch left them to be written
	// and become durable although the caller was told the append failed.
	for _, body := range bodies {
		if len(body) == 0 || len(body) > MaxRecordSize {
			return nil, Pending{}, fmt.Errorf("eventlog: record of %d bytes is out of range", len(body))
		}
	}
	b := l.pending
	positions := make([]uint64, len(bodies))
	for i, body := range bodies {
		if i == len(bodies)-1 {
			body[0] |= FlagBatchEnd
		} else {
			body[0] &^= FlagBatchEnd
		}
		positions[i] = l.end
		var head [frameHead]byte
		putFrameHead(head[:], body)
		b.buf = append(b.buf, head[:]...)
		b.buf = append(b.buf, body...)
		l.end += frameHead + uint64(len(body))
	}
	b.end = l.end
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return positions, Pending{b}, nil
}

// maxSpareBuffer bounds the batch buffer the writer keeps for reuse.
const maxSpareBuffer = 4 << 20

func (l *Log) writer() {
	defer close(l.stopped)
	// spare is the buffer of the batch written last, kept for the batch
	// after next: a fresh buffer per fsync (tens of kilobytes, thousands of
	// times a second under load) was most of what the log allocated.
	var spare []byte
	for range l.kick {
		for {
			l.mu.Lock()
			b := l.pending
			if len(b.buf) == 0 {
				closed := l.closed
				l.mu.Unlock()
				if closed {
					return
				}
				break
			}
			if spare == nil {
				spare = make([]byte, 0, cap(b.buf))
			}
			l.pending = &batch{done: make(chan struct{}), buf: spare}
			spare = nil
			start := b.end - uint64(len(b.buf))
			failed := l.failed
			l.mu.Unlock()

			err := failed
			if err == nil {
				// Once a write failed, later batches must not land after
				// the gap it may have left.
				err = l.write(start, b.buf)
			}
			if err != nil {
				l.mu.Lock()
				if l.failed == nil {
					l.failed = fmt.Errorf("eventlog: the log is failed and refuses writes: %w", err)
				}
				l.mu.Unlock()
				l.log.Error("eventlog: write failed; refusing further appends", "err", err)
				b.err = err
				close(b.done)
				continue
			}
			l.durable.Store(b.end)
			// Waiters keep b for done and err only; its bytes are on disk.
			// A buffer grown by a rare huge batch is not kept.
			if cap(b.buf) <= maxSpareBuffer {
				spare = b.buf[:0]
			}
			b.buf = nil
			close(b.done)
			l.signal()
		}
	}
}

func (l *Log) write(at uint64, buf []byte) error {
	if _, err := l.f.WriteAt(buf, int64(at)); err != nil {
		return fmt.Errorf("eventlog: write: %w", err)
	}
	if l.syncDelay > 0 {
		time.Sleep(l.syncDelay)
	}
	if l.noSync {
		return nil
	}
	if err := fdatasync(l.f); err != nil {
		return fmt.Errorf("eventlog: fdatasync: %w", err)
	}
	l.syncs.Add(1)
	return nil
}

func (l *Log) signal() {
	l.notifyMu.Lock()
	close(l.notify)
	l.notify = make(chan struct{})
	l.notifyMu.Unlock()
}

// Changed returns a channel that is closed the next time the durable end
// advances. Subscriptions wait on it when they have caught up.
func (l *Log) Changed() <-chan struct{} {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	return l.notify
}

// Durable is the end offset of the data known to be on disk. Readers never
// look past it, so nothing unacknowledged is ever observed.
func (l *Log) Durable() uint64 { return l.durable.Load() }

// Syncs counts fdatasync calls, to measure how well appends share them.
func (l *Log) Syncs() uint64 { return l.syncs.Load() }

// FirstPosition is the position of the first record in any log.
func FirstPosition() uint64 { return headerSize }

// readGuess is how much ReadAt reads at once: the frame head and, for all
// but rare large events, the whole record, so that loading a stream costs
// one pread per event instead of two (a replay of 200 events spent a tenth
// of its time in the second one).
const readGuess = 4096

// ReadAt reads the record body at a frame offset below Durable. The body
// is returned in buf (grown if needed) so that callers reading many
// records reuse one buffer.
func (l *Log) ReadAt(pos uint64, buf []byte) ([]byte, uint64, error) {
	durable := l.Durable()
	if pos < headerSize || pos >= durable {
		return nil, 0, fmt.Errorf("eventlog: position %d out of range", pos)
	}
	// Never past Durable: what lies beyond may still be being written.
	got := min(uint64(readGuess), durable-pos)
	if got < frameHead {
		return nil, 0, fmt.Errorf("%w at %d: frame head past the durable end", ErrCorrupt, pos)
	}
	if uint64(cap(buf)) < got {
		buf = make([]byte, got)
	}
	buf = buf[:got]
	if _, err := l.f.ReadAt(buf, int64(pos)); err != nil {
		return nil, 0, fmt.Errorf("eventlog: read frame at %d: %w", pos, err)
	}
	n := binary.LittleEndian.Uint32(buf[0:4])
	sum := binary.LittleEndian.Uint32(buf[4:8])
	if n == 0 || n > MaxRecordSize {
		return nil, 0, fmt.Errorf("%w at %d", ErrCorrupt, pos)
	}
	total := frameHead + uint64(n)
	if total > durable-pos {
		return nil, 0, fmt.Errorf("%w at %d: record runs past the durable end", ErrCorrupt, pos)
	}
	if total > got {
		// A record larger than the first read: fetch the rest.
		if uint64(cap(buf)) < total {
			grown := make([]byte, total)
			copy(grown, buf)
			buf = grown
		}
		buf = buf[:total]
		if _, err := l.f.ReadAt(buf[got:], int64(pos+got)); err != nil {
			return nil, 0, fmt.Errorf("eventlog: read record at %d: %w", pos, err)
		}
	}
	// The body moves to the front so the buffer keeps its capacity for
	// the caller's next read.
	body := buf[:copy(buf, buf[frameHead:total])]
	if crc32.Checksum(body, crcTable) != sum {
		return nil, 0, fmt.Errorf("%w at %d: checksum mismatch", ErrCorrupt, pos)
	}
	return body, pos + total, nil
}

// Scanner reads records sequentially from a frame offset up to a limit.
type Scanner struct {
	r     *bufio.Reader
	pos   uint64
	limit uint64
	buf   []byte
	err   error
}

// maxScanBuffer is the read-ahead of a long scan (a catch-up or a
// rebuild): large reads, few system calls.
const maxScanBuffer = 256 << 10

// scanBuffer sizes a scan's read-ahead to what it will read: a live
// subscription scans the few kilobytes each group commit added, thousands
// of times a second under load, and a quarter-megabyte buffer for each
// was a third of all the bytes a submission load allocated.
func scanBuffer(n uint64) int {
	return int(max(min(n, maxScanBuffer), minScanBuffer))
}

// minScanBuffer is a page: smaller reads gain nothing.
const minScanBuffer = 4 << 10

// Scan returns a sequential reader of records in [from, limit). from must be
// a frame offset (or FirstPosition); limit is usually Durable().
func (l *Log) Scan(from, limit uint64) *Scanner {
	if from < headerSize {
		from = headerSize
	}
	if limit < from {
		limit = from
	}
	return &Scanner{
		r:     bufio.NewReaderSize(io.NewSectionReader(l.f, int64(from), int64(limit-from)), scanBuffer(limit-from)),
		pos:   from,
		limit: limit,
	}
}

// Next returns the next record's position and body; the body is valid until
// the following call. ok is false at the limit or on error (see Err).
func (s *Scanner) Next() (pos uint64, body []byte, ok bool) {
	if s.err != nil || s.pos >= s.limit {
		return 0, nil, false
	}
	var head [frameHead]byte
	if _, err := io.ReadFull(s.r, head[:]); err != nil {
		s.err = fmt.Errorf("eventlog: scan at %d: %w", s.pos, err)
		return 0, nil, false
	}
	n := binary.LittleEndian.Uint32(head[0:4])
	if n == 0 || n > MaxRecordSize {
		s.err = fmt.Errorf("%w at %d", ErrCorrupt, s.pos)
		return 0, nil, false
	}
	if cap(s.buf) < int(n) {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		s.err = fmt.Errorf("eventlog: scan at %d: %w", s.pos, err)
		return 0, nil, false
	}
	if crc32.Checksum(s.buf, crcTable) != binary.LittleEndian.Uint32(head[4:8]) {
		s.err = fmt.Errorf("%w at %d: checksum mismatch", ErrCorrupt, s.pos)
		return 0, nil, false
	}
	pos = s.pos
	s.pos += frameHead + uint64(n)
	return pos, s.buf, true
}

// Pos is the offset of the next frame.
func (s *Scanner) Pos() uint64 { return s.pos }

// Err reports a read error other than reaching the limit.
func (s *Scanner) Err() error { return s.err }

// Close stops the writer after flushing what is queued and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.kick)
	<-l.stopped
	return l.f.Close()
}

func putFrameHead(head, body []byte) {
	binary.LittleEndian.PutUint32(head[0:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(head[4:8], crc32.Checksum(body, crcTable))
}
