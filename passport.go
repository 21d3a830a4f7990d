package a1

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// PassportMagic is the passport file's _magic value.
const PassportMagic = "dyolo_v2.8.0"

// Passport is a DyoloPassport (PROTOCOL.md §9): a self-issued root cert over
// a list of capabilities, with their capability mask. The file holds no
// private key.
type Passport struct {
	Namespace    string
	Mask         Mask
	Capabilities []string
	Cert         *Cert
}

func capabilityLeaves(caps []string) ([]IntentHash, error) {
	leaves := make([]IntentHash, 0, len(caps))
	for _, c := range caps {
		h, err := HashIntent(c, nil)
		if err != nil {
			return nil, err
		}
		leaves = append(leaves, h)
	}
	return leaves, nil
}

// IssuePassport issues a passport for the signer's key (PROTOCOL.md §9.2):
// scope = tree of the capability intents, max_depth 255, the four
// dyolo.passport.* extensions.
func IssuePassport(s crypto.Signer, namespace string, caps []string, issuedAt, ttl uint64) (*Passport, error) {
	if namespace == "" || len(namespace) > MaxNamespaceLen {
		return nil, wireErrorf("namespace must be 1..%d bytes", MaxNamespaceLen)
	}
	if len(caps) > MaxCapabilities {
		return nil, wireErrorf("more than %d capabilities", MaxCapabilities)
	}
	holder, err := PublicKeyOf(s)
	if err != nil {
		return nil, err
	}
	leaves, err := capabilityLeaves(caps)
	if err != nil {
		return nil, err
	}
	c, err := NewCert(holder, leaves, issuedAt, ttl)
	if err != nil {
		return nil, err
	}
	mask := MaskOf(caps...)
	c.MaxDepth = PassportRootMaxDepth
	for _, kv := range []struct {
		k string
		v ExtValue
	}{
		{ExtPassportVersion, U64Value(1)},
		{ExtPassportNamespace, StrValue(namespace)},
		{ExtPassportMask, StrValue(mask.Hex())},
		{ExtPassportCaps, StringsValue(caps)},
	} {
		if err := c.Extensions.Set(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	if err := c.Sign(s); err != nil {
		return nil, err
	}
	return &Passport{Namespace: namespace, Mask: mask, Capabilities: append([]string(nil), caps...), Cert: c}, nil
}

// Tree is the scope tree of the passport's capabilities.
func (p *Passport) Tree() (*IntentTree, error) {
	leaves, err := capabilityLeaves(p.Capabilities)
	if err != nil {
		return nil, err
	}
	return NewIntentTree(leaves)
}

// Holder is the passport holder's key.
func (p *Passport) Holder() PublicKey { return p.Cert.DelegatorPK }

// IssueSub issues a sub-cert narrowing the passport to caps for delegate
// (PROTOCOL.md §9.4), signed by s (the holder). Unlike the reference, the
// sub-cert's expiry is capped at the passport's expiry.
func (p *Passport) IssueSub(s crypto.Signer, delegate PublicKey, caps []string, issuedAt, ttl uint64) (*Cert, error) {
	return p.issueSub(s, delegate, caps, issuedAt, ttl, false)
}

// IssueBoundSub is IssueSub with the passport root's fingerprint signed into
// the sub-cert (extension ExtPassportRoot): every verifier of this package
// then checks the root's revocation with the chain's, so revoking the
// passport stops the sub-cert in [root, sub] and [sub] chains alike (ADR
// 0014). The reference ignores the extension; its sub-certs (IssueSub) do
// not carry it.
func (p *Passport) IssueBoundSub(s crypto.Signer, delegate PublicKey, caps []string, issuedAt, ttl uint64) (*Cert, error) {
	return p.issueSub(s, delegate, caps, issuedAt, ttl, true)
}

func (p *Passport) issueSub(s crypto.Signer, delegate PublicKey, caps []string, issuedAt, ttl uint64, bound bool) (*Cert, error) {
	requested := MaskOf(caps...)
	if err := EnforceNarrowing(requested, p.Mask); err != nil {
		return nil, err
	}
	tree, err := p.Tree()
	if err != nil {
		return nil, err
	}
	leaves, err := capabilityLeaves(caps)
	if err != nil {
		return nil, err
	}
	c, err := NewSubCert(delegate, tree, leaves, issuedAt, ttl)
	if err != nil {
		return nil, err
	}
	c.ExpirationUnix = min(c.ExpirationUnix, p.Cert.ExpirationUnix)
	for _, kv := range []struct {
		k string
		v ExtValue
	}{
		{ExtPassportVersion, U64Value(1)},
		{ExtPassportNamespace, StrValue(p.Namespace)},
		{ExtPassportMask, StrValue(requested.Hex())},
	} {
		if err := c.Extensions.Set(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	if bound {
		fp := p.Cert.Fingerprint()
		if err := c.Extensions.Set(ExtPassportRoot, StrValue(hex.EncodeToString(fp[:]))); err != nil {
			return nil, err
		}
	}
	if err := c.Sign(s); err != nil {
		return nil, err
	}
	return c, nil
}

// Chain returns the chain [subs…] anchored at the passport: principal = the
// holder key, principal scope = the passport's scope root (PROTOCOL.md §9.5).
func (p *Passport) Chain(subs ...*Cert) *SignedChain {
	return NewChain(p.Cert.DelegatorPK, p.Cert.ScopeRoot, subs...)
}

// Check cross-checks a loaded passport (PROTOCOL.md §9.3 GO-REC): the
// mask and scope recomputed from the capabilities must match the signed
// cert and its extensions, the cert must be self-issued and its signature
// must verify.
func (p *Passport) Check() error {
	c := p.Cert
	if c == nil {
		return wireError("passport has no cert")
	}
	if c.DelegatorPK != c.DelegatePK {
		return wireError("passport root cert is not self-issued")
	}
	if MaskOf(p.Capabilities...) != p.Mask {
		return wireError("capability_mask_hex does not match capabilities")
	}
	tree, err := p.Tree()
	if err != nil {
		return err
	}
	if tree.Root() != c.ScopeRoot {
		return wireError("cert scope_root does not match capabilities")
	}
	if m, ok, err := c.Extensions.PassportMask(); err != nil || !ok || m != p.Mask {
		return wireError("cert dyolo.passport.mask does not match capability_mask_hex")
	}
	if c.Extensions.PassportNamespace() != p.Namespace {
		return wireError("cert dyolo.passport.namespace does not match namespace")
	}
	return c.VerifySignature()
}

// MarshalFile writes the reference passport file: pretty JSON, 2-space
// indent (PROTOCOL.md §9.3).
func (p *Passport) MarshalFile() ([]byte, error) {
	w := &jsonWriter{}
	w.raw(`{"a1_passport":1,"namespace":`)
	w.str(p.Namespace)
	w.raw(`,"capability_mask_hex":`)
	w.hexStr(p.Mask[:])
	w.raw(`,"capabilities":[`)
	for i, c := range p.Capabilities {
		if i > 0 {
			w.raw(",")
		}
		w.str(c)
	}
	w.raw(`],"cert":`)
	p.Cert.encode(w)
	w.raw(`,"_magic":`)
	w.str(PassportMagic)
	w.raw("}")
	var out bytes.Buffer
	if err := json.Indent(&out, w.b, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// ParsePassportFile decodes a passport file strictly. It does not call Check.
func ParsePassportFile(b []byte) (*Passport, error) {
	if len(b) > MaxChainJSONBytes {
		return nil, wireError("passport file too large")
	}
	r := &jsonReader{b: b}
	p := &Passport{}
	var haveV, haveMask bool
	err := r.object(func(k string) error {
		switch k {
		case "a1_passport":
			haveV = true
			_, err := r.uint(255)
			return err
		case "namespace":
			s, err := r.str()
			p.Namespace = s
			return err
		case "capability_mask_hex":
			s, err := r.str()
			if err != nil {
				return err
			}
			p.Mask, err = ParseMaskHex(s)
			haveMask = true
			return err
		case "capabilities":
			return r.array(func(i int) error {
				if i >= MaxCapabilities {
					return fmt.Errorf("more than %d capabilities", MaxCapabilities)
				}
				s, err := r.str()
				p.Capabilities = append(p.Capabilities, s)
				return err
			})
		case "cert":
			c, err := r.cert()
			p.Cert = c
			return err
		}
		return r.skip()
	})
	if err == nil {
		err = r.end()
	}
	if err == nil && (!haveV || !haveMask || p.Cert == nil) {
		err = fmt.Errorf("passport file needs a1_passport, capability_mask_hex and cert")
	}
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, e
		}
		return nil, wireError(err.Error())
	}
	return p, nil
}

// ProvableReceipt is a receipt labelled with the passport (PROTOCOL.md §9.7).
type ProvableReceipt struct {
	Inner               Receipt
	PassportNamespace   string
	NarrowingCommitment [32]byte
	MaskHex             string
}

// MarshalJSON emits the reference form.
func (pr ProvableReceipt) MarshalJSON() ([]byte, error) {
	w := &jsonWriter{}
	w.raw(`{"inner":`)
	pr.Inner.encode(w)
	w.raw(`,"passport_namespace":`)
	w.str(pr.PassportNamespace)
	w.raw(`,"narrowing_commitment":`)
	w.bytesArr(pr.NarrowingCommitment[:])
	w.raw(`,"capability_mask_hex":`)
	w.str(pr.MaskHex)
	w.raw("}")
	return w.b, nil
}

// VerifyCommitment checks the receipt's self-consistency.
func (pr ProvableReceipt) VerifyCommitment() bool {
	m, err := ParseMaskHex(pr.MaskHex)
	return err == nil && m.Commitment() == pr.NarrowingCommitment
}

// Guard authorizes req against this passport (PROTOCOL.md §9.6) with our
// fixes: the chain must be anchored at this passport (principal and scope),
// the intent's action bit must be in the passport mask, and verification,
// revocation and nonces go through v and st like any authorization.
//
// The passport's root cert binds its sub-certs even when the chain leaves
// it out (the reference's [sub, …] shape, Passport.Chain): Guard then
// checks the root's validity window with v's clock and drift, and its
// revocation in the same storage step as the chain's certs, so revoking a
// passport stops every sub-cert guarded by it (the reference checks
// neither, PROTOCOL.md §9.5 and §7.9).
func (p *Passport) Guard(ctx context.Context, v *Verifier, req *Request, tenant string, st Consumer) (*ProvableReceipt, error) {
	if req.Chain == nil || req.Chain.PrincipalPK != p.Cert.DelegatorPK || req.Chain.PrincipalScope != p.Cert.ScopeRoot {
		return nil, newErr(ErrRootMismatch, "chain is not anchored at this passport")
	}
	if req.Action != "" && !MaskOf(req.Action).SubsetOf(p.Mask) {
		return nil, newErr(ErrNarrowingViolation, "")
	}
	res, err := v.Verify(req)
	if err != nil {
		return nil, err
	}
	// With the root as hop 0 it was verified like every cert of the chain.
	// Otherwise its window is checked here and its fingerprint goes last,
	// after the chain's hops (a revoked hop keeps its index), into the one
	// storage step.
	n := len(res.Fingerprints)
	if rootFP := p.Cert.Fingerprint(); res.Fingerprints[0] != rootFP {
		now := uint64(max(v.now().Unix(), 0))
		if p.Cert.IssuedAt > satAdd(now, v.drift) {
			return nil, newErr(ErrNotYetValid, fmt.Sprintf("passport root cert not yet valid (issued_at=%d, now=%d)", p.Cert.IssuedAt, now))
		}
		if p.Cert.ExpirationUnix < satSub(now, v.drift) {
			return nil, newErr(ErrExpired, fmt.Sprintf("passport root cert has expired (expiry=%d, now=%d)", p.Cert.ExpirationUnix, now))
		}
		if !slices.Contains(res.Fingerprints, rootFP) { // a bound sub-cert put it there
			res.Fingerprints = append(res.Fingerprints[:n:n], rootFP)
		}
	}
	// A revoked root past the hops is reported without a hop by Consume.
	if err := Consume(ctx, st, tenant, res); err != nil {
		return nil, err
	}
	return p.receipt(res), nil
}

// receipt is the ProvableReceipt of an authorization under p.
func (p *Passport) receipt(res *Result) *ProvableReceipt {
	return &ProvableReceipt{Inner: res.Receipt, PassportNamespace: p.Namespace,
		NarrowingCommitment: p.Mask.Commitment(), MaskHex: p.Mask.Hex()}
}
