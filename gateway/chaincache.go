package gateway

import (
	"bytes"
	"hash/maphash"
	"sync"

	"github.com/a1-go/a1"
)

// chainCache memoizes a1.DecodeSignedChain. An agent re-sends the same
// reusable chain with every proof-of-possession request, so on the hot path
// the chain JSON is usually bytes the gateway has already decoded.
//
// Decoding is a pure function of the bytes, so a hit is exactly what
// decoding would return: the entry keeps a copy of the raw bytes and a hit
// requires bytes.Equal over all of them (the 64-bit hash only picks the
// slot). Nothing is trusted from the cache beyond decoding: signatures,
// validity times, revocation and nonces are checked on every request.
// Errors are not cached.
//
// The decoded chains are shared by concurrent requests and must be treated
// as immutable (the verifier, the response and the audit event only read
// them).
//
// The cache is bounded by count (two generations of chainCacheEntries: when
// the current one is full it becomes the old one and the previous old one
// is dropped; a hit in the old generation moves the entry forward) and by
// size (chains longer than maxCachedChainBytes are decoded every time).
// Each Server has one.
type chainCache struct {
	seed maphash.Seed

	mu       sync.Mutex
	cur, old map[uint64]*chainEntry
}

type chainEntry struct {
	raw   []byte // private copy of the chain JSON
	chain *a1.SignedChain
}

func newChainCache() *chainCache {
	return &chainCache{seed: maphash.MakeSeed(), cur: make(map[uint64]*chainEntry, chainCacheEntries)}
}

// decode returns the decoded chain of raw, from the cache when the same
// bytes were decoded before.
func (c *chainCache) decode(raw []byte) (*a1.SignedChain, error) {
	if len(raw) > maxCachedChainBytes {
		return a1.DecodeSignedChain(raw)
	}
	h := maphash.Bytes(c.seed, raw)
	c.mu.Lock()
	e := c.cur[h]
	if e == nil {
		if e = c.old[h]; e != nil && bytes.Equal(e.raw, raw) {
			c.putLocked(h, e)
		}
	}
	c.mu.Unlock()
	if e != nil && bytes.Equal(e.raw, raw) {
		return e.chain, nil
	}
	sc, err := a1.DecodeSignedChain(raw)
	if err != nil {
		return nil, err
	}
	e = &chainEntry{raw: bytes.Clone(raw), chain: sc}
	c.mu.Lock()
	c.putLocked(h, e)
	c.mu.Unlock()
	return sc, nil
}

func (c *chainCache) putLocked(h uint64, e *chainEntry) {
	if _, ok := c.cur[h]; !ok && len(c.cur) >= chainCacheEntries {
		c.old, c.cur = c.cur, make(map[uint64]*chainEntry, chainCacheEntries)
	}
	c.cur[h] = e
}

// len is the number of cached entries (for tests).
func (c *chainCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
