package bolt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// createBuckets creates the top-level buckets (idempotent).
func createBuckets(tx *bbolt.Tx) error {
	for _, b := range [][]byte{bucketRev, bucketNonce, bucketExpiry, bucketRoot} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// create makes a new, initialized store file at path if there is none. The
// file is written and fsynced under a temporary name in the same directory,
// then linked to path (which never replaces a file another process created
// meanwhile), then the directory is fsynced: path is either absent or a
// complete store, whatever the moment of a crash. An empty file at path is
// therefore never ours, and openFile refuses it.
func create(path string, o Options) (err error) {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or not statable: openFile reports it
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	db, err := bbolt.Open(name, 0o600, &bbolt.Options{Timeout: o.Timeout, NoSync: o.NoSync, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	err = db.Update(createBuckets)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	switch err := os.Link(name, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return nil // another process created it first: open theirs
	default:
		// A file system without hard links: copy, never replacing.
		if err := copyNew(name, path, o.NoSync); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
	}
	if o.NoSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("create %s: sync directory: %w", path, err)
	}
	return nil
}

// copyNew copies src to dst, which must not exist (then it does nothing).
func copyNew(src, dst string, noSync bool) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	if noSync {
		return nil
	}
	return out.Sync()
}

// openFile opens the existing store file at path and checks it. bbolt
// reinitializes an empty file (forgetting everything), and panics, or
// faults on its memory map, on a truncated or damaged one; here each is
// an error wrapping ErrCorrupt, and a lock held elsewhere is ErrLocked.
func openFile(path string, bo *bbolt.Options) (db *bbolt.DB, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("%w: %s is empty (0 bytes): restore it from a backup, or remove it to start on an empty store, which forgets every revocation and consumed nonce", ErrCorrupt, path)
	}
	var f *os.File
	bo.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		var err error
		f, err = os.OpenFile(name, flag&^os.O_CREATE, perm) // create made it; never recreate
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if db != nil {
			db.Close()
		} else if f != nil {
			unlock(f)
			f.Close()
		}
		db, err = nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, v)
	}()
	db, err = bbolt.Open(path, 0o600, bo)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w (waited %v for %s; run one process per file): %w", ErrLocked, bo.Timeout, path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case err != nil:
		return nil, err
	}
	err = db.View(func(tx *bbolt.Tx) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		// bbolt grows the file before it writes a page there, so the
		// high-water mark of the last committed transaction lies within
		// it, unless the file was cut.
		if tx.Size() > fi.Size() {
			return fmt.Errorf("%w: %s is truncated: %d bytes, its header says %d", ErrCorrupt, path, fi.Size(), tx.Size())
		}
		return nil
	})
	if err == nil {
		err = db.Update(createBuckets)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
