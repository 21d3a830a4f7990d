//go:build unix

package signer_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/a1-go/a1/signer"
)

// A key path naming a FIFO (or another non-regular file) is refused without
// blocking: opening a FIFO for reading waits for a writer.
func TestKeyFileFIFONotOpened(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key.fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := signer.Open(context.Background(), "file:"+p)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Open of a FIFO succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Open of a FIFO key path blocked")
	}
}
