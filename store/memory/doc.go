// Package memory is an in-process a1 state backend: maps behind one mutex.
// It is for tests and for single-process, air-gapped use; every
// revocation, root and consumed nonce is lost when the process exits, so a
// revoked certificate becomes valid again after a restart. Use store/bolt
// for a single node that must remember.
package memory
