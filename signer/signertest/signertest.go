package signertest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/a1-go/a1/signer"
)

// Concurrency of the concurrent-use check.
const (
	goroutines      = 8
	signsPerRoutine = 4
)

// Run runs the contract suite. open is called once per subtest and must
// return a ready Signer (it may register t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) signer.Signer) {
	t.Helper()

	t.Run("PublicKey", func(t *testing.T) {
		s := open(t)
		pub, ok := s.Public().(ed25519.PublicKey)
		if !ok {
			t.Fatalf("Public() is %T, want ed25519.PublicKey", s.Public())
		}
		if len(pub) != ed25519.PublicKeySize {
			t.Fatalf("public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
		}
		pub2, err := signer.PublicKey(s)
		if err != nil || !pub.Equal(pub2) {
			t.Fatalf("signer.PublicKey = %x, %v; want %x", pub2, err, pub)
		}
		// Public returns a copy: a caller scribbling on it changes neither
		// the key reported next nor the key signatures are checked against.
		want := ed25519.PublicKey(bytes.Clone(pub))
		pub[0] ^= 0xff
		if got := s.Public().(ed25519.PublicKey); !want.Equal(got) {
			t.Fatalf("modifying the slice Public returned changed the signer's key to %x", got)
		}
		msg := []byte("after")
		if sig, err := s.Sign(nil, msg, crypto.Hash(0)); err != nil || !ed25519.Verify(want, msg, sig) {
			t.Fatalf("Sign after modifying Public's result: %v", err)
		}
	})

	t.Run("SignVerifies", func(t *testing.T) {
		s := open(t)
		pub := s.Public().(ed25519.PublicKey)
		msgs := [][]byte{
			{},
			[]byte("a1"),
			bytes.Repeat([]byte{0xA1}, 32),
			bytes.Repeat([]byte{0x5A}, signer.MaxMessageSize),
		}
		for _, msg := range msgs {
			sig, err := s.Sign(nil, msg, crypto.Hash(0))
			if err != nil {
				t.Fatalf("Sign(%d bytes): %v", len(msg), err)
			}
			if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, msg, sig) {
				t.Fatalf("Sign(%d bytes): signature does not verify", len(msg))
			}
			tampered := append([]byte{1}, msg...)
			if ed25519.Verify(pub, tampered, sig) {
				t.Fatalf("signature verifies for a different message")
			}
		}
		sig, err := s.Sign(nil, []byte("opts"), &ed25519.Options{})
		if err != nil || !ed25519.Verify(pub, []byte("opts"), sig) {
			t.Fatalf("Sign with &ed25519.Options{}: %v", err)
		}
	})

	t.Run("SignContext", func(t *testing.T) {
		s := open(t)
		pub := s.Public().(ed25519.PublicKey)
		msg := []byte("context")
		sig, err := signer.SignContext(context.Background(), s, msg)
		if err != nil || !ed25519.Verify(pub, msg, sig) {
			t.Fatalf("SignContext: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := signer.SignContext(ctx, s, msg); err == nil {
			t.Fatal("SignContext with a canceled context succeeded")
		}
	})

	t.Run("KeyID", func(t *testing.T) {
		s := open(t)
		id := s.KeyID()
		if id == "" {
			t.Fatal("KeyID is empty")
		}
		if _, err := s.Sign(nil, []byte("x"), crypto.Hash(0)); err != nil {
			t.Fatal(err)
		}
		if got := s.KeyID(); got != id {
			t.Fatalf("KeyID changed from %q to %q", id, got)
		}
		if s2 := open(t); s2.KeyID() != id {
			t.Fatalf("KeyID differs between opens of the same key: %q, %q", id, s2.KeyID())
		}
	})

	t.Run("RejectsOpts", func(t *testing.T) {
		s := open(t)
		for _, opts := range []crypto.SignerOpts{
			nil,
			crypto.SHA256,
			crypto.SHA512,
			&ed25519.Options{Hash: crypto.SHA512},
			&ed25519.Options{Context: "ctx"},
		} {
			if _, err := s.Sign(nil, []byte("m"), opts); !errors.Is(err, signer.ErrUnsupportedOpts) {
				t.Errorf("Sign(opts=%s) = %v, want ErrUnsupportedOpts", describe(opts), err)
			}
		}
	})

	t.Run("RejectsLargeMessage", func(t *testing.T) {
		s := open(t)
		msg := make([]byte, signer.MaxMessageSize+1)
		if _, err := s.Sign(nil, msg, crypto.Hash(0)); !errors.Is(err, signer.ErrMessageTooLarge) {
			t.Fatalf("Sign(%d bytes) = %v, want ErrMessageTooLarge", len(msg), err)
		}
	})

	t.Run("Deterministic", func(t *testing.T) {
		s := open(t)
		msg := []byte("deterministic")
		a, err := s.Sign(nil, msg, crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Sign(nil, msg, crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("two Ed25519 signatures of one message differ")
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		pub := s.Public().(ed25519.PublicKey)
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*signsPerRoutine)
		for g := range goroutines {
			wg.Go(func() {
				for i := range signsPerRoutine {
					msg := fmt.Appendf(nil, "msg %d/%d", g, i)
					sig, err := s.Sign(nil, msg, crypto.Hash(0))
					if err != nil {
						errs <- err
						continue
					}
					if !ed25519.Verify(pub, msg, sig) {
						errs <- fmt.Errorf("signature of %q does not verify", msg)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func describe(o crypto.SignerOpts) string {
	switch v := o.(type) {
	case nil:
		return "nil"
	case *ed25519.Options:
		return fmt.Sprintf("&ed25519.Options{Hash: %v, Context: %q}", v.Hash, v.Context)
	default:
		return fmt.Sprint(o.HashFunc())
	}
}
