package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
)

// CheckCanceledFailsClosed: a call whose context is already canceled (the
// gateway's storage timeout ran out, the client went away) is
// store.ErrUnavailable, never a decision ("not revoked", "replay") nor a
// success, and it changes nothing: the nonce it carried is still free and
// the fingerprint it revoked is not revoked.
func CheckCanceledFailsClosed(t *testing.T, b Backend, tenant string) {
	t.Helper()
	live := context.Background()
	dead, cancel := context.WithCancel(live)
	cancel()
	n := store.Nonce{Key: Rand32(), ExpiresAt: time.Now().Add(time.Hour)}
	fp, pk := Rand32(), Rand32()
	unavailable := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrReplay) || errors.Is(err, store.ErrRevoked) || errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s with a canceled context: %v, want only ErrUnavailable", op, err)
		}
	}
	unavailable("Authorize", b.Authorize(dead, store.AuthorizeRequest{Tenant: tenant, Fingerprints: [][32]byte{fp}, Nonces: []store.Nonce{n}}))
	unavailable("Authorize without nonces", b.Authorize(dead, store.AuthorizeRequest{Tenant: tenant, Fingerprints: [][32]byte{fp}}))
	_, err := b.Revoke(dead, tenant, []store.Revocation{{Fingerprint: fp, Reason: "r", Actor: "admin"}})
	unavailable("Revoke", err)
	_, ok, err := b.RevocationStatus(dead, tenant, fp)
	unavailable("RevocationStatus", err)
	if ok {
		t.Error("RevocationStatus with a canceled context reported a revocation")
	}
	_, _, err = b.ListRevocations(dead, tenant, store.Page{})
	unavailable("ListRevocations", err)
	unavailable("AddRoot", b.AddRoot(dead, tenant, store.Root{PublicKey: pk, Label: "l"}))
	_, err = b.RemoveRoot(dead, tenant, pk)
	unavailable("RemoveRoot", err)
	_, err = b.ListRoots(dead, tenant)
	unavailable("ListRoots", err)
	unavailable("Ping", b.Ping(dead))

	// Nothing happened: the nonce is free (consumed now, then a replay), the
	// fingerprint and the root were not stored.
	if err := b.Authorize(live, store.AuthorizeRequest{Tenant: tenant, Fingerprints: [][32]byte{fp}, Nonces: []store.Nonce{n}}); err != nil {
		t.Fatalf("after the canceled calls: %v, want the nonce free and fp not revoked", err)
	}
	if err := b.Authorize(live, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("second use of the nonce: %v, want ErrReplay", err)
	}
	if _, ok, err := b.RevocationStatus(live, tenant, fp); err != nil || ok {
		t.Fatalf("fp after a canceled Revoke: revoked=%v, %v", ok, err)
	}
	if roots, err := b.ListRoots(live, tenant); err != nil || len(roots) != 0 {
		t.Fatalf("roots after a canceled AddRoot: %+v, %v", roots, err)
	}
}

// CheckBadTenantInvalid: every per-tenant call refuses a tenant the
// backend cannot hold (ErrInvalid, a 400 at the gateway) before any I/O,
// never an outage nor an answer about some other tenant's key space.
func CheckBadTenantInvalid(t *testing.T, b Backend) {
	t.Helper()
	c := context.Background()
	for _, tenant := range []string{"a}b", "a{b", "a\nb", strings.Repeat("x", store.MaxTenantLen+1)} {
		errs := map[string]error{}
		_, _, errs["RevocationStatus"] = b.RevocationStatus(c, tenant, Rand32())
		_, _, errs["ListRevocations"] = b.ListRevocations(c, tenant, store.Page{})
		errs["AddRoot"] = b.AddRoot(c, tenant, store.Root{PublicKey: Rand32()})
		_, errs["RemoveRoot"] = b.RemoveRoot(c, tenant, Rand32())
		_, errs["ListRoots"] = b.ListRoots(c, tenant)
		for op, err := range errs {
			if !errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s(tenant %q): %v, want ErrInvalid", op, tenant, err)
			}
		}
	}
}
