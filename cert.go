package a1

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Sizes.
const (
	PublicKeySize = 32
	SignatureSize = 64
	NonceSize     = 16
	// CertVersion is the only cert and chain version this package accepts.
	CertVersion = 1
)

// PublicKey is a raw Ed25519 public key.
type PublicKey [32]byte

// Hex returns the lowercase hex form.
func (pk PublicKey) Hex() string { return hex.EncodeToString(pk[:]) }

// ParsePublicKeyHex parses 64 hex characters (either case).
func ParsePublicKeyHex(s string) (PublicKey, error) {
	var pk PublicKey
	if err := decodeHexInto(pk[:], s); err != nil {
		return pk, wireErrorf("public key: %v", err)
	}
	return pk, nil
}

// PublicKeyOf returns the raw key of a crypto.Signer holding an Ed25519 key.
func PublicKeyOf(s crypto.Signer) (PublicKey, error) {
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok || len(pub) != PublicKeySize {
		return PublicKey{}, errors.New("a1: signer does not hold an Ed25519 key")
	}
	return PublicKey(pub), nil
}

func decodeHexInto(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex characters, got %d", 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return errors.New("invalid hex")
	}
	return nil
}

// Cert is a DelegationCert (PROTOCOL.md §6): the delegator grants the
// delegate the intents under ScopeRoot, until ExpirationUnix.
type Cert struct {
	Version        uint8
	DelegatorPK    PublicKey
	DelegatePK     PublicKey
	ScopeRoot      [32]byte
	ScopeProof     SubScopeProof
	Nonce          [16]byte
	IssuedAt       uint64
	ExpirationUnix uint64
	MaxDepth       uint8
	Extensions     Extensions
	Signature      [64]byte
}

// Digest is the 32-byte signature pre-image (PROTOCOL.md §6.3).
func (c *Cert) Digest() [32]byte {
	return c.digestWith(c.ScopeProof.Commitment(), c.Extensions.Commitment())
}

func (c *Cert) digestWith(proofCommit, extCommit [32]byte) [32]byte {
	w := newHW(hCertSig)
	w.u8(c.Version)
	w.str(tagCertSig)
	w.bytes(c.DelegatorPK[:])
	w.bytes(c.DelegatePK[:])
	w.bytes(c.ScopeRoot[:])
	w.bytes(proofCommit[:])
	w.bytes(c.Nonce[:])
	w.be64(c.IssuedAt)
	w.be64(c.ExpirationUnix)
	w.u8(c.MaxDepth)
	w.bytes(extCommit[:])
	return w.sum()
}

// Fingerprint identifies the cert; it is the revocation key (PROTOCOL.md §6.4).
func (c *Cert) Fingerprint() [32]byte {
	w := newHW(hCertFP)
	w.u8(c.Version)
	w.str(tagCertFP)
	w.bytes(c.Signature[:])
	return w.sum()
}

// Sign fills DelegatorPK from s, a fresh random nonce when Nonce is all
// zero, Version 1 when zero, and the signature. It rejects
// issued_at >= expiration_unix like the reference builder.
func (c *Cert) Sign(s crypto.Signer) error {
	pk, err := PublicKeyOf(s)
	if err != nil {
		return err
	}
	if c.Version == 0 {
		c.Version = CertVersion
	}
	if c.IssuedAt >= c.ExpirationUnix {
		return wireErrorf("issued_at (%d) must be strictly less than expiration_unix (%d)", c.IssuedAt, c.ExpirationUnix)
	}
	if c.Nonce == ([16]byte{}) {
		if _, err := rand.Read(c.Nonce[:]); err != nil {
			return fmt.Errorf("a1: nonce: %w", err)
		}
	}
	c.DelegatorPK = pk
	d := c.Digest()
	sig, err := s.Sign(rand.Reader, d[:], crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("a1: signing cert: %w", err)
	}
	if len(sig) != SignatureSize {
		return fmt.Errorf("a1: signer returned %d-byte signature", len(sig))
	}
	copy(c.Signature[:], sig)
	if !VerifySignature(pk, d[:], c.Signature[:]) {
		return errors.New("a1: signer returned a signature that does not verify")
	}
	return nil
}

// VerifySignature checks the cert's signature and delegator key under the
// project's Ed25519 rule (no cache).
func (c *Cert) VerifySignature() error {
	if err := CheckPublicKey(c.DelegatorPK); err != nil {
		return err
	}
	d := c.Digest()
	if !VerifySignature(c.DelegatorPK, d[:], c.Signature[:]) {
		return newErr(ErrInvalidSignature, "")
	}
	return nil
}

// TTL is expiration_unix - issued_at (saturating).
func (c *Cert) TTL() uint64 {
	if c.ExpirationUnix < c.IssuedAt {
		return 0
	}
	return c.ExpirationUnix - c.IssuedAt
}

// NewCert returns an unsigned cert for delegate over the intents, valid from
// issuedAt for ttl seconds, with the reference defaults (version 1,
// pass-through proof, max_depth 16, random nonce at Sign).
func NewCert(delegate PublicKey, intents []IntentHash, issuedAt, ttl uint64) (*Cert, error) {
	root, err := TreeRoot(intents)
	if err != nil {
		return nil, err
	}
	return &Cert{
		Version:        CertVersion,
		DelegatePK:     delegate,
		ScopeRoot:      root,
		IssuedAt:       issuedAt,
		ExpirationUnix: satAdd(issuedAt, ttl),
		MaxDepth:       DefaultMaxDepth,
	}, nil
}

// NewSubCert returns an unsigned cert that narrows parent (the scope tree of
// the delegator's cert) to intents, carrying the sub-scope proof.
func NewSubCert(delegate PublicKey, parent *IntentTree, intents []IntentHash, issuedAt, ttl uint64) (*Cert, error) {
	proof, err := BuildSubScopeProof(parent, intents)
	if err != nil {
		return nil, err
	}
	c, err := NewCert(delegate, intents, issuedAt, ttl)
	if err != nil {
		return nil, err
	}
	c.ScopeProof = proof
	return c, nil
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

func satSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func itoa(i int) string { return strconv.Itoa(i) }
