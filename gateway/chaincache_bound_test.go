package gateway

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/a1-go/a1"
)

// Adversarial chains: structurally valid JSON (DecodeSignedChain accepts
// them; nothing is signed) of at most maxCachedChainBytes that decode to as
// much heap as possible. Each is made distinct by tag.

func reviewZeros(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]" }

func reviewCert(tag int, ext, proof string) string {
	return `{"version":1,"delegator_pk":` + reviewZeros(32) + `,"delegate_pk":` + reviewZeros(32) + `,"scope_root":` + reviewZeros(32) +
		`,"scope_proof":` + proof + `,"nonce":` + reviewZeros(16) + fmt.Sprintf(`,"issued_at":%d`, tag) +
		`,"expiration_unix":2,"max_depth":8,"extensions":{"fields":{` + ext + `}},"signature":` + reviewZeros(64) + `}`
}

func reviewChain(certs []string) []byte {
	return []byte(`{"version":1,"principal_pk":"` + strings.Repeat("00", 32) + `","principal_scope":"` +
		strings.Repeat("00", 32) + `","certs":[` + strings.Join(certs, ",") + `]}`)
}

func reviewKeys(n int) []string {
	var ks []string
	for i := range n {
		ks = append(ks, fmt.Sprintf("%x", i))
	}
	return ks
}

var reviewShapes = map[string]func(tag int) string{
	"plain": func(tag int) string { return reviewCert(tag, "", `{"subset_intents":[],"proofs":[]}`) },
	"u64 fields": func(tag int) string {
		var f []string
		for _, k := range reviewKeys(a1.MaxExtensionFields) {
			f = append(f, `"`+k+`":0`)
		}
		return reviewCert(tag, strings.Join(f, ","), `{"subset_intents":[],"proofs":[]}`)
	},
	"string lists": func(tag int) string {
		var f []string
		for _, k := range reviewKeys(8) {
			f = append(f, `"`+k+`":[`+strings.TrimSuffix(strings.Repeat(`"",`, 200), ",")+`]`)
		}
		return reviewCert(tag, strings.Join(f, ","), `{"subset_intents":[],"proofs":[]}`)
	},
	"empty proofs": func(tag int) string {
		return reviewCert(tag, "", `{"subset_intents":[],"proofs":[`+strings.TrimSuffix(strings.Repeat(`{"siblings":[]},`, 600), ",")+`]}`)
	},
}

// reviewFill packs as many certs of shape as fit in maxCachedChainBytes.
func reviewFill(t testing.TB, mk func(int) string, tag int) []byte {
	var certs []string
	for range a1.MaxDecodeCerts {
		c := append(certs, mk(tag))
		if len(reviewChain(c)) > maxCachedChainBytes {
			break
		}
		certs = c
	}
	if len(certs) == 0 {
		t.Fatal("shape does not fit")
	}
	return reviewChain(certs)
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestChainCacheCostCovers: chainCost is an upper bound of the measured
// heap an entry holds, for each adversarial shape.
func TestChainCacheCostCovers(t *testing.T) {
	for name, mk := range reviewShapes {
		raw := reviewFill(t, mk, 1)
		const n = 200
		entries := make([]*chainEntry, n)
		before := heapNow()
		for i := range entries {
			sc, err := a1.DecodeSignedChain(raw)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			entries[i] = &chainEntry{raw: append([]byte(nil), raw...), chain: sc}
		}
		per := float64(heapNow()-before) / n
		runtime.KeepAlive(entries)
		cost := chainCost(raw, entries[0].chain)
		t.Logf("%-12s json %5d B, heap %7.0f B, cost %7d B", name, len(raw), per, cost)
		if float64(cost) < per {
			t.Errorf("%s: chainCost %d below the measured %.0f bytes", name, cost, per)
		}
	}
}

// TestChainCacheMemoryBound: a flood of distinct adversarial chains keeps
// the cache's heap under chainCacheBytes (it would otherwise reach 2 ×
// chainCacheEntries × ~175 KiB ≈ 350 MiB).
func TestChainCacheMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few hundred MiB")
	}
	mk := reviewShapes["u64 fields"]
	raws := make([][]byte, 3*chainCacheEntries)
	for i := range raws {
		raws[i] = reviewFill(t, mk, i)
	}
	before := heapNow()
	c := newChainCache()
	for i, raw := range raws {
		if _, err := c.decode(raw); err != nil {
			t.Fatal(err)
		}
		if n := c.len(); n > 2*chainCacheEntries {
			t.Fatalf("%d entries after %d chains", n, i+1)
		}
	}
	grown := int64(heapNow()) - int64(before)
	runtime.KeepAlive(c)
	runtime.KeepAlive(raws)
	t.Logf("%d chains of %d B: cache holds %d entries, estimated %d MiB, heap +%d MiB",
		len(raws), len(raws[0]), c.len(), c.bytes()>>20, grown>>20)
	// docs/gateway.md: "under 64 MiB at worst".
	const documented = 64 << 20
	if grown > documented {
		t.Fatalf("cache heap grew %d MiB, documented bound %d MiB", grown>>20, documented>>20)
	}
	if c.bytes() > chainCacheBytes {
		t.Fatalf("estimated size %d above chainCacheBytes", c.bytes())
	}
	// Typical chains still fill the count bound, not the byte bound.
	c = newChainCache()
	raw := testChainJSON(t)
	for i := range 2 * chainCacheEntries {
		if _, err := c.decode(spaced(raw, i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.len(); n < 2*chainCacheEntries-1 {
		t.Fatalf("typical chains: %d entries cached, want ~%d", n, 2*chainCacheEntries)
	}
}
