package a1

import (
	"crypto/ed25519"
	"crypto/rand"
	"runtime"
	"testing"
)

func reviewHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestSigCacheBounds: a flood of distinct triples never grows the
// signature cache past its size (the gateway's 1<<16: ~128 B per triple in
// the map plus the ring), and the key is the whole triple: a triple that
// differs in the key, the digest or the signature is a miss.
func TestSigCacheBounds(t *testing.T) {
	const size = 1 << 16
	before := reviewHeap()
	c := NewSigCache(size)
	var e sigEntry
	for i := range 3 * size {
		e.digest[0], e.digest[1], e.digest[2] = byte(i), byte(i>>8), byte(i>>16)
		c.add(&e)
	}
	grown := int64(reviewHeap()) - int64(before)
	runtime.KeepAlive(c)
	if len(c.f.m) != size || len(c.f.ring) != size {
		t.Fatalf("map %d, ring %d entries, bound %d", len(c.f.m), len(c.f.ring), size)
	}
	t.Logf("%d triples: heap +%d MiB", size, grown>>20)
	if grown > 32<<20 {
		t.Fatalf("signature cache of %d triples holds %d MiB", size, grown>>20)
	}
	if !c.has(&e) {
		t.Fatal("the last triple is not cached")
	}
	for _, mut := range []func(*sigEntry){
		func(x *sigEntry) { x.pk[31] ^= 1 },
		func(x *sigEntry) { x.digest[31] ^= 1 },
		func(x *sigEntry) { x.sig[63] ^= 1 },
	} {
		x := e
		mut(&x)
		if c.has(&x) {
			t.Fatal("a triple differing from a cached one hits")
		}
	}
}

// TestKeyCacheBounds: distinct valid keys (which an attacker can
// send in any chain, signed or not) never grow the expanded-key cache past
// its size; each entry is a fixed-size expanded key (~3 KiB), so the bytes
// are bounded too.
func TestKeyCacheBounds(t *testing.T) {
	const size = DefaultSigCacheSize
	keys := make([]PublicKey, 2*size)
	for i := range keys {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = PublicKey(pub)
	}
	before := reviewHeap()
	c := NewKeyCache(size)
	for _, k := range keys {
		if _, err := c.expand(k); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(reviewHeap()) - int64(before)
	runtime.KeepAlive(c)
	if len(c.f.m) != size || len(c.f.ring) != size {
		t.Fatalf("map %d, ring %d entries, bound %d", len(c.f.m), len(c.f.ring), size)
	}
	t.Logf("%d keys: heap +%d MiB (%d B per key)", size, grown>>20, grown/size)
	if grown > 24<<20 {
		t.Fatalf("key cache of %d keys holds %d MiB", size, grown>>20)
	}
	// A hit is the expansion of that very key.
	last := keys[len(keys)-1]
	x, err := c.expand(last)
	if err != nil || x.CompressedY() != [32]byte(last) {
		t.Fatal("cached expansion does not belong to its key")
	}
	// A weak key is refused and not cached.
	var weak PublicKey
	weak[0] = 1 // the identity point: small order
	for range 2 {
		if _, err := c.expand(weak); err == nil {
			t.Fatal("weak key accepted")
		}
	}
	if _, ok := c.f.get(weak); ok {
		t.Fatal("weak key cached")
	}
}
