package a1

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"

	"filippo.io/edwards25519"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// batchRaw batch-verifies with the rule's options, unexpanded keys.
func batchRaw(entries []sigEntry) bool {
	bv := voi.NewBatchVerifierWithCapacity(len(entries))
	for i := range entries {
		bv.AddWithOptions(voi.PublicKey(entries[i].pk[:]), entries[i].digest[:], entries[i].sig[:], sigOptions)
	}
	ok, _ := bv.Verify(rand.Reader)
	return ok
}

// Edge-case vectors for the single Ed25519 rule (docs/adr/0002): every
// small-order public key (eight canonical encodings plus the six
// non-canonical ones) is rejected, mixed-order points and low-order
// residues are accepted (ZIP-215, cofactored), non-canonical S is rejected,
// and the single and batch paths agree on every case.

// torsion returns the eight points of the 8-torsion subgroup.
func torsion(t *testing.T) []*edwards25519.Point {
	t.Helper()
	// [L]P for a point P with a full-order component is a torsion point;
	// search for one of order exactly 8.
	lBytes := make([]byte, 32)
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	lb := l.Bytes()
	for i := range lb {
		lBytes[i] = lb[len(lb)-1-i]
	}
	for y := byte(2); y < 200; y++ {
		enc := make([]byte, 32)
		enc[0] = y
		p, err := new(edwards25519.Point).SetBytes(enc)
		if err != nil {
			continue
		}
		// Multiply by L with double-and-add over the little-endian bits
		// (Scalar cannot hold L itself).
		acc := edwards25519.NewIdentityPoint()
		for i := 255; i >= 0; i-- {
			acc.Add(acc, acc)
			if lBytes[i/8]>>(i%8)&1 == 1 {
				acc.Add(acc, p)
			}
		}
		four := new(edwards25519.Point).Add(acc, acc)
		four.Add(four, four)
		if four.Equal(edwards25519.NewIdentityPoint()) == 1 {
			continue // order < 8
		}
		pts := []*edwards25519.Point{edwards25519.NewIdentityPoint()}
		for k := 1; k < 8; k++ {
			pts = append(pts, new(edwards25519.Point).Add(pts[k-1], acc))
		}
		return pts
	}
	t.Fatal("no torsion point found")
	return nil
}

// smallOrderEncodings returns the 8 canonical and 6 non-canonical encodings
// of small-order points.
func smallOrderEncodings(t *testing.T) [][32]byte {
	var out [][32]byte
	for _, p := range torsion(t) {
		out = append(out, [32]byte(p.Bytes()))
	}
	pHex := "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f" // p, little-endian
	mk := func(h string, sign bool) [32]byte {
		b, _ := hex.DecodeString(h)
		var e [32]byte
		copy(e[:], b)
		if sign {
			e[31] |= 0x80
		}
		return e
	}
	one := "0100000000000000000000000000000000000000000000000000000000000000"
	minusOne := "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
	pPlusOne := "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
	out = append(out, mk(one, true), mk(minusOne, true), mk(pPlusOne, false), mk(pPlusOne, true),
		mk(pHex, false), mk(pHex, true))
	return out
}

type edgeKey struct {
	a      *edwards25519.Scalar
	A      *edwards25519.Point
	prefix []byte
}

func newEdgeKey(seed byte) edgeKey {
	s := make([]byte, 32)
	s[0] = seed
	h := sha512.Sum512(s)
	a, _ := new(edwards25519.Scalar).SetBytesWithClamping(h[:32])
	return edgeKey{a: a, A: new(edwards25519.Point).ScalarBaseMult(a), prefix: h[32:]}
}

func challenge(R, A []byte, msg []byte) *edwards25519.Scalar {
	h := sha512.New()
	h.Write(R)
	h.Write(A)
	h.Write(msg)
	k, _ := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	return k
}

// signWith builds a signature whose R and A encodings are given, for a key
// with secret scalar a: S = r + k·a where R = [r]B + torsionR.
func signWith(r *edwards25519.Scalar, Renc, Aenc []byte, a *edwards25519.Scalar, msg []byte) []byte {
	k := challenge(Renc, Aenc, msg)
	S := new(edwards25519.Scalar).MultiplyAdd(k, a, r)
	return append(append([]byte{}, Renc...), S.Bytes()...)
}

type edgeCase struct {
	name string
	pk   [32]byte
	msg  []byte
	sig  []byte
	want bool
}

