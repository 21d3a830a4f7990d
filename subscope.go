package a1

import "crypto/subtle"

// SubScopeProof narrows a parent scope to a subset of its intents
// (PROTOCOL.md §4). Both lists empty is the full pass-through.
type SubScopeProof struct {
	SubsetIntents []IntentHash
	Proofs        []MerkleProof
}

// IsPassthrough reports whether both lists are empty.
func (s SubScopeProof) IsPassthrough() bool {
	return len(s.SubsetIntents) == 0 && len(s.Proofs) == 0
}

// Commitment is the signed commitment to the proof (PROTOCOL.md §4.2).
func (s SubScopeProof) Commitment() [32]byte {
	w := newHW(hSubscope)
	w.u8(certVersion1)
	w.str(tagSubscope)
	w.le64(uint64(len(s.SubsetIntents)))
	for i := range s.SubsetIntents {
		w.bytes(s.SubsetIntents[i][:])
	}
	w.le64(uint64(len(s.Proofs)))
	for _, p := range s.Proofs {
		w.le64(uint64(len(p.Siblings)))
		for i := range p.Siblings {
			w.bytes(p.Siblings[i].Hash[:])
			if p.Siblings[i].IsLeft {
				w.u8(1)
			} else {
				w.u8(0)
			}
		}
	}
	return w.sum()
}

// BuildSubScopeProof proves each of intents (caller order, duplicates kept)
// against parent. The child's scope root is TreeRoot(intents).
func BuildSubScopeProof(parent *IntentTree, intents []IntentHash) (SubScopeProof, error) {
	p := SubScopeProof{SubsetIntents: append([]IntentHash(nil), intents...)}
	for _, in := range intents {
		pr, err := parent.Prove(in)
		if err != nil {
			return SubScopeProof{}, err
		}
		p.Proofs = append(p.Proofs, pr)
	}
	return p, nil
}

// VerifyAndDeriveRoot checks every subset intent against parentRoot and
// returns the root of the subset tree (PROTOCOL.md §4.5).
func (s SubScopeProof) VerifyAndDeriveRoot(parentRoot [32]byte) ([32]byte, error) {
	if len(s.SubsetIntents) == 0 {
		return parentRoot, nil
	}
	if len(s.SubsetIntents) != len(s.Proofs) {
		return [32]byte{}, newErr(ErrInvalidSubScopeProof, "")
	}
	for i := range s.SubsetIntents {
		if !s.Proofs[i].Verify(s.SubsetIntents[i], parentRoot) {
			return [32]byte{}, newErr(ErrInvalidSubScopeProof, "")
		}
	}
	return TreeRoot(s.SubsetIntents)
}

// checkSubset applies SCOPE_IS_SUBSET at hop i (PROTOCOL.md §4.6).
func checkSubset(s *SubScopeProof, scopeRoot, parent [32]byte, hop int) error {
	if s.IsPassthrough() {
		if subtle.ConstantTimeCompare(scopeRoot[:], parent[:]) != 1 {
			return scopeEscalation(hop)
		}
		return nil
	}
	derived, err := s.VerifyAndDeriveRoot(parent)
	if err != nil || subtle.ConstantTimeCompare(derived[:], scopeRoot[:]) != 1 {
		return scopeEscalation(hop)
	}
	return nil
}

func scopeEscalation(hop int) error {
	return hopErr(ErrScopeEscalation, hop,
		"scope escalation at hop "+itoa(hop)+": delegated scope is not within the delegator's authorization")
}
