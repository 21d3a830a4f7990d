package a1

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// PoP is an executor's proof of possession (DESIGN.md §3a):
//
//	digest = DK("a1-go::pop::v1")[ LP(audience) ‖ chain_fingerprint ‖ intent_hash ‖ nonce(16) ‖ BE64(issued_at) ]
//
// signed with the executor's Ed25519 key.
type PoP struct {
	Audience  string
	Nonce     [16]byte
	IssuedAt  uint64
	Signature [64]byte
}

// BatchIntentHash is what a proof of possession binds in place of the
// intent hash for a batch request (docs/spec.md §1, ADR 0015): every intent
// of the batch, in request order,
//
//	DK("a1-go::batch-intents::v1")[ BE64(n) ‖ intent_hash_1 ‖ … ‖ intent_hash_n ]
//
// so a batch's proof can be used with exactly its intents and never as a
// single request's (another domain).
func BatchIntentHash(intents []IntentHash) IntentHash {
	w := newHW(hBatch)
	w.be64(uint64(len(intents)))
	for i := range intents {
		w.bytes(intents[i][:])
	}
	return IntentHash(w.sum())
}

// PoPDigest computes the signed digest of a proof of possession.
func PoPDigest(audience string, chainFP [32]byte, intent IntentHash, nonce [16]byte, issuedAt uint64) [32]byte {
	w := newHW(hPoP)
	w.lpStr(audience)
	w.bytes(chainFP[:])
	w.bytes(intent[:])
	w.bytes(nonce[:])
	w.be64(issuedAt)
	return w.sum()
}

// SignPoP creates a proof for the chain fingerprint and intent with a fresh
// random nonce.
func SignPoP(s crypto.Signer, audience string, chainFP [32]byte, intent IntentHash, issuedAt uint64) (*PoP, error) {
	p := &PoP{Audience: audience, IssuedAt: issuedAt}
	if _, err := rand.Read(p.Nonce[:]); err != nil {
		return nil, err
	}
	d := PoPDigest(audience, chainFP, intent, p.Nonce, issuedAt)
	sig, err := s.Sign(rand.Reader, d[:], crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("a1: signing proof: %w", err)
	}
	copy(p.Signature[:], sig)
	return p, nil
}

// PoPJSON is the wire form of a PoP.
type PoPJSON struct {
	Audience     string `json:"audience"`
	NonceHex     string `json:"nonce_hex"`
	IssuedAt     uint64 `json:"issued_at"`
	SignatureHex string `json:"signature_hex"`
}

// JSON returns the wire form.
func (p *PoP) JSON() PoPJSON {
	return PoPJSON{Audience: p.Audience, NonceHex: hex.EncodeToString(p.Nonce[:]), IssuedAt: p.IssuedAt,
		SignatureHex: hex.EncodeToString(p.Signature[:])}
}

// Parse validates the wire form's sizes and hex.
func (j PoPJSON) Parse() (*PoP, error) {
	p := &PoP{Audience: j.Audience, IssuedAt: j.IssuedAt}
	if len(j.Audience) > MaxAudienceLen {
		return nil, wireError("proof.audience too long")
	}
	if err := decodeHexInto(p.Nonce[:], j.NonceHex); err != nil {
		return nil, wireErrorf("proof.nonce_hex: %v", err)
	}
	if err := decodeHexInto(p.Signature[:], j.SignatureHex); err != nil {
		return nil, wireErrorf("proof.signature_hex: %v", err)
	}
	return p, nil
}

func (v *Verifier) checkPoP(req *Request, chainFP [32]byte, now uint64) error {
	p := req.PoP
	if subtleStringEq(p.Audience, v.audience) != 1 {
		return newErr(ErrInvalidProof, "invalid proof of possession: audience does not name this gateway")
	}
	if p.IssuedAt > satAdd(now, v.drift) || p.IssuedAt < satSub(now, v.drift) {
		return newErr(ErrProofExpired, fmt.Sprintf(
			"proof of possession outside the time window (issued_at=%d, now=%d, drift=%d)", p.IssuedAt, now, v.drift))
	}
	x, err := v.keys.expand(req.Executor)
	if err != nil {
		return newErr(ErrInvalidProof, "invalid proof of possession: bad executor key")
	}
	bound := req.Intent
	if req.PoPIntent != (IntentHash{}) {
		bound = req.PoPIntent
	}
	d := PoPDigest(p.Audience, chainFP, bound, p.Nonce, p.IssuedAt)
	if !voi.VerifyExpandedWithOptions(x, d[:], p.Signature[:], sigOptions) {
		return newErr(ErrInvalidProof, "invalid proof of possession: signature does not verify under executor_pk_hex")
	}
	return nil
}

