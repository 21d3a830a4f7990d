package ndjson

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/a1-go/a1/audit"
)

func TestFileRotationAndVerifyAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.ndjson")
	m, _ := audit.NewMetrics(prometheus.NewRegistry())
	const maxBytes = 4096
	sink, err := NewFile(FileOptions{Path: path, MaxBytes: maxBytes, Keep: 3, FsyncInterval: -1},
		audit.AsyncOptions{MaxBatch: 3, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	em, err := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{sink}, Signer: key, CheckpointEvery: 20})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		em.Emit(audit.Event{Kind: audit.KindAuthorize, Action: "authorize", Decision: audit.DecisionAllow,
			RequestID: "req-" + strconv.Itoa(i)})
	}
	if err := em.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sent := testutil.ToFloat64(m.Sent.WithLabelValues("file"))
	if sent < n+1 {
		t.Fatalf("sent %v < %d", sent, n+1)
	}
	// Keep 3: path, path.1 … path.3 exist, path.4 never.
	files := []string{path + ".3", path + ".2", path + ".1", path}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > maxBytes {
			t.Fatalf("%s is %d bytes > %d", f, st.Size(), maxBytes)
		}
		if st.Mode().Perm() != fileMode {
			t.Fatalf("%s mode %v", f, st.Mode().Perm())
		}
	}
	if _, err := os.Stat(path + ".4"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("more rotated files than Keep")
	}
	// Oldest first, the files continue one stream; older events were
	// rotated away, so the stream starts after seq 1 (a note, not a problem)
	// and ends with a verified final checkpoint. Checkpoints are signed off
	// the hot path, so a checkpoint's head may lag it by many events and
	// lie in the rotated-away part: such heads are notes too, not problems.
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{RequireFinal: true,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Streams) != 1 || rep.Streams[0].First == 1 || len(rep.Notes) == 0 ||
		!strings.Contains(rep.Notes[0].Reason, "earlier events not in the input") {
		t.Fatalf("rotated files:\n%s", rep)
	}
	for _, n := range rep.Notes[1:] {
		if !strings.Contains(n.Reason, "is not in the input; head not compared") {
			t.Fatalf("unexpected note %s in:\n%s", n, rep)
		}
	}
	// Files in the wrong order are reported.
	rep, _ = audit.VerifyFiles([]string{path, path + ".1"}, audit.VerifyOptions{})
	if rep.OK {
		t.Fatal("misordered files verified")
	}
	if p := rep.Problems[0]; p.File != path+".1" || p.Line != 1 {
		t.Fatalf("first problem %v", p)
	}
}

func TestFileAppendsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.ndjson")
	for range 2 { // two processes, two streams in one file
		sink, err := NewFile(FileOptions{Path: path}, audit.AsyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		em, _ := audit.NewEmitter(audit.Config{Sinks: []audit.Sink{sink}})
		for range 5 {
			em.Emit(audit.Event{Kind: audit.KindAdmin, Action: "key.rotate", Decision: audit.DecisionAllow})
		}
		if err := em.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := audit.VerifyFiles([]string{path}, audit.VerifyOptions{RequireStart: true})
	if err != nil || !rep.OK || len(rep.Streams) != 2 || rep.Events != 10 {
		t.Fatalf("%v\n%s", err, rep)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	if f.n == 1 {
		return 0, errors.New("EAGAIN")
	}
	return len(p), nil
}

func TestWriterRetriesWriteErrors(t *testing.T) {
	m, _ := audit.NewMetrics(prometheus.NewRegistry())
	w := &failWriter{}
	sink := NewWriter(w, audit.AsyncOptions{Metrics: m, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	sink.Submit(audit.Record{Event: &audit.Event{}, Line: []byte(`{}`)})
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if testutil.ToFloat64(m.Retried.WithLabelValues("stdout")) != 1 || testutil.ToFloat64(m.Sent.WithLabelValues("stdout")) != 1 {
		t.Fatal("write error not retried")
	}
}
