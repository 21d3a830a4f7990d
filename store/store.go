// Package store holds what every a1 state backend shares: the value types
// that cross the storage boundary and the errors that classify a backend's
// answer. The gateway and the verifier declare the small interfaces they
// need where they use them; the backends (store/memory, store/bolt,
// store/redis, store/postgres) implement them and pass the contract suite in
// store/storetest.
package store

import (
	"errors"
	"fmt"
	"time"
)

// Errors that classify a backend's answer.
//
// ErrUnavailable means the backend could not be reached or answered with an
// error: the caller must fail closed (HTTP 503) and must never treat it as a
// decision. ErrRevoked and ErrReplay are decisions.
var (
	ErrUnavailable = errors.New("store: storage unavailable")
	ErrRevoked     = errors.New("store: certificate revoked")
	ErrReplay      = errors.New("store: nonce already consumed")
	ErrNotFound    = errors.New("store: not found")
)

// Unavailable wraps a backend error so that errors.Is(err, ErrUnavailable)
// holds while the cause stays reachable with errors.Unwrap / errors.As.
func Unavailable(op string, cause error) error {
	return &UnavailableError{Op: op, Err: cause}
}

// UnavailableError is a backend failure (I/O, timeout, server error).
type UnavailableError struct {
	Op  string
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("store: %s: storage unavailable: %v", e.Op, e.Err)
}

// Is reports ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// RevokedError names the first revoked fingerprint of an authorization
// request by its index in AuthorizeRequest.Fingerprints (the hop).
type RevokedError struct {
	Index       int
	Fingerprint [32]byte
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("store: certificate at index %d revoked", e.Index)
}

// Is reports ErrRevoked.
func (e *RevokedError) Is(target error) bool { return target == ErrRevoked }

// ReplayError names the first already-consumed nonce by its index in
// AuthorizeRequest.Nonces.
type ReplayError struct {
	Index int
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("store: nonce at index %d already consumed", e.Index)
}

// Is reports ErrReplay.
func (e *ReplayError) Is(target error) bool { return target == ErrReplay }

// Nonce is one single-use value to consume. Key is derived by the caller
// (the protocol layer binds it to the issuing key, so one delegator cannot
// burn another's nonces). ExpiresAt is when the nonce may be forgotten: the
// cert's expiry plus drift, or twice the drift for proof-of-possession
// request nonces. A nonce whose ExpiresAt has passed counts as unconsumed.
type Nonce struct {
	Key       [32]byte
	ExpiresAt time.Time
}

// AuthorizeRequest is the single atomic storage step of an authorization.
//
// A backend must, atomically and in one round trip:
//  1. if any fingerprint is revoked, return a *RevokedError (lowest index)
//     and consume nothing;
//  2. else if any nonce is already consumed (and not yet expired), return a
//     *ReplayError and consume nothing;
//  3. else consume every nonce and return nil.
//
// Any other failure is wrapped with Unavailable.
type AuthorizeRequest struct {
	Tenant       string
	Fingerprints [][32]byte
	Nonces       []Nonce
}

// Revocation is one revoked certificate fingerprint. Revocations never
// expire.
type Revocation struct {
	Fingerprint [32]byte
	Reason      string
	Actor       string
	RevokedAt   time.Time
}

// Root is a trusted principal public key registered at runtime.
type Root struct {
	PublicKey [32]byte
	Label     string
	AddedBy   string
	AddedAt   time.Time
}

// RateDecision is the answer of a rate limiter.
type RateDecision struct {
	Allowed    bool
	RetryAfter time.Duration // > 0 when denied
	Remaining  int
}

// Page is a cursor for listing revocations. An empty Cursor starts at the
// beginning; the returned next cursor is empty after the last page.
type Page struct {
	Cursor string
	Limit  int
}