func subtleStringEq(a, b string) int {
	if len(a) != len(b) {
		return 0
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	if v == 0 {
		return 1
	}
	return 0
}

// RevocationDigest is the digest a signed revocation signs (DESIGN.md §3a):
//
//	DK("a1-go::revoke::v1")[ LP(audience) ‖ fingerprint(32) ‖ BE64(issued_at) ‖ LP(reason) ]
func RevocationDigest(audience string, fingerprint [32]byte, issuedAt uint64, reason string) [32]byte {
	w := newHW(hRevoke)
	w.lpStr(audience)
	w.bytes(fingerprint[:])
	w.be64(issuedAt)
	w.lpStr(reason)
	return w.sum()
}

// SignedRevocation asks to revoke chain.Certs[Index] without the admin token.
type SignedRevocation struct {
	Chain     *SignedChain
	Index     int
	Reason    string
	IssuedAt  uint64
	Revoker   PublicKey
	Signature [64]byte
}

// Sign fills Revoker and Signature.
func (r *SignedRevocation) Sign(s crypto.Signer, audience string) error {
	pk, err := PublicKeyOf(s)
	if err != nil {
		return err
	}
	if r.Chain == nil || r.Index < 0 || r.Index >= len(r.Chain.Certs) {
		return wireError("revocation index out of range")
	}
	r.Revoker = pk
	d := RevocationDigest(audience, r.Chain.Certs[r.Index].Fingerprint(), r.IssuedAt, r.Reason)
	sig, err := s.Sign(rand.Reader, d[:], crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("a1: signing revocation: %w", err)
	}
	copy(r.Signature[:], sig)
	return nil
}

// VerifyRevocation checks a signed revocation and returns the fingerprint
// to revoke. It is allowed iff certs 0..Index pass every check of Verify
// but the clock (linkage, version, validity period, expiry nesting, depth,
// distinct nonces, scope and mask narrowing, signatures; an expired cert
// can be revoked), the principal is trusted, the revoker is the principal or the
// delegator of some cert 0..Index, and |now − issued_at| ≤ 5 minutes.
func VerifyRevocation(r *SignedRevocation, roots TrustAnchors, audience string, now uint64) ([32]byte, error) {
	var zero [32]byte
	sc := r.Chain
	if sc == nil || len(sc.Certs) == 0 {
		return zero, newErr(ErrEmptyChain, "")
	}
	if r.Index < 0 || r.Index >= len(sc.Certs) {
		return zero, wireErrorf("index %d out of range for a chain of %d certs", r.Index, len(sc.Certs))
	}
	if len(r.Reason) > MaxRevocationReasonLen {
		return zero, wireErrorf("reason longer than %d bytes", MaxRevocationReasonLen)
	}
	if r.IssuedAt > now+RevocationMaxSkewSecs || r.IssuedAt+RevocationMaxSkewSecs < now {
		return zero, newErr(ErrProofExpired, "signed revocation is outside the 5-minute window")
	}
	if sc.Certs[0].DelegatorPK != sc.PrincipalPK {
		return zero, newErr(ErrRootMismatch, "")
	}
	if roots == nil || !roots.Trusted(sc.PrincipalPK) {
		return zero, newErr(ErrUntrustedRoot, "")
	}
	// Certs 0..Index must form a path the verifier would accept, the
	// clock aside (an expired cert can be revoked). Linkage and signatures
	// alone are not enough: a revoker signs any cert it likes, so with
	// them alone it could append a forged link "revoker → K" and then any
	// cert K ever signed (even its own ancestors, or a cycle back to the
	// principal) and pose as their ancestor. Depth, scope narrowing,
	// expiry nesting and distinct nonces confine such a path to certs the
	// revoker could legitimately have delegated to itself.
	if r.Index >= MaxChainCerts {
		return zero, hopErr(ErrDepthExceeded, MaxChainCerts,
			fmt.Sprintf("depth limit exceeded at hop %d (limit=%d)", MaxChainCerts, MaxChainCerts))
	}
	w := newPathWalk(sc)
	allowed := false
	for i, c := range sc.Certs[:r.Index+1] {
		if err := w.enter(i, c); err != nil {
			return zero, err
		}
		if err := w.narrow(sc, i, c); err != nil {
			return zero, err
		}
		if err := c.VerifySignature(); err != nil {
			return zero, hopErr(ErrInvalidSignature, i, fmt.Sprintf("invalid signature at hop %d", i))
		}
		if c.DelegatorPK == r.Revoker {
			allowed = true
		}
		w.advance(c)
	}
	if !allowed {
		return zero, newErr(ErrRevocationDenied, "")
	}
	fp := sc.Certs[r.Index].Fingerprint()
	d := RevocationDigest(audience, fp, r.IssuedAt, r.Reason)
	if CheckPublicKey(r.Revoker) != nil || !VerifySignature(r.Revoker, d[:], r.Signature[:]) {
		return zero, newErr(ErrInvalidProof, "revocation signature does not verify under revoker_pk_hex")
	}
	return fp, nil
}
