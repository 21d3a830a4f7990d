package bolt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/bolt"
	"github.com/a1-go/a1/store/storetest"
)

// written returns the bytes of a store file holding one revocation and
// enough nonces to span many pages, the revoked fingerprint, and the
// file's high-water mark (the size its last transaction says it has).
func written(t *testing.T) (data []byte, fp [32]byte, hwm int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a1.db")
	s, err := bolt.Open(path, bolt.Options{SweepInterval: -1, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fp = storetest.Rand32()
	if _, err := s.Revoke(ctx, "", []store.Revocation{{Fingerprint: fp, Reason: "test"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		var ns []store.Nonce
		for j := 0; j < 100; j++ {
			ns = append(ns, store.Nonce{Key: storetest.Rand32(), ExpiresAt: time.Now().Add(time.Hour)})
		}
		if err := s.Authorize(ctx, store.AuthorizeRequest{Nonces: ns}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bbolt.Tx) error { hwm = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	if data, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) < hwm || hwm < 16<<10 {
		t.Fatalf("file of %d bytes, high-water mark %d", len(data), hwm)
	}
	return data, fp, hwm
}

// TestOpenRefusesDamagedFile: bbolt reinitializes an empty file (every
// revocation forgotten) and panics, or faults on its memory map, on a
// truncated one. Open must refuse each with ErrCorrupt (an
// ErrUnavailable), without panicking, and release the file: a second
// attempt is refused the same way, not with ErrLocked.
func TestOpenRefusesDamagedFile(t *testing.T) {
	data, _, hwm := written(t)
	pageSize := int64(os.Getpagesize())
	garbage := make([]byte, len(data))
	for i := range garbage {
		garbage[i] = byte(i*7 + i/4096)
	}
	bothMetaZeroed := append(make([]byte, 2*pageSize), data[2*pageSize:]...)
	cases := map[string][]byte{
		"empty":                 {},
		"last page cut":         data[:hwm-pageSize],
		"half":                  data[:hwm/2],
		"three pages":           data[:3*pageSize],
		"meta pages zeroed":     bothMetaZeroed,
		"not a bbolt file":      garbage,
		"one byte of a header":  data[:1],
		"cut inside a page":     data[:hwm-pageSize/2],
		"cut after eight pages": data[:8*pageSize],
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a1.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for attempt := 1; attempt <= 2; attempt++ {
				s, err := bolt.Open(path, bolt.Options{SweepInterval: -1, Timeout: 200 * time.Millisecond})
				if err == nil {
					s.Close()
					t.Fatalf("attempt %d: a damaged file (%d bytes) opened", attempt, len(content))
				}
				if !errors.Is(err, bolt.ErrCorrupt) || !errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("attempt %d: %v, want ErrCorrupt and ErrUnavailable", attempt, err)
				}
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(content)) {
				t.Fatalf("the refused file was changed: %v, %v", fi, err)
			}
		})
	}
}

// TestOpenKeepsPreallocatedTail: bbolt grows the file ahead of its data;
// cutting that unused tail loses nothing and the file still opens with
// its revocation.
func TestOpenKeepsPreallocatedTail(t *testing.T) {
	data, fp, hwm := written(t)
	path := filepath.Join(t.TempDir(), "a1.db")
	if err := os.WriteFile(path, data[:hwm], 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(path, bolt.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok, err := s.RevocationStatus(context.Background(), "", fp); err != nil || !ok {
		t.Fatalf("revocation after cutting the tail: %v, %v", ok, err)
	}
}

// TestOpenCreatesCompleteFile: a new store file appears complete (the
// temporary file it was built in is gone), readable by its owner only; a
// second process is refused with ErrLocked.
func TestOpenCreatesCompleteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a1.db")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		opened  []*bolt.Store
		refused []error
	)
	// Racing first starts: one wins, the others see its complete file,
	// locked, and none a partial one.
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := bolt.Open(path, bolt.Options{SweepInterval: -1, Timeout: 100 * time.Millisecond})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused = append(refused, err)
				return
			}
			opened = append(opened, s)
		}()
	}
	wg.Wait()
	if len(opened) != 1 {
		t.Fatalf("%d of 4 concurrent opens succeeded, want 1 (refused: %v)", len(opened), refused)
	}
	for _, err := range refused {
		if !errors.Is(err, bolt.ErrLocked) || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a concurrent open: %v, want ErrLocked", err)
		}
	}
	if err := opened[0].Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "a1.db" {
		t.Fatalf("directory holds %v, want only a1.db", entries)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("store file mode %v, want no access for group and others", fi.Mode().Perm())
	}
	s, err := bolt.Open(path, bolt.Options{SweepInterval: -1})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
}

// TestDamageFoundWhileRunning: damage that passes Open's checks (a data
// page that is not the page it should be) is found by the transaction that
// reads it. bbolt panics there; the store must answer with ErrCorrupt (an
// ErrUnavailable: a 503 at the gateway, never an authorization, a crash or
// a 500), and stay usable for what the damage does not touch. Each data
// page is damaged in turn.
func TestDamageFoundWhileRunning(t *testing.T) {
	data, fp, hwm := written(t)
	ps := int64(os.Getpagesize())
	ctx := context.Background()
	opened, found := 0, 0
	for p := int64(2); p < hwm/ps; p++ {
		damaged := append([]byte(nil), data...)
		// The page header's id (little-endian, first 8 bytes): a page
		// that says it is another.
		damaged[p*ps] ^= 0x5a
		damaged[p*ps+1] ^= 0x5a
		path := filepath.Join(t.TempDir(), "a1.db")
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := bolt.Open(path, bolt.Options{SweepInterval: -1, NoSync: true, Timeout: 200 * time.Millisecond})
		if err != nil {
			if !errors.Is(err, bolt.ErrCorrupt) {
				t.Fatalf("page %d: Open: %v, want ErrCorrupt", p, err)
			}
			continue
		}
		opened++
		var errs []error
		_, _, err = s.RevocationStatus(ctx, "", fp)
		errs = append(errs, err)
		errs = append(errs, s.Authorize(ctx, store.AuthorizeRequest{Fingerprints: [][32]byte{fp}}))
		errs = append(errs, s.Authorize(ctx, store.AuthorizeRequest{Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: time.Now().Add(time.Hour)}}}))
		_, _, err = s.ListRevocations(ctx, "", store.Page{})
		errs = append(errs, err)
		_, err = s.Sweep(ctx)
		errs = append(errs, err)
		damageSeen := false
		for i, err := range errs {
			var rev *store.RevokedError
			switch {
			case err == nil, errors.As(err, &rev):
			case errors.Is(err, bolt.ErrCorrupt) && errors.Is(err, store.ErrUnavailable):
				damageSeen = true
			default:
				t.Errorf("page %d: operation %d: %v, want success or ErrCorrupt", p, i, err)
			}
		}
		if damageSeen {
			found++
			// The store still answers (no lock left held by the panic):
			// a read, and a write, which would block on a writer lock
			// a panicking write transaction left held.
			if err := s.Ping(ctx); err != nil && !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("page %d: Ping after damage: %v", p, err)
			}
			if _, err := s.Revoke(ctx, "", []store.Revocation{{Fingerprint: storetest.Rand32(), Reason: "after damage"}}); err != nil &&
				!errors.Is(err, bolt.ErrCorrupt) {
				t.Errorf("page %d: Revoke after damage: %v", p, err)
			}
		}
		s.Close()
	}
	t.Logf("%d damaged files opened, damage found while running in %d", opened, found)
	if found == 0 {
		t.Fatal("no damaged page was found while running: the test damages nothing that is read")
	}
}
