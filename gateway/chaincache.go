package gateway

import (
	"bytes"
	"hash/maphash"
	"sync"
	"unsafe"

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
// The cache is bounded by count and by memory: two generations, each of at
// most chainCacheEntries entries and chainCacheBytes/2 bytes (the raw copy
// plus an upper estimate of the decoded chain, chainCost). When the current
// one is full it becomes the old one and the previous old one is dropped; a
// hit in the old generation moves the entry forward. Chains longer than
// maxCachedChainBytes are decoded every time. The byte bound matters
// because decoding can amplify: 16 KiB of extension fields like "a":0
// decode to ~160 KiB of maps. Each Server has one.
type chainCache struct {
	seed maphash.Seed

	mu       sync.Mutex
	cur, old map[uint64]*chainEntry
	curBytes int // chainCost summed over cur
}

type chainEntry struct {
	raw   []byte // private copy of the chain JSON
	chain *a1.SignedChain
	cost  int // chainCost(raw, chain)
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
	e = &chainEntry{raw: bytes.Clone(raw), chain: sc, cost: chainCost(raw, sc)}
	if e.cost > chainCacheBytes/2 {
		return sc, nil
	}
	c.mu.Lock()
	c.putLocked(h, e)
	c.mu.Unlock()
	return sc, nil
}

func (c *chainCache) putLocked(h uint64, e *chainEntry) {
	if p, ok := c.cur[h]; ok {
		c.curBytes -= p.cost
		delete(c.cur, h)
	}
	if len(c.cur) >= chainCacheEntries || c.curBytes+e.cost > chainCacheBytes/2 {
		c.old, c.cur, c.curBytes = c.cur, make(map[uint64]*chainEntry, chainCacheEntries), 0
	}
	c.cur[h] = e
	c.curBytes += e.cost
}

// chainCost is an upper estimate of the heap an entry holds: the raw copy,
// the decoded chain (structs, slices by capacity, extension maps and
// strings) and the entry's share of the maps, plus 1/8 for allocation
// size classes. TestChainCacheCostCovers checks it against the measured
// heap of adversarial chains.
func chainCost(raw []byte, sc *a1.SignedChain) int {
	const (
		ptr     = int(unsafe.Sizeof(uintptr(0)))
		str     = int(unsafe.Sizeof(""))
		extSlot = 2 * (str + int(unsafe.Sizeof(a1.ExtValue{}))) // map slot at half load
		mapBase = 512                                           // a small map's header and first groups
	)
	n := len(raw) + int(unsafe.Sizeof(chainEntry{})) + 2*(8+ptr) // entry and its slot in cur and old
	n += int(unsafe.Sizeof(*sc)) + cap(sc.Certs)*ptr
	for _, c := range sc.Certs {
		n += int(unsafe.Sizeof(*c))
		n += cap(c.ScopeProof.SubsetIntents) * int(unsafe.Sizeof(a1.IntentHash{}))
		n += cap(c.ScopeProof.Proofs) * int(unsafe.Sizeof(a1.MerkleProof{}))
		for _, p := range c.ScopeProof.Proofs {
			n += cap(p.Siblings) * int(unsafe.Sizeof(a1.ProofStep{}))
		}
		if c.Extensions.Len() == 0 {
			continue
		}
		keys := c.Extensions.Keys()
		n += mapBase + len(keys)*extSlot
		for _, k := range keys {
			v, _ := c.Extensions.Get(k)
			n += str + len(k) + str + len(v.Str) + cap(v.Strings)*str
			for _, x := range v.Strings {
				n += str + len(x)
			}
		}
	}
	return n + n/8
}

// len is the number of cached entries (for tests).
func (c *chainCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

// bytes is the cost of the cached entries (for tests).
func (c *chainCache) bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.curBytes
	for h, e := range c.old {
		if c.cur[h] != e {
			n += e.cost
		}
	}
	return n
}
