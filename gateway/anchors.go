package gateway

import (
	"context"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/api"
)

// anchors is the verifier's trust-anchor set: the gateway key and
// A1_TRUSTED_ROOTS (fixed at start) plus the roots registered in the store,
// re-read every A1_ROOTS_REFRESH so that a root added or removed through one
// replica is honoured by every replica within that interval. Trusted never
// blocks: the authorize path reads an immutable snapshot.
type anchors struct {
	static  map[a1.PublicKey]string
	dynamic atomic.Pointer[map[a1.PublicKey]string]
	loaded  atomic.Bool
}

func newAnchors(gateway a1.PublicKey, roots []a1.PublicKey) *anchors {
	a := &anchors{static: map[a1.PublicKey]string{gateway: "gateway"}}
	for _, r := range roots {
		if _, ok := a.static[r]; !ok {
			a.static[r] = "A1_TRUSTED_ROOTS"
		}
	}
	empty := map[a1.PublicKey]string{}
	a.dynamic.Store(&empty)
	return a
}

// Trusted implements a1.TrustAnchors.
func (a *anchors) Trusted(pk a1.PublicKey) bool {
	if _, ok := a.static[pk]; ok {
		return true
	}
	_, ok := (*a.dynamic.Load())[pk]
	return ok
}

// refresh re-reads the registered roots.
func (a *anchors) refresh(ctx context.Context, st RootStore, tenant string) error {
	roots, err := st.ListRoots(ctx, tenant)
	if err != nil {
		return err
	}
	m := make(map[a1.PublicKey]string, len(roots))
	for _, r := range roots {
		m[a1.PublicKey(r.PublicKey)] = r.Label
	}
	a.dynamic.Store(&m)
	a.loaded.Store(true)
	return nil
}

// loop refreshes until ctx ends. A failed refresh keeps the last snapshot
// (authorizations fail closed anyway while the store is down).
func (a *anchors) loop(ctx context.Context, st RootStore, tenant string, every, timeout time.Duration, log *slog.Logger) {
	runEvery(ctx, every, func() {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := a.refresh(rctx, st, tenant); err != nil && ctx.Err() == nil {
			log.Debug("trusted roots refresh failed", "err", err)
		}
	})
}

// runEvery calls f every d until ctx ends (the gateway's background loops).
func runEvery(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// list returns every trusted key in hex with its source, sorted.
func (a *anchors) list() []api.Root {
	var out []api.Root
	for k, v := range a.static {
		out = append(out, api.Root{PublicKeyHex: k.Hex(), Source: v})
	}
	for k, v := range *a.dynamic.Load() {
		if _, ok := a.static[k]; !ok {
			out = append(out, api.Root{PublicKeyHex: k.Hex(), Source: "registered", Label: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PublicKeyHex < out[j].PublicKeyHex })
	return out
}
