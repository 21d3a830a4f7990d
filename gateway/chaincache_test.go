package gateway

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
	"time"

	"github.com/a1-go/a1"
)

// testChainJSON returns the JSON of a fresh, validly signed 2-hop chain.
func testChainJSON(t *testing.T) []byte {
	t.Helper()
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	_, ok, _ := ed25519.GenerateKey(rand.Reader)
	tool, _, _ := ed25519.GenerateKey(rand.Reader)
	pub := func(k ed25519.PrivateKey) a1.PublicKey { return a1.PublicKey(k.Public().(ed25519.PublicKey)) }
	var leaves []a1.IntentHash
	for _, s := range []string{"AAPL", "MSFT"} {
		h, err := a1.HashIntent("trade.equity", map[string]string{"symbol": s})
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, h)
	}
	tree, err := a1.NewIntentTree(leaves)
	if err != nil {
		t.Fatal(err)
	}
	now := uint64(time.Now().Unix())
	c1, err := a1.NewCert(pub(ok), leaves, now-5, 3600)
	if err != nil {
		t.Fatal(err)
	}
	c1.MaxDepth = 8
	if err := c1.Sign(hk); err != nil {
		t.Fatal(err)
	}
	c2, err := a1.NewSubCert(a1.PublicKey(tool), tree, leaves[:1], now-5, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Sign(ok); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(a1.NewChain(pub(hk), c1.ScopeRoot, c1, c2))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// spaced inserts n spaces after the opening brace: the same chain, other bytes.
func spaced(raw []byte, n int) []byte {
	return append(append([]byte{'{'}, bytes.Repeat([]byte{' '}, n)...), raw[1:]...)
}

func TestChainCacheHitIsTheDecodedChain(t *testing.T) {
	c := newChainCache()
	raw := testChainJSON(t)
	want, err := a1.DecodeSignedChain(raw)
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	// A hit from a different buffer with the same bytes: the same value.
	second, err := c.decode(bytes.Clone(raw))
	if err != nil || second != first {
		t.Fatalf("second decode: %v, same entry %v", err, second == first)
	}
	if !chainsEqual(t, first, want) {
		t.Fatal("cached chain differs from a fresh decode")
	}
	// The cache keeps its own copy: changing the caller's buffer afterwards
	// must not change what later lookups match.
	buf := bytes.Clone(raw)
	if _, err := c.decode(buf); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = ' '
	}
	if got, err := c.decode(raw); err != nil || got != first {
		t.Fatalf("lookup after the caller's buffer changed: %v", err)
	}
	// Every byte is part of the key: other bytes, same meaning → other entry.
	other, err := c.decode(spaced(raw, 1))
	if err != nil || other == first {
		t.Fatalf("differently spaced chain: %v, shared entry %v", err, other == first)
	}
	if !chainsEqual(t, other, want) {
		t.Fatal("spaced chain decodes differently")
	}
}

func TestChainCacheErrorsNotCached(t *testing.T) {
	c := newChainCache()
	raw := testChainJSON(t)
	bad := bytes.Replace(raw, []byte(`"version":1`), []byte(`"version":2`), 1)
	for range 2 {
		if _, err := c.decode(bad); err == nil {
			t.Fatal("bad chain accepted")
		}
	}
	if c.len() != 0 {
		t.Fatalf("%d entries after errors", c.len())
	}
}

// TestChainCacheCollisionSafe plants another chain under raw's hash: a
// lookup must compare the bytes and decode raw itself.
func TestChainCacheCollisionSafe(t *testing.T) {
	c := newChainCache()
	raw, other := testChainJSON(t), testChainJSON(t)
	otherChain, err := a1.DecodeSignedChain(other)
	if err != nil {
		t.Fatal(err)
	}
	h := maphash.Bytes(c.seed, raw)
	c.cur[h] = &chainEntry{raw: other, chain: otherChain}
	c.old = map[uint64]*chainEntry{h: {raw: other, chain: otherChain}}
	got, err := c.decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := a1.DecodeSignedChain(raw)
	if got == otherChain || !chainsEqual(t, got, want) {
		t.Fatal("a hash collision returned another chain")
	}
}

func TestChainCacheBounded(t *testing.T) {
	c := newChainCache()
	raw := testChainJSON(t)
	for i := range 3*chainCacheEntries + 7 {
		if _, err := c.decode(spaced(raw, i)); err != nil {
			t.Fatal(err)
		}
		if n := c.len(); n > 2*chainCacheEntries {
			t.Fatalf("%d entries after %d chains, bound %d", n, i+1, 2*chainCacheEntries)
		}
	}
	// A chain above the size bound is decoded, never cached.
	big := spaced(raw, maxCachedChainBytes)
	c = newChainCache()
	a, err := c.decode(big)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.decode(big)
	if a == b || c.len() != 0 {
		t.Fatal("a chain above maxCachedChainBytes was cached")
	}
}

// TestChainCacheOldGenerationHit checks that an entry survives one
// generation switch and is moved forward when used.
func TestChainCacheOldGenerationHit(t *testing.T) {
	c := newChainCache()
	raw := testChainJSON(t)
	first, _ := c.decode(raw)
	for i := 1; i <= chainCacheEntries; i++ { // fills cur: raw moves to old
		if _, err := c.decode(spaced(raw, i)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := c.decode(raw); got != first {
		t.Fatal("old-generation entry not found")
	}
	if _, ok := c.cur[maphash.Bytes(c.seed, raw)]; !ok {
		t.Fatal("old-generation hit not moved to the current generation")
	}
}

// TestChainCacheConcurrent shares cached chains between goroutines that
// decode and verify them (run with -race: no one writes to a cached chain).
func TestChainCacheConcurrent(t *testing.T) {
	c := newChainCache()
	raws := [][]byte{testChainJSON(t), testChainJSON(t), testChainJSON(t)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				raw := raws[(g+i)%len(raws)]
				sc, err := c.decode(raw)
				if err != nil {
					errs <- err
					return
				}
				v := a1.NewVerifier(a1.NewRootSet(sc.PrincipalPK))
				_, err = v.Verify(&a1.Request{Chain: sc, Executor: sc.Certs[1].DelegatePK, Intent: mustHash(), Action: "trade.equity"})
				if err != nil {
					errs <- fmt.Errorf("verify: %w", err)
					return
				}
				_ = sc.PrincipalPK.Hex()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func mustHash() a1.IntentHash {
	h, _ := a1.HashIntent("trade.equity", map[string]string{"symbol": "AAPL"})
	return h
}

func chainsEqual(t *testing.T, a, b *a1.SignedChain) bool {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(ja, jb) && a.Fingerprint() == b.Fingerprint()
}
