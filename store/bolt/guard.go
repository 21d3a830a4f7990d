package bolt

import (
	"fmt"
	"runtime/debug"

	bbolt "go.etcd.io/bbolt"
)

// guarded runs a bbolt transaction so that damage found while running (a
// page that does not decode, on which bbolt panics, or a fault on its
// memory map of a cut file) is an error wrapping ErrCorrupt, which the
// caller reports as store.ErrUnavailable (a 503 at the gateway, never a
// crash or a 500). bbolt rolls the transaction back while the panic
// unwinds, so its locks are released.
func guarded(run func(func(*bbolt.Tx) error) error, fn func(*bbolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, v)
		}
	}()
	return run(fn)
}

// view runs fn in a read-only transaction.
func (s *Store) view(fn func(*bbolt.Tx) error) error { return guarded(s.db.View, fn) }

// update runs fn in a read-write transaction.
func (s *Store) update(fn func(*bbolt.Tx) error) error { return guarded(s.db.Update, fn) }
