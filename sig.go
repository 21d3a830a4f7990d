package a1

import (
	"crypto/rand"
	"sync"

	"filippo.io/edwards25519"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// The one Ed25519 acceptance rule, shared by single and batch verification
// (docs/adr/0002-ed25519-rule.md): ZIP-215 (cofactored equation,
// non-canonical point encodings of A and R accepted, S must be canonical),
// except that small-order public keys are rejected.
var sigOptions = &voi.Options{Verify: &voi.VerifyOptions{
	AllowSmallOrderA:   false,
	AllowSmallOrderR:   true,
	AllowNonCanonicalA: true,
	AllowNonCanonicalR: true,
}}

// batchThreshold is the number of uncached signatures from which a batch
// verification pays off (BenchmarkSigSet; a batch allocates ~9 KiB).
const batchThreshold = 4

// CheckPublicKey reports whether pk is an acceptable Ed25519 public key: it
// decodes to a curve point that is not of small order. It returns
// ErrMalformed or ErrWeakKey.
func CheckPublicKey(pk PublicKey) error {
	p, err := new(edwards25519.Point).SetBytes(pk[:])
	if err != nil {
		return wireError("public key is not a valid Ed25519 point")
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return newErr(ErrWeakKey, "")
	}
	return nil
}

// VerifySignature verifies sig over msg under pk with the project's single
// Ed25519 rule. It does not consult any cache.
func VerifySignature(pk PublicKey, msg []byte, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	return voi.VerifyWithOptions(voi.PublicKey(pk[:]), msg, sig, sigOptions)
}

// fifo is a bounded set with first-in-first-out eviction: cheap, and an
// attacker who floods it only evicts entries, never grows it.
type fifo[K comparable, V any] struct {
	mu   sync.Mutex
	max  int
	m    map[K]V
	ring []K
	next int
}

func newFIFO[K comparable, V any](size int) *fifo[K, V] {
	return &fifo[K, V]{max: size, m: make(map[K]V, size)}
}

func (f *fifo[K, V]) get(k K) (V, bool) {
	f.mu.Lock()
	v, ok := f.m[k]
	f.mu.Unlock()
	return v, ok
}

func (f *fifo[K, V]) put(k K, v V) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[k]; ok {
		return
	}
	if len(f.ring) < f.max {
		f.ring = append(f.ring, k)
	} else {
		delete(f.m, f.ring[f.next])
		f.ring[f.next] = k
		f.next = (f.next + 1) % f.max
	}
	f.m[k] = v
}

type sigEntry struct {
	pk     PublicKey
	digest [32]byte
	sig    [64]byte
}

// SigCache remembers verified (public key, digest, signature) triples, so a
// reused passport root or orchestrator cert costs no Ed25519 work. It is
// bounded and safe for concurrent use.
type SigCache struct{ f *fifo[sigEntry, struct{}] }

// NewSigCache returns a cache of at most size triples.
func NewSigCache(size int) *SigCache {
	if size <= 0 {
		size = DefaultSigCacheSize
	}
	return &SigCache{f: newFIFO[sigEntry, struct{}](size)}
}

func (c *SigCache) has(e *sigEntry) bool {
	if c == nil {
		return false
	}
	_, ok := c.f.get(*e)
	return ok
}

func (c *SigCache) add(e *sigEntry) {
	if c != nil {
		c.f.put(*e, struct{}{})
	}
}

// KeyCache remembers validated public keys in expanded form (point
// decompressed, small-order check done, verification tables built), so a
// recurring principal or orchestrator key costs neither. Bounded, FIFO,
// safe for concurrent use.
type KeyCache struct {
	f *fifo[PublicKey, *voi.ExpandedPublicKey]
}

// NewKeyCache returns a cache of at most size keys.
func NewKeyCache(size int) *KeyCache {
	if size <= 0 {
		size = DefaultSigCacheSize
	}
	return &KeyCache{f: newFIFO[PublicKey, *voi.ExpandedPublicKey](size)}
}

// expand validates pk (CheckPublicKey) and returns its expanded form,
// remembering it. A nil cache validates and expands every time.
func (c *KeyCache) expand(pk PublicKey) (*voi.ExpandedPublicKey, error) {
	if c != nil {
		if x, ok := c.f.get(pk); ok {
			return x, nil
		}
	}
	if err := CheckPublicKey(pk); err != nil {
		return nil, err
	}
	x, err := voi.NewExpandedPublicKey(voi.PublicKey(pk[:]))
	if err != nil {
		return nil, wireError("public key is not a valid Ed25519 point")
	}
	if c != nil {
		c.f.put(pk, x)
	}
	return x, nil
}

// verifyAll verifies the triples (keys already expanded, same order),
// skipping cached ones, verifying singly below batchThreshold and in one
// batch from there. It returns the index of the first failing triple, or -1.
func (c *SigCache) verifyAll(entries []sigEntry, keys []*voi.ExpandedPublicKey) int {
	var buf [8]int
	pending := buf[:0]
	for i := range entries {
		if !c.has(&entries[i]) {
			pending = append(pending, i)
		}
	}
	if len(pending) < batchThreshold {
		for _, i := range pending {
			e := &entries[i]
			if !voi.VerifyExpandedWithOptions(keys[i], e.digest[:], e.sig[:], sigOptions) {
				return i
			}
			c.add(e)
		}
		return -1
	}
	bv := voi.NewBatchVerifierWithCapacity(len(pending))
	for _, i := range pending {
		e := &entries[i]
		bv.AddExpandedWithOptions(keys[i], e.digest[:], e.sig[:], sigOptions)
	}
	ok, valid := bv.Verify(rand.Reader)
	first := -1
	for j, i := range pending {
		if ok || valid[j] {
			c.add(&entries[i])
		} else if first < 0 {
			first = i
		}
	}
	return first
}
