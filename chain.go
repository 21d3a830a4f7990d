package a1

import "sync"

// NamespaceScope derives a namespace-bound scope (PROTOCOL.md §7.2).
func NamespaceScope(namespace string, scope [32]byte) [32]byte {
	w := newHW(hNSScope)
	w.lpStr(namespace)
	w.bytes(scope[:])
	return w.sum()
}

// ChainFingerprint computes PROTOCOL.md §7.4 from the principal, the
// effective principal scope, an optional namespace ("" is absent) and the
// cert fingerprints in chain order.
func ChainFingerprint(principal PublicKey, scope [32]byte, namespace string, certFPs [][32]byte) [32]byte {
	w := newHW(hChainFP)
	w.str(tagChain)
	w.bytes(principal[:])
	w.bytes(scope[:])
	w.lpStr(namespace)
	for i := range certFPs {
		w.bytes(certFPs[i][:])
	}
	return w.sum()
}

// Fingerprint is the chain fingerprint without a namespace (what a gateway
// computes for a chain it receives on the wire).
func (sc *SignedChain) Fingerprint() [32]byte {
	return sc.FingerprintNS("")
}

// FingerprintNS is the chain fingerprint with a namespace.
func (sc *SignedChain) FingerprintNS(namespace string) [32]byte {
	fps := make([][32]byte, len(sc.Certs))
	for i, c := range sc.Certs {
		fps[i] = c.Fingerprint()
	}
	return ChainFingerprint(sc.PrincipalPK, sc.PrincipalScope, namespace, fps)
}

// NewChain starts a chain anchored at principal with scope.
func NewChain(principal PublicKey, scope [32]byte, certs ...*Cert) *SignedChain {
	return &SignedChain{Version: CertVersion, PrincipalPK: principal, PrincipalScope: scope, Certs: certs}
}

// TrustAnchors decides which principal keys may root a chain.
type TrustAnchors interface {
	Trusted(pk PublicKey) bool
}

// RootSet is a concurrency-safe set of trusted principal keys.
type RootSet struct {
	mu   sync.RWMutex
	keys map[PublicKey]string
}

// NewRootSet returns a set holding keys.
func NewRootSet(keys ...PublicKey) *RootSet {
	s := &RootSet{keys: make(map[PublicKey]string)}
	for _, k := range keys {
		s.keys[k] = ""
	}
	return s
}

// Add trusts pk with a label.
func (s *RootSet) Add(pk PublicKey, label string) {
	s.mu.Lock()
	s.keys[pk] = label
	s.mu.Unlock()
}

// Remove stops trusting pk.
func (s *RootSet) Remove(pk PublicKey) {
	s.mu.Lock()
	delete(s.keys, pk)
	s.mu.Unlock()
}

// Trusted reports whether pk is in the set.
func (s *RootSet) Trusted(pk PublicKey) bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	_, ok := s.keys[pk]
	s.mu.RUnlock()
	return ok
}

// Keys returns the trusted keys and their labels.
func (s *RootSet) Keys() map[PublicKey]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[PublicKey]string, len(s.keys))
	for k, v := range s.keys {
		out[k] = v
	}
	return out
}

// TrustAnyRoot trusts every principal. It exists for debugging and for the
// reference's behaviour; it is unsafe in production.
type TrustAnyRoot struct{}

// Trusted always returns true.
func (TrustAnyRoot) Trusted(PublicKey) bool { return true }
