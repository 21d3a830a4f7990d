// Package kms holds what every remote signer provider shares: the sentinel
// errors (re-exported by package signer), the option check for pure Ed25519,
// bounded retries with backoff, and Remote, a crypto.Signer that verifies
// every signature a key-management service returns before handing it out.
package kms

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"
)

// Sentinel errors. Package signer re-exports them; providers wrap them.
var (
	ErrUnsupportedKey  = errors.New("signer: unsupported key (an Ed25519 key is required)")
	ErrBadSignature    = errors.New("signer: key service returned a signature that does not verify")
	ErrUnsupportedOpts = errors.New("signer: only pure Ed25519 is supported (opts must be crypto.Hash(0))")
	ErrInvalidURI      = errors.New("signer: invalid key URI")
	ErrCompiledOut     = errors.New("signer: provider compiled out of this binary")
	ErrMessageTooLarge = errors.New("signer: message too large")
)

// Limits shared by every provider.
const (
	// DefaultTimeout bounds one Sign (all attempts included) and one open.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxAttempts is how many times a transient failure is tried.
	DefaultMaxAttempts = 3
	// MaxAttemptsLimit caps a configured MaxAttempts.
	MaxAttemptsLimit = 10
	// BaseBackoff is the first retry delay; it doubles, with jitter.
	BaseBackoff = 100 * time.Millisecond
	// MaxBackoff caps one retry delay.
	MaxBackoff = 2 * time.Second
	// MaxMessageSize is the largest message any provider signs. It is AWS
	// KMS's limit for a RAW message; a1 signs 32-byte digests and small
	// envelopes.
	MaxMessageSize = 4096
	// MaxResponseSize bounds a response body read by a provider that reads
	// bodies itself.
	MaxResponseSize = 1 << 20
)

// Policy is the timeout and retry policy of one signer.
type Policy struct {
	Timeout     time.Duration // overall, per operation; 0 means DefaultTimeout
	MaxAttempts int           // 0 means DefaultMaxAttempts; capped at MaxAttemptsLimit
	// Sleep waits between attempts; nil means a timer honouring ctx. Tests
	// may replace it to avoid real delays.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Normalize fills in defaults and clamps values.
func (p Policy) Normalize() Policy {
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MaxAttempts > MaxAttemptsLimit {
		p.MaxAttempts = MaxAttemptsLimit
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoff returns the delay before retry number n (1-based): exponential
// from BaseBackoff, capped at MaxBackoff, with "equal jitter".
func Backoff(n int) time.Duration {
	d := BaseBackoff
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	half := d / 2
	return half + rand.N(half+1)
}

// Do runs op under the policy: an overall deadline of p.Timeout on ctx, and up
// to p.MaxAttempts attempts while transient(err) is true. It returns the last
// error, annotated with the attempt count when more than one was made.
func Do(ctx context.Context, p Policy, transient func(error) bool, op func(context.Context) error) error {
	p = p.Normalize()
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		err = op(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctxDone(ctx); cerr != nil {
			return fmt.Errorf("after %d attempt(s): %w (%w)", attempt, err, cerr)
		}
		if attempt >= p.MaxAttempts || transient == nil || !transient(err) {
			if attempt > 1 {
				return fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return err
		}
		if serr := p.Sleep(ctx, Backoff(attempt)); serr != nil {
			return fmt.Errorf("after %d attempt(s): %w (%w)", attempt, err, serr)
		}
	}
}

// ctxDone is ctx.Err(), except that a deadline (almost) reached counts as
// exceeded even if the context's timer has not fired yet (a gRPC or HTTP
// client may report its own deadline error a moment earlier).
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < minAttemptTime {
		return context.DeadlineExceeded
	}
	return nil
}

// minAttemptTime: no new attempt starts with less time than this left
// before the deadline; the call reports the deadline instead.
const minAttemptTime = 10 * time.Millisecond

// IsNetworkError reports whether err is a connection-level failure worth a
// retry (refused, reset, unexpected EOF). Context errors are not.
func IsNetworkError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// CheckOpts accepts only pure Ed25519: crypto.Hash(0), or *ed25519.Options
// with no hash and no context.
func CheckOpts(opts crypto.SignerOpts) error {
	if opts == nil {
		return fmt.Errorf("%w: opts is nil", ErrUnsupportedOpts)
	}
	if o, ok := opts.(*ed25519.Options); ok {
		if o.Hash != 0 || o.Context != "" {
			return fmt.Errorf("%w: Ed25519ph and Ed25519ctx are not supported", ErrUnsupportedOpts)
		}
		return nil
	}
	if h := opts.HashFunc(); h != 0 {
		return fmt.Errorf("%w: got hash %v", ErrUnsupportedOpts, h)
	}
	return nil
}

// CheckMessage bounds the message size.
func CheckMessage(msg []byte) error {
	if len(msg) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(msg), MaxMessageSize)
	}
	return nil
}

// PublicKey checks that k is a well-formed Ed25519 public key and returns a copy.
func PublicKey(k crypto.PublicKey) (ed25519.PublicKey, error) {
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: key type %T", ErrUnsupportedKey, k)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key is %d bytes", ErrUnsupportedKey, len(pub))
	}
	return append(ed25519.PublicKey(nil), pub...), nil
}

// Remote is a signer backed by a key service. It checks options and message
// size, applies the policy (deadline, retries), and verifies the returned
// signature against the public key fetched at open before returning it.
type Remote struct {
	Provider  string            // "awskms", "gcpkms", "vault", used in errors
	ID        string            // KeyID
	Pub       ed25519.PublicKey // fetched and checked at open
	Policy    Policy
	Transient func(error) bool
	// SignOnce makes one signing call and returns the raw 64-byte signature.
	SignOnce func(ctx context.Context, msg []byte) ([]byte, error)
}

// Public returns a copy of the ed25519.PublicKey: the cached key is what
// every signature is verified against, so a caller must not be able to
// change it through the returned slice.
func (r *Remote) Public() crypto.PublicKey { return append(ed25519.PublicKey(nil), r.Pub...) }

// KeyID returns the key's identifier.
func (r *Remote) KeyID() string { return r.ID }

// Sign signs message with pure Ed25519; rand is ignored; opts must be
// crypto.Hash(0).
func (r *Remote) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := CheckOpts(opts); err != nil {
		return nil, err
	}
	return r.SignContext(context.Background(), message)
}

// SignContext signs message with pure Ed25519 under ctx.
func (r *Remote) SignContext(ctx context.Context, message []byte) ([]byte, error) {
	if err := CheckMessage(message); err != nil {
		return nil, err
	}
	var sig []byte
	err := Do(ctx, r.Policy, r.Transient, func(ctx context.Context) error {
		s, err := r.SignOnce(ctx, message)
		sig = s
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signer: %s: sign with %s: %w", r.Provider, r.ID, err)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(r.Pub, message, sig) {
		return nil, fmt.Errorf("%w (%s, key %s)", ErrBadSignature, r.Provider, r.ID)
	}
	return sig, nil
}
