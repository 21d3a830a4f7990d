package a1

import "fmt"

// SignedChain is the wire form of a delegation chain (PROTOCOL.md §7.3):
// the principal key and scope plus the certs, root first.
type SignedChain struct {
	Version        uint8
	PrincipalPK    PublicKey
	PrincipalScope [32]byte
	Certs          []*Cert
}

// MarshalJSON emits the reference form: principal fields as hex strings,
// cert byte fields as integer arrays, reference field order.
func (sc *SignedChain) MarshalJSON() ([]byte, error) {
	w := &jsonWriter{b: make([]byte, 0, 1500*len(sc.Certs)+200)}
	sc.encode(w)
	return w.b, nil
}

func (sc *SignedChain) encode(w *jsonWriter) {
	w.raw(`{"version":`)
	w.uint(uint64(sc.Version))
	w.raw(`,"principal_pk":`)
	w.hexStr(sc.PrincipalPK[:])
	w.raw(`,"principal_scope":`)
	w.hexStr(sc.PrincipalScope[:])
	w.raw(`,"certs":[`)
	for i, c := range sc.Certs {
		if i > 0 {
			w.raw(",")
		}
		c.encode(w)
	}
	w.raw("]}")
}

// UnmarshalJSON decodes either the reference form or the hex form, strictly
// (see DecodeSignedChain).
func (sc *SignedChain) UnmarshalJSON(b []byte) error {
	out, err := DecodeSignedChain(b)
	if err != nil {
		return err
	}
	*sc = *out
	return nil
}

// DecodeSignedChain decodes a chain in the reference form (byte fields as
// integer arrays) or the hex form (byte fields as hex strings), strictly:
// case-sensitive field names, duplicate fields rejected, exact lengths,
// plain integers only, bounded sizes (limits.go). Unknown fields are
// ignored as the reference does. It checks the wire version (1).
func DecodeSignedChain(b []byte) (*SignedChain, error) {
	if len(b) > MaxChainJSONBytes {
		return nil, wireErrorf("chain exceeds %d bytes", MaxChainJSONBytes)
	}
	r := &jsonReader{b: b}
	sc, err := r.signedChain()
	if err == nil {
		err = r.end()
	}
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, e
		}
		return nil, wireError(err.Error())
	}
	return sc, nil
}

func (r *jsonReader) signedChain() (*SignedChain, error) {
	sc := &SignedChain{}
	var haveV, havePK, haveScope, haveCerts bool
	err := r.object(func(k string) error {
		switch k {
		case "version":
			v, err := r.uint(255)
			sc.Version, haveV = uint8(v), true
			return err
		case "principal_pk":
			havePK = true
			if err := r.fixedBytes(sc.PrincipalPK[:]); err != nil {
				return wireError("principal_pk must be 32 bytes")
			}
			return nil
		case "principal_scope":
			haveScope = true
			if err := r.fixedBytes(sc.PrincipalScope[:]); err != nil {
				return wireError("principal_scope must be 32 bytes")
			}
			return nil
		case "certs":
			haveCerts = true
			return r.array(func(i int) error {
				if i >= MaxDecodeCerts {
					return wireErrorf("chain has more than %d certs", MaxDecodeCerts)
				}
				c, err := r.cert()
				if err != nil {
					return &Error{Kind: ErrMalformed, Hop: i, HasHop: true,
						Detail: fmt.Sprintf("wire format error: certs[%d]: %v", i, err), Err: err}
				}
				sc.Certs = append(sc.Certs, c)
				return nil
			})
		}
		return r.skip()
	})
	if err != nil {
		return nil, err
	}
	switch {
	case !haveV:
		return nil, wireError("missing field `version`")
	case !havePK:
		return nil, wireError("missing field `principal_pk`")
	case !haveScope:
		return nil, wireError("missing field `principal_scope`")
	case !haveCerts:
		return nil, wireError("missing field `certs`")
	}
	if sc.Version != CertVersion {
		return nil, newErr(ErrUnsupportedVersion,
			fmt.Sprintf("unsupported certificate version: expected %d, got %d", CertVersion, sc.Version))
	}
	return sc, nil
}

// MarshalJSON emits the reference cert form (PROTOCOL.md §6.2).
func (c *Cert) MarshalJSON() ([]byte, error) {
	w := &jsonWriter{b: make([]byte, 0, 1400)}
	c.encode(w)
	return w.b, nil
}

// UnmarshalJSON decodes a cert strictly, in either byte form.
func (c *Cert) UnmarshalJSON(b []byte) error {
	r := &jsonReader{b: b}
	out, err := r.cert()
	if err == nil {
		err = r.end()
	}
	if err != nil {
		if e, ok := err.(*Error); ok {
			return e
		}
		return wireError(err.Error())
	}
	*c = *out
	return nil
}

