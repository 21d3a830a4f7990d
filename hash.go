package a1

import (
	"encoding/binary"
	"sync"

	"github.com/zeebo/blake3"
)

// Domain contexts (PROTOCOL.md §1.2). The strings are hashed bytes: never
// edit them.
const (
	ctxCertSig    = "a1::64796f6c6f::cert::sig::v2.8.0"
	ctxCertFP     = "a1::64796f6c6f::cert::fp::v2.8.0"
	ctxChainFP    = "a1::64796f6c6f::chain::fp::v2.8.0"
	ctxIntentLeaf = "a1::64796f6c6f::intent::leaf::v2.8.0"
	ctxMerkleNode = "a1::64796f6c6f::merkle::node::v2.8.0"
	ctxSubscope   = "a1::64796f6c6f::subscope::commit::v2.8.0"
	ctxCertExt    = "a1::64796f6c6f::cert::ext::v2.8.0"
	ctxNSScope    = "a1::dyolo::namespace::scope::v2.8.0"
	ctxNarrowing  = "a1::dyolo::narrowing::v2.8.0"

	tagCertSig   = "a1::dyolo::cert::sig::v2.8.0"
	tagCertFP    = "a1::dyolo::cert::fp::v2.8.0"
	tagChain     = "a1::dyolo::chain::v2.8.0"
	tagIntent    = "a1::dyolo::intent::v2.8.0"
	tagSubscope  = "a1::dyolo::subscope::v2.8.0"
	tagCertExt   = "a1::dyolo::cert::ext::v2.8.0"
	tokenPrefix  = "a1_dyolo_v2.8.0:"
	certVersion1 = 1

	// Our own domains (DESIGN.md §3a and docs/spec.md).
	ctxPoP          = "a1-go::pop::v1"
	ctxBatchIntents = "a1-go::batch-intents::v1"
	ctxRevoke       = "a1-go::revoke::v1"
	ctxNonceKey     = "a1-go::nonce::v1"
	ctxReceipt      = "a1-go::receipt::v1"
	ctxTokenKey     = "a1-go::token-key::v1"
)

// domain is a derive-key context prepared once: blake3.NewDeriveKey hashes
// the context string and allocates ~10 KiB per call, so each domain keeps a
// pool of hashers that are Reset (back to the derived key) between uses.
type domain struct{ pool sync.Pool }

func newDomain(ctx string) *domain {
	base := blake3.NewDeriveKey(ctx)
	d := &domain{}
	d.pool.New = func() any { return &hw{h: base.Clone()} }
	return d
}

// Prepared derive-key domains.
var (
	hCertSig    = newDomain(ctxCertSig)
	hCertFP     = newDomain(ctxCertFP)
	hChainFP    = newDomain(ctxChainFP)
	hIntentLeaf = newDomain(ctxIntentLeaf)
	hMerkleNode = newDomain(ctxMerkleNode)
	hSubscope   = newDomain(ctxSubscope)
	hCertExt    = newDomain(ctxCertExt)
	hNSScope    = newDomain(ctxNSScope)
	hNarrowing  = newDomain(ctxNarrowing)
	hPoP        = newDomain(ctxPoP)
	hBatch      = newDomain(ctxBatchIntents)
	hRevoke     = newDomain(ctxRevoke)
	hNonceKey   = newDomain(ctxNonceKey)
	hReceipt    = newDomain(ctxReceipt)
)

// hw is a small writer over a pooled hasher with fixed-width helpers. Every
// newHW must be paired with exactly one sum, which returns it to the pool.
type hw struct {
	h    *blake3.Hasher
	buf  [8]byte
	from *domain
}

func newHW(d *domain) *hw {
	w := d.pool.Get().(*hw)
	w.from = d
	return w
}

func (w *hw) bytes(b []byte) { w.h.Write(b) }
func (w *hw) str(s string)   { w.h.WriteString(s) }
func (w *hw) u8(v byte)      { w.buf[0] = v; w.h.Write(w.buf[:1]) }
func (w *hw) le64(v uint64)  { binary.LittleEndian.PutUint64(w.buf[:], v); w.h.Write(w.buf[:]) }
func (w *hw) be64(v uint64)  { binary.BigEndian.PutUint64(w.buf[:], v); w.h.Write(w.buf[:]) }
func (w *hw) lp(b []byte)    { w.le64(uint64(len(b))); w.h.Write(b) }
func (w *hw) lpStr(s string) { w.le64(uint64(len(s))); w.h.WriteString(s) }
func (w *hw) sum() (out [32]byte) {
	w.h.Sum(out[:0])
	w.h.Reset()
	w.from.pool.Put(w)
	return out
}
