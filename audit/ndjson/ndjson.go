package ndjson

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/a1-go/a1/audit"
)

// Defaults and limits of the file sink.
const (
	DefaultMaxBytes      = 100 << 20 // rotate after 100 MiB
	DefaultKeep          = 10        // rotated files kept: path.1 … path.10
	MaxKeep              = 1000
	DefaultFsyncInterval = time.Second
	fileMode             = 0o600
)

// NewWriter returns an asynchronous sink writing one line per event to w
// (typically os.Stdout). Write errors are retried; w is not closed.
func NewWriter(w io.Writer, opts audit.AsyncOptions) *audit.Async {
	if opts.Name == "" {
		opts.Name = "stdout"
	}
	return audit.NewAsync(&writerSender{w: w}, opts)
}

type writerSender struct {
	w   io.Writer
	buf []byte
}

func (s *writerSender) Send(_ context.Context, batch []audit.Entry) error {
	s.buf = appendLines(s.buf[:0], batch)
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("ndjson: write: %w", err)
	}
	return nil
}

func appendLines(dst []byte, batch []audit.Entry) []byte {
	for _, e := range batch {
		dst = append(dst, e.Data...)
		dst = append(dst, '\n')
	}
	return dst
}

// FileOptions configures the file sink.
type FileOptions struct {
	Path string
	// MaxBytes rotates the file before a write would make it larger
	// (0: DefaultMaxBytes). Rotation renames path to path.1, path.1 to
	// path.2 … and deletes path.<Keep>.
	MaxBytes int64
	// Keep is the number of rotated files kept (0: DefaultKeep).
	Keep int
	// FsyncInterval is the longest time written lines stay unsynced
	// (0: DefaultFsyncInterval; negative: fsync after every batch).
	FsyncInterval time.Duration
}

// NewFile opens (appending) or creates the file and returns its sink.
func NewFile(fo FileOptions, opts audit.AsyncOptions) (*audit.Async, error) {
	if fo.Path == "" {
		return nil, errors.New("ndjson: file sink needs a path")
	}
	if fo.MaxBytes <= 0 {
		fo.MaxBytes = DefaultMaxBytes
	}
	if fo.Keep <= 0 {
		fo.Keep = DefaultKeep
	}
	if fo.Keep > MaxKeep {
		return nil, fmt.Errorf("ndjson: keep %d exceeds %d", fo.Keep, MaxKeep)
	}
	if fo.FsyncInterval == 0 {
		fo.FsyncInterval = DefaultFsyncInterval
	}
	if opts.Name == "" {
		opts.Name = "file"
	}
	fs := &fileSender{opts: fo, stop: make(chan struct{}), done: make(chan struct{})}
	if err := fs.open(); err != nil {
		return nil, err
	}
	if fo.FsyncInterval > 0 {
		go fs.syncLoop()
	} else {
		close(fs.done)
	}
	return audit.NewAsync(fs, opts), nil
}

type fileSender struct {
	opts FileOptions

	mu    sync.Mutex // guards f, size, dirty against syncLoop
	f     *os.File
	size  int64
	dirty bool
	buf   []byte

	stop, done chan struct{}
}

func (s *fileSender) open() error {
	f, err := os.OpenFile(s.opts.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, fileMode)
	if err != nil {
		return fmt.Errorf("ndjson: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("ndjson: stat: %w", err)
	}
	s.f, s.size = f, st.Size()
	return nil
}

func (s *fileSender) Send(_ context.Context, batch []audit.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	s.buf = appendLines(s.buf[:0], batch)
	if s.size > 0 && s.size+int64(len(s.buf)) > s.opts.MaxBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	before := s.size
	n, err := s.f.Write(s.buf)
	s.size += int64(n)
	if n > 0 {
		s.dirty = true
	}
	if err != nil {
		// The batch is retried whole: cut what this write added, so that
		// the file does not keep half a line glued to the retried batch
		// (truncating frees space, so it works on a full disk too). If
		// even that fails, the verifier reports the damaged line.
		if n > 0 && s.f.Truncate(before) == nil {
			s.size = before
		}
		return fmt.Errorf("ndjson: write: %w", err)
	}
	if s.opts.FsyncInterval < 0 {
		return s.syncLocked()
	}
	return nil
}

// rotate syncs and closes the current file and shifts the rotated names.
func (s *fileSender) rotate() error {
	if err := s.syncLocked(); err != nil {
		return err
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("ndjson: close: %w", err)
	}
	s.f = nil
	name := func(i int) string { return s.opts.Path + "." + strconv.Itoa(i) }
	if err := os.Remove(name(s.opts.Keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ndjson: rotate: %w", err)
	}
	for i := s.opts.Keep - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("ndjson: rotate: %w", err)
		}
	}
	if err := os.Rename(s.opts.Path, name(1)); err != nil {
		return fmt.Errorf("ndjson: rotate: %w", err)
	}
	return s.open()
}

func (s *fileSender) syncLocked() error {
	if s.f == nil || !s.dirty {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("ndjson: fsync: %w", err)
	}
	s.dirty = false
	return nil
}

func (s *fileSender) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(s.opts.FsyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			_ = s.syncLocked() // a failing disk shows up in the next Send
			s.mu.Unlock()
		}
	}
}

// Close is called by audit.Async after the last delivery.
func (s *fileSender) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.syncLocked()
	if cerr := s.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("ndjson: close: %w", cerr)
	}
	s.f = nil
	return err
}