func edgeCases(t *testing.T) []edgeCase {
	msg := make([]byte, 32) // digest-shaped, as every signed a1 message is
	copy(msg, "a1 edge case")
	var cases []edgeCase
	k := newEdgeKey(7)
	r, _ := new(edwards25519.Scalar).SetUniformBytes(make([]byte, 64))
	r.Add(r, k.a) // any nonzero scalar
	Rp := new(edwards25519.Point).ScalarBaseMult(r)
	T := torsion(t)

	cases = append(cases, edgeCase{"valid", [32]byte(k.A.Bytes()), msg,
		signWith(r, Rp.Bytes(), k.A.Bytes(), k.a, msg), true})
	bad := signWith(r, Rp.Bytes(), k.A.Bytes(), k.a, msg)
	bad[40] ^= 1
	cases = append(cases, edgeCase{"tampered_S", [32]byte(k.A.Bytes()), msg, bad, false})

	// Non-canonical S: S + L.
	good := signWith(r, Rp.Bytes(), k.A.Bytes(), k.a, msg)
	S := new(big.Int).SetBytes(reverse(good[32:]))
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	S.Add(S, l)
	nc := append(append([]byte{}, good[:32]...), pad32(reverse(S.Bytes()))...)
	cases = append(cases, edgeCase{"non_canonical_S", [32]byte(k.A.Bytes()), msg, nc, false})

	// Mixed-order R (low-order residue): R' = [r]B + T3. Cofactored accepts.
	R3 := new(edwards25519.Point).Add(Rp, T[3])
	cases = append(cases, edgeCase{"mixed_order_R", [32]byte(k.A.Bytes()), msg,
		signWith(r, R3.Bytes(), k.A.Bytes(), k.a, msg), true})

	// Mixed-order A: A' = A + T5 (not small order). Cofactored accepts.
	A5 := new(edwards25519.Point).Add(k.A, T[5])
	cases = append(cases, edgeCase{"mixed_order_A", [32]byte(A5.Bytes()), msg,
		signWith(r, Rp.Bytes(), A5.Bytes(), k.a, msg), true})

	// Small-order A with small-order R and S = 0 satisfies the cofactored
	// equation; the explicit small-order key rule rejects all of them.
	encs := smallOrderEncodings(t)
	for i, A := range encs {
		R := encs[(i+3)%len(encs)]
		sig := append(append([]byte{}, R[:]...), make([]byte, 32)...)
		cases = append(cases, edgeCase{"small_order_A_" + hex.EncodeToString(A[:4]) + "_" + itoa(i), A, msg, sig, false})
	}
	return cases
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

func pad32(b []byte) []byte {
	out := make([]byte, 32)
	copy(out, b)
	return out
}

func TestEd25519EdgeCasesSingleAndBatchAgree(t *testing.T) {
	cases := edgeCases(t)
	if n := len(smallOrderEncodings(t)); n != 14 {
		t.Fatalf("want 14 small-order encodings, got %d", n)
	}
	valid := cases[0]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			single := CheckPublicKey(PublicKey(c.pk)) == nil && VerifySignature(PublicKey(c.pk), c.msg, c.sig)
			if single != c.want {
				t.Fatalf("single verify = %v, want %v", single, c.want)
			}
			// Batch path (the verifier's own verifyAll, no cache): the edge
			// case beside a valid entry, so a real batch is formed.
			var e, ve sigEntry
			e.pk, e.digest = PublicKey(c.pk), [32]byte(c.msg)
			copy(e.sig[:], c.sig)
			ve.pk, ve.digest = PublicKey(valid.pk), [32]byte(valid.msg)
			copy(ve.sig[:], valid.sig)
			var nilCache *SigCache
			batch := false
			kv, errV := (*KeyCache)(nil).expand(ve.pk)
			ke, errE := (*KeyCache)(nil).expand(e.pk)
			if errV == nil && errE == nil {
				// Four entries force the batch path (batchThreshold).
				batch = nilCache.verifyAll([]sigEntry{ve, e, ve, e}, []*voi.ExpandedPublicKey{kv, ke, kv, ke}) == -1
			} else if errE != nil && !errors.Is(errE, ErrWeakKey) && c.want {
				t.Fatalf("key rejected: %v", errE)
			}
			// The batch verifier alone, without the key check, must agree too.
			if raw := batchRaw([]sigEntry{ve, e, ve, e}); raw != c.want {
				t.Fatalf("raw batch verify = %v, want %v", raw, c.want)
			}
			if batch != c.want {
				t.Fatalf("batch verify = %v, want %v (single = %v)", batch, c.want, single)
			}
			if c.name == "mixed_order_R" {
				// crypto/ed25519 is cofactorless and rejects this one: the
				// disagreement DESIGN.md §3.4 describes.
				if ed25519.Verify(ed25519.PublicKey(c.pk[:]), c.msg, c.sig) {
					t.Error("expected crypto/ed25519 to reject the low-order residue")
				}
			}
		})
	}
	for _, A := range smallOrderEncodings(t) {
		if err := CheckPublicKey(PublicKey(A)); !errors.Is(err, ErrWeakKey) {
			t.Errorf("small-order key %x: %v", A, err)
		}
	}
}
