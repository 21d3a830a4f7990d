package storetest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
)

// OutageConfig describes a server backend to RunOutage.
type OutageConfig struct {
	// Target is the real server's host:port.
	Target string
	// Open returns a backend that dials addr instead of Target, with
	// Timeout as its operation timeout.
	Open func(t *testing.T, addr string) Backend
	// Timeout is the backend's configured operation timeout.
	Timeout time.Duration
	// Cleanup as in Config.
	Cleanup func(prefix string)
}

// outageSlack is what an operation may take beyond its timeout before
// the suite calls it hung (scheduling under -race on a loaded machine).
const outageSlack = 2 * time.Second

// RunOutage checks fail-closed behaviour against a real server reached
// through a Proxy: a server that stops answering (stall), a server that
// goes away (cut), a dead port, and recovery when the server returns.
// Every failure must be ErrUnavailable (never a decision) and must come
// back within the timeout; a consumed nonce must still be consumed after
// the outage.
func RunOutage(t *testing.T, cfg OutageConfig) {
	prefix := RandomPrefix()
	if cfg.Cleanup != nil {
		t.Cleanup(func() { cfg.Cleanup(prefix) })
	}
	tenant := prefix + "outage"
	proxy := NewProxy(t, cfg.Target)
	b := cfg.Open(t, proxy.Addr())
	defer b.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	used := store.Nonce{Key: Rand32(), ExpiresAt: exp}
	if err := b.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{used}}); err != nil {
		t.Fatalf("before outage: %v", err)
	}

	ops := map[string]func() error{
		"Authorize": func() error {
			return b.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Fingerprints: [][32]byte{Rand32()}, Nonces: []store.Nonce{{Key: Rand32(), ExpiresAt: exp}}})
		},
		"Revoke": func() error {
			_, err := b.Revoke(ctx, tenant, []store.Revocation{{Fingerprint: Rand32()}})
			return err
		},
		"RevocationStatus": func() error { _, _, err := b.RevocationStatus(ctx, tenant, Rand32()); return err },
		"ListRoots":        func() error { _, err := b.ListRoots(ctx, tenant); return err },
		"AllowRate":        func() error { _, err := b.AllowRate(ctx, prefix+"rate", 10, 10); return err },
		"Ping":             func() error { return b.Ping(ctx) },
	}
	failAll := func(phase string) {
		t.Helper()
		for name, op := range ops {
			start := time.Now()
			err := op()
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s: %s = %v, want ErrUnavailable", phase, name, err)
			}
			if errors.Is(err, store.ErrReplay) || errors.Is(err, store.ErrRevoked) {
				t.Errorf("%s: %s answered a decision during an outage", phase, name)
			}
			if took > cfg.Timeout+outageSlack {
				t.Errorf("%s: %s took %v, timeout %v", phase, name, took, cfg.Timeout)
			}
		}
	}

	proxy.Stall()
	failAll("stalled server")
	proxy.Cut()
	failAll("server gone")

	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for b.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("backend did not recover after the server came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Pooled connections broken by the outage may still surface once;
	// the backend must heal within a few calls.
	var err error
	for i := 0; i < 10; i++ {
		if err = b.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: Rand32(), ExpiresAt: exp}}}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	err = b.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{used}})
	if !errors.Is(err, store.ErrReplay) {
		t.Fatalf("nonce consumed before the outage: %v, want replay", err)
	}

	// A dead port: nothing listens.
	ln, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	dead := ln.Addr().String()
	ln.Close()
	db := cfg.Open(t, dead)
	defer db.Close()
	b = db
	failAll("dead port")
}
