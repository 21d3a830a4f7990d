//go:build linux

package ndjson

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/a1-go/a1/audit"
)

// A write that stops part way (disk full; here the file size limit, which
// Go turns into EFBIG rather than a signal) is retried. The retry must not
// leave the half-written line, glued to the next one, and duplicates of the
// lines before it: the file would then fail verification although nobody
// tampered with it.
func TestFilePartialWriteIsRetriedCleanly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	c := &collect{}
	em, err := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{c}, GatewayID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionAllow})
	}
	batch := c.entries()
	fo := FileOptions{Path: path, MaxBytes: 1 << 20, Keep: 2, FsyncInterval: -1}
	s := &fileSender{opts: fo, stop: make(chan struct{}), done: make(chan struct{})}
	close(s.done)
	if err := s.open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), batch[:2]); err != nil {
		t.Fatal(err)
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip(err)
	}
	lim := old
	lim.Cur = uint64(s.size) + uint64(len(batch[2].Data)) + 10 // room for one line and a bit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skip(err)
	}
	err = s.Send(context.Background(), batch[2:])
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("no error past the file size limit")
	}
	if err := s.Send(context.Background(), batch[2:]); err != nil { // Async's retry
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, audit.VerifyOptions{RequireStart: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Events != 6 {
		t.Fatalf("file after a partial write and its retry:\n%s", rep)
	}
}

type collect struct{ recs []audit.Record }

func (c *collect) Submit(r audit.Record) bool { c.recs = append(c.recs, r); return true }
func (*collect) Close(context.Context) error  { return nil }
func (c *collect) entries() []audit.Entry {
	out := make([]audit.Entry, len(c.recs))
	for i, r := range c.recs {
		out[i] = audit.Entry{Record: r, Data: r.Line}
	}
	return out
}
