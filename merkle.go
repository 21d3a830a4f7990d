package a1

import (
	"bytes"
	"crypto/subtle"
	"sort"
)

// ProofStep is one sibling of a Merkle inclusion proof. IsLeft means the
// sibling is the left child (the running node is on the right).
type ProofStep struct {
	Hash   [32]byte
	IsLeft bool
}

// MerkleProof is an inclusion proof from a leaf up to a root (PROTOCOL.md
// §3.4). The empty proof means "the leaf is the root".
type MerkleProof struct {
	Siblings []ProofStep
}

func merkleNode(l, r *[32]byte) [32]byte {
	w := newHW(hMerkleNode)
	w.u8(certVersion1)
	w.bytes(l[:])
	w.bytes(r[:])
	return w.sum()
}

// Verify reports whether the proof connects leaf to root (constant-time
// final comparison).
func (p MerkleProof) Verify(leaf IntentHash, root [32]byte) bool {
	cur := [32]byte(leaf)
	for i := range p.Siblings {
		s := &p.Siblings[i]
		if s.IsLeft {
			cur = merkleNode(&s.Hash, &cur)
		} else {
			cur = merkleNode(&cur, &s.Hash)
		}
	}
	return subtle.ConstantTimeCompare(cur[:], root[:]) == 1
}

// IntentTree is a BLAKE3 Merkle tree over sorted, de-duplicated intent
// hashes (PROTOCOL.md §3.2). An odd last node is promoted unchanged.
type IntentTree struct {
	layers [][][32]byte
}

// NewIntentTree builds the tree of leaves; order and duplicates don't matter.
func NewIntentTree(leaves []IntentHash) (*IntentTree, error) {
	if len(leaves) == 0 {
		return nil, newErr(ErrEmptyTree, "")
	}
	l0 := make([][32]byte, len(leaves))
	for i, h := range leaves {
		l0[i] = h
	}
	sort.Slice(l0, func(i, j int) bool { return bytes.Compare(l0[i][:], l0[j][:]) < 0 })
	n := 1
	for i := 1; i < len(l0); i++ {
		if l0[i] != l0[n-1] {
			l0[n] = l0[i]
			n++
		}
	}
	l0 = l0[:n]
	t := &IntentTree{layers: [][][32]byte{l0}}
	cur := l0
	for len(cur) > 1 {
		next := make([][32]byte, 0, (len(cur)+1)/2)
		for i := 0; i+1 < len(cur); i += 2 {
			next = append(next, merkleNode(&cur[i], &cur[i+1]))
		}
		if len(cur)%2 == 1 {
			next = append(next, cur[len(cur)-1])
		}
		t.layers = append(t.layers, next)
		cur = next
	}
	return t, nil
}

// TreeRoot is the root of the tree over leaves.
func TreeRoot(leaves []IntentHash) ([32]byte, error) {
	t, err := NewIntentTree(leaves)
	if err != nil {
		return [32]byte{}, err
	}
	return t.Root(), nil
}

// Root returns the tree root (a one-leaf tree's root is the leaf).
func (t *IntentTree) Root() [32]byte { return t.layers[len(t.layers)-1][0] }

// Leaves returns the sorted, de-duplicated leaves.
func (t *IntentTree) Leaves() []IntentHash {
	out := make([]IntentHash, len(t.layers[0]))
	for i, l := range t.layers[0] {
		out[i] = l
	}
	return out
}

// Contains reports whether leaf is in the tree.
func (t *IntentTree) Contains(leaf IntentHash) bool {
	_, ok := t.index(leaf)
	return ok
}

func (t *IntentTree) index(leaf IntentHash) (int, bool) {
	l0 := t.layers[0]
	i := sort.Search(len(l0), func(i int) bool { return bytes.Compare(l0[i][:], leaf[:]) >= 0 })
	return i, i < len(l0) && l0[i] == [32]byte(leaf)
}

// Prove returns the inclusion proof of leaf (PROTOCOL.md §3.3).
func (t *IntentTree) Prove(leaf IntentHash) (MerkleProof, error) {
	pos, ok := t.index(leaf)
	if !ok {
		return MerkleProof{}, newErr(ErrIntentNotFound, "")
	}
	var p MerkleProof
	for _, layer := range t.layers[:len(t.layers)-1] {
		sib := pos + 1
		if pos%2 == 1 {
			sib = pos - 1
		}
		if sib < len(layer) {
			p.Siblings = append(p.Siblings, ProofStep{Hash: layer[sib], IsLeft: pos%2 == 1})
		}
		pos /= 2
	}
	return p, nil
}