func (c *Cert) encode(w *jsonWriter) {
	w.raw(`{"version":`)
	w.uint(uint64(c.Version))
	w.raw(`,"delegator_pk":`)
	w.bytesArr(c.DelegatorPK[:])
	w.raw(`,"delegate_pk":`)
	w.bytesArr(c.DelegatePK[:])
	w.raw(`,"scope_root":`)
	w.bytesArr(c.ScopeRoot[:])
	w.raw(`,"scope_proof":`)
	c.ScopeProof.encode(w)
	w.raw(`,"nonce":`)
	w.bytesArr(c.Nonce[:])
	w.raw(`,"issued_at":`)
	w.uint(c.IssuedAt)
	w.raw(`,"expiration_unix":`)
	w.uint(c.ExpirationUnix)
	w.raw(`,"max_depth":`)
	w.uint(uint64(c.MaxDepth))
	w.raw(`,"extensions":`)
	c.Extensions.encode(w)
	w.raw(`,"signature":`)
	w.bytesArr(c.Signature[:])
	w.raw("}")
}

func (r *jsonReader) cert() (*Cert, error) {
	c := &Cert{}
	const (
		fVersion = 1 << iota
		fDelegator
		fDelegate
		fScopeRoot
		fScopeProof
		fNonce
		fIssued
		fExp
		fMaxDepth
		fSig
		fAll = 1<<iota - 1
	)
	have := 0
	err := r.object(func(k string) error {
		var err error
		switch k {
		case "version":
			var v uint64
			v, err = r.uint(255)
			c.Version, have = uint8(v), have|fVersion
		case "delegator_pk":
			err, have = r.fixedBytes(c.DelegatorPK[:]), have|fDelegator
		case "delegate_pk":
			err, have = r.fixedBytes(c.DelegatePK[:]), have|fDelegate
		case "scope_root":
			err, have = r.fixedBytes(c.ScopeRoot[:]), have|fScopeRoot
		case "scope_proof":
			err, have = r.subScopeProof(&c.ScopeProof), have|fScopeProof
		case "nonce":
			err, have = r.fixedBytes(c.Nonce[:]), have|fNonce
		case "issued_at":
			c.IssuedAt, err = r.uint(^uint64(0))
			have |= fIssued
		case "expiration_unix":
			c.ExpirationUnix, err = r.uint(^uint64(0))
			have |= fExp
		case "max_depth":
			var v uint64
			v, err = r.uint(255)
			c.MaxDepth, have = uint8(v), have|fMaxDepth
		case "extensions":
			err = r.extensions(&c.Extensions)
		case "signature":
			err, have = r.fixedBytes(c.Signature[:]), have|fSig
		default:
			err = r.skip()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if have != fAll {
		names := []string{"version", "delegator_pk", "delegate_pk", "scope_root", "scope_proof", "nonce",
			"issued_at", "expiration_unix", "max_depth", "signature"}
		for i, n := range names {
			if have&(1<<i) == 0 {
				return nil, fmt.Errorf("missing field `%s`", n)
			}
		}
	}
	return c, nil
}

func (p *SubScopeProof) encode(w *jsonWriter) {
	w.raw(`{"subset_intents":[`)
	for i := range p.SubsetIntents {
		if i > 0 {
			w.raw(",")
		}
		w.bytesArr(p.SubsetIntents[i][:])
	}
	w.raw(`],"proofs":[`)
	for i := range p.Proofs {
		if i > 0 {
			w.raw(",")
		}
		p.Proofs[i].encode(w)
	}
	w.raw("]}")
}

func (r *jsonReader) subScopeProof(p *SubScopeProof) error {
	var haveS, haveP bool
	err := r.object(func(k string) error {
		switch k {
		case "subset_intents":
			haveS = true
			return r.array(func(i int) error {
				if i >= MaxSubsetIntents {
					return fmt.Errorf("more than %d subset intents", MaxSubsetIntents)
				}
				var h IntentHash
				if err := r.fixedBytes(h[:]); err != nil {
					return err
				}
				p.SubsetIntents = append(p.SubsetIntents, h)
				return nil
			})
		case "proofs":
			haveP = true
			return r.array(func(i int) error {
				if i >= MaxSubsetIntents {
					return fmt.Errorf("more than %d proofs", MaxSubsetIntents)
				}
				var mp MerkleProof
				if err := r.merkleProof(&mp); err != nil {
					return err
				}
				p.Proofs = append(p.Proofs, mp)
				return nil
			})
		}
		return r.skip()
	})
	if err != nil {
		return err
	}
	if !haveS {
		return fmt.Errorf("missing field `subset_intents`")
	}
	if !haveP {
		return fmt.Errorf("missing field `proofs`")
	}
	return nil
}

func (p *MerkleProof) encode(w *jsonWriter) {
	w.raw(`{"siblings":[`)
	for i, s := range p.Siblings {
		if i > 0 {
			w.raw(",")
		}
		w.raw(`{"hash":`)
		w.bytesArr(s.Hash[:])
		if s.IsLeft {
			w.raw(`,"is_left":true}`)
		} else {
			w.raw(`,"is_left":false}`)
		}
	}
	w.raw("]}")
}

// MarshalJSON emits {"siblings":[{"hash":[…],"is_left":bool},…]}.
func (p MerkleProof) MarshalJSON() ([]byte, error) {
	w := &jsonWriter{}
	p.encode(w)
	return w.b, nil
}

// UnmarshalJSON decodes a proof in either byte form.
func (p *MerkleProof) UnmarshalJSON(b []byte) error {
	if len(b) > MaxChainJSONBytes {
		return wireError("proof too large")
	}
	r := &jsonReader{b: b}
	var out MerkleProof
	err := r.merkleProof(&out)
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return wireError(err.Error())
	}
	*p = out
	return nil
}

func (r *jsonReader) merkleProof(p *MerkleProof) error {
	have := false
	err := r.object(func(k string) error {
		if k != "siblings" {
			return r.skip()
		}
		have = true
		return r.array(func(i int) error {
			if i >= MaxProofSiblings {
				return fmt.Errorf("more than %d proof siblings", MaxProofSiblings)
			}
			var s ProofStep
			var haveH, haveL bool
			err := r.object(func(k string) error {
				switch k {
				case "hash":
					haveH = true
					return r.fixedBytes(s.Hash[:])
				case "is_left":
					haveL = true
					v, err := r.boolean()
					s.IsLeft = v
					return err
				}
				return r.skip()
			})
			if err != nil {
				return err
			}
			if !haveH || !haveL {
				return fmt.Errorf("proof sibling needs `hash` and `is_left`")
			}
			p.Siblings = append(p.Siblings, s)
			return nil
		})
	})
	if err != nil {
		return err
	}
	if !have {
		return fmt.Errorf("missing field `siblings`")
	}
	return nil
}

func (e *Extensions) encode(w *jsonWriter) {
	w.raw(`{"fields":{`)
	for i, k := range e.Keys() {
		if i > 0 {
			w.raw(",")
		}
		w.str(k)
		w.raw(":")
		v := e.fields[k]
		switch v.Kind {
		case ExtStr:
			w.str(v.Str)
		case ExtU64:
			w.uint(v.U64)
		default:
			w.raw("[")
			for j, s := range v.Strings {
				if j > 0 {
					w.raw(",")
				}
				w.str(s)
			}
			w.raw("]")
		}
	}
	w.raw("}}")
}

// MarshalJSON emits {"fields":{…}} with keys in ascending order.
func (e Extensions) MarshalJSON() ([]byte, error) {
	w := &jsonWriter{}
	e.encode(w)
	return w.b, nil
}

// extensions decodes {"fields":{…}} (reference) or {} (the upstream hex
// form's empty extensions). Values are untyped JSON: string → Str,
// non-negative integer → U64, array of strings → Strings.
func (r *jsonReader) extensions(e *Extensions) error {
	*e = Extensions{}
	return r.object(func(k string) error {
		if k != "fields" {
			return fmt.Errorf("unknown field `%s` in extensions, expected `fields`", k)
		}
		return r.object(func(key string) error {
			var v ExtValue
			switch c := r.peek(); {
			case c == '"':
				s, err := r.str()
				if err != nil {
					return err
				}
				v = StrValue(s)
			case c >= '0' && c <= '9':
				n, err := r.uint(^uint64(0))
				if err != nil {
					return err
				}
				v = U64Value(n)
			case c == '[':
				var xs []string
				err := r.array(func(i int) error {
					if i >= MaxExtensionListLen {
						return fmt.Errorf("extension list longer than %d", MaxExtensionListLen)
					}
					s, err := r.str()
					xs = append(xs, s)
					return err
				})
				if err != nil {
					return err
				}
				v = StringsValue(xs)
			default:
				return fmt.Errorf("extension %q: data did not match any variant of untagged enum ExtValue", key)
			}
			// The reference decodes empty keys (Set refuses them); the
			// bounds apply to every key.
			return e.set(key, v)
		})
	})
}
