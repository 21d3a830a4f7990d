package kms

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

var errTransient = errors.New("transient")

func noSleep(context.Context, time.Duration) error { return nil }

func TestDo(t *testing.T) {
	isT := func(err error) bool { return errors.Is(err, errTransient) }
	errFatal := errors.New("fatal")
	for _, tc := range []struct {
		name      string
		errs      []error // returned by successive attempts; nil after the list
		attempts  int
		wantCalls int
		want      error
	}{
		{"ok", nil, 3, 1, nil},
		{"transient then ok", []error{errTransient, errTransient}, 3, 3, nil},
		{"transient exhausted", []error{errTransient, errTransient, errTransient, errTransient}, 3, 3, errTransient},
		{"fatal not retried", []error{errFatal, nil}, 3, 1, errFatal},
		{"one attempt", []error{errTransient}, 1, 1, errTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Do(context.Background(), Policy{MaxAttempts: tc.attempts, Sleep: noSleep}, isT, func(context.Context) error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Do = %v, want %v", err, tc.want)
			}
			if calls != tc.wantCalls {
				t.Fatalf("%d calls, want %d", calls, tc.wantCalls)
			}
		})
	}
}

func TestDoDeadline(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Policy{Timeout: 20 * time.Millisecond, MaxAttempts: 5}, func(error) bool { return true },
		func(ctx context.Context) error {
			calls++
			<-ctx.Done() // a hung service
			return ctx.Err()
		})
	if !errors.Is(err, context.DeadlineExceeded) || calls != 1 {
		t.Fatalf("Do = %v after %d calls, want DeadlineExceeded after 1", err, calls)
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n < 12; n++ {
		d := Backoff(n)
		if d <= 0 || d > MaxBackoff {
			t.Fatalf("Backoff(%d) = %v", n, d)
		}
	}
}

func TestIsNetworkError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.DeadlineExceeded, false},
		{fmt.Errorf("x: %w", syscall.ECONNREFUSED), true},
		{io.ErrUnexpectedEOF, true},
		{errors.New("400"), false},
	} {
		if got := IsNetworkError(tc.err); got != tc.want {
			t.Errorf("IsNetworkError(%v) = %v", tc.err, got)
		}
	}
}

func TestRemoteRejectsBadSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	for _, tc := range []struct {
		name string
		sign func(msg []byte) []byte
		want error
	}{
		{"good", func(m []byte) []byte { return ed25519.Sign(priv, m) }, nil},
		{"other key", func(m []byte) []byte { return ed25519.Sign(other, m) }, ErrBadSignature},
		{"other message", func(m []byte) []byte { return ed25519.Sign(priv, append(m, 0)) }, ErrBadSignature},
		{"short", func(m []byte) []byte { return ed25519.Sign(priv, m)[:63] }, ErrBadSignature},
		{"empty", func([]byte) []byte { return nil }, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Remote{Provider: "test", ID: "k", Pub: pub, SignOnce: func(_ context.Context, m []byte) ([]byte, error) { return tc.sign(m), nil }}
			sig, err := r.Sign(nil, []byte("msg"), crypto.Hash(0))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Sign = %v, want %v", err, tc.want)
			}
			if err != nil && sig != nil {
				t.Fatal("a signature was returned with an error")
			}
		})
	}
}

func TestPublicKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	if _, err := PublicKey(pub); err != nil {
		t.Fatal(err)
	}
	for _, k := range []crypto.PublicKey{nil, "x", ed25519.PublicKey(pub[:31]), &pub} {
		if _, err := PublicKey(k); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("PublicKey(%T) = %v", k, err)
		}
	}
}
