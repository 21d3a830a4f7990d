package a1

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/a1-go/a1/store"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// NonceMode selects which cert nonces an authorization consumes
// (DESIGN.md §3.5, docs/adr/0006-nonce-consumption.md).
type NonceMode int

const (
	// NonceTerminal consumes only the terminal cert's nonce: the chain is
	// single-use while its parent certs stay reusable. The default.
	NonceTerminal NonceMode = iota
	// NonceAll consumes every cert nonce, as the reference does.
	NonceAll
)

// ParseNonceMode parses "terminal" or "all".
func ParseNonceMode(s string) (NonceMode, error) {
	switch s {
	case "", "terminal":
		return NonceTerminal, nil
	case "all":
		return NonceAll, nil
	}
	return 0, fmt.Errorf("a1: unknown nonce mode %q (want terminal or all)", s)
}

func (m NonceMode) String() string {
	if m == NonceAll {
		return "all"
	}
	return "terminal"
}

// Verifier checks chains offline: trust anchor, linkage, time, depth,
// scope, masks and signatures, cheapest first. It is safe for concurrent
// use. Build one with NewVerifier.
type Verifier struct {
	roots      TrustAnchors
	drift      uint64
	now        func() time.Time
	nonceMode  NonceMode
	cache      *SigCache
	keys       *KeyCache
	audience   string
	requirePoP bool
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithDrift sets the clock drift tolerance in seconds (default 15).
func WithDrift(secs uint64) Option { return func(v *Verifier) { v.drift = secs } }

// WithClock sets the verify-time clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithNonceMode selects the nonce consumption mode (default NonceTerminal).
func WithNonceMode(m NonceMode) Option { return func(v *Verifier) { v.nonceMode = m } }

// WithSigCache sets the verified-signature cache; nil disables it.
func WithSigCache(c *SigCache) Option { return func(v *Verifier) { v.cache = c } }

// WithKeyCache sets the validated-key cache; nil disables it.
func WithKeyCache(c *KeyCache) Option { return func(v *Verifier) { v.keys = c } }

// WithAudience sets the identity proof-of-possession envelopes must name.
func WithAudience(aud string) Option { return func(v *Verifier) { v.audience = aud } }

// WithRequirePoP makes a proof of possession mandatory.
func WithRequirePoP(b bool) Option { return func(v *Verifier) { v.requirePoP = b } }

// NewVerifier returns a verifier that accepts only chains rooted at roots.
// A nil roots trusts nothing.
func NewVerifier(roots TrustAnchors, opts ...Option) *Verifier {
	v := &Verifier{roots: roots, drift: DefaultDriftSecs, now: time.Now, cache: NewSigCache(DefaultSigCacheSize),
		keys: NewKeyCache(DefaultSigCacheSize)}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Drift returns the drift tolerance in seconds.
func (v *Verifier) Drift() uint64 { return v.drift }

// Request is one authorization to verify.
type Request struct {
	Chain *SignedChain
	// Namespace is optional metadata bound into the chain fingerprint and
	// the receipt (PROTOCOL.md §7.2); "" means none.
	Namespace string
	// Executor is the key of the agent asking to act.
	Executor PublicKey
	// Intent is the hash of the requested intent (Intent.Hash()).
	Intent IntentHash
	// Action is the intent's action name; when set and the chain carries
	// capability masks, the action's bit must be in the terminal mask.
	Action string
	// Proof is the intent's inclusion proof in the terminal scope. When nil
	// and the terminal cert lists its subset intents, the verifier derives
	// it; otherwise the empty proof is used.
	Proof *MerkleProof
	// PoP is the executor's optional proof of possession.
	PoP *PoP
	// PoPIntent, when set, is what PoP binds instead of Intent: the
	// BatchIntentHash of every intent of a batch request.
	PoPIntent IntentHash
}

// Result is what a successful verification establishes.
type Result struct {
	Receipt          Receipt
	Principal        PublicKey
	Depth            int
	ChainFingerprint [32]byte
	// Fingerprints must each be checked for revocation: the cert
	// fingerprints in chain order (index i is hop i, i < Depth), then the
	// passport roots the certs are bound to (ExtPassportRoot) that are not
	// hops. It may be longer than Depth: index it by hop only below Depth.
	Fingerprints [][32]byte
	// Nonces are the nonces this authorization must consume atomically.
	Nonces []store.Nonce
	// Mask is the terminal effective capability mask, when the chain has one.
	Mask    Mask
	HasMask bool
	// PassportNamespace is the terminal cert's dyolo.passport.namespace.
	PassportNamespace string

	pop bool // verified with a proof of possession
	// What the intent-independent checks (trust, linkage, time, depth,
	// narrowing, executor, signatures) were run on, so that a batch's
	// other intents reuse them (VerifyBatchItem) instead of re-running
	// them: a batch of n intents costs one chain verification plus n scope
	// checks. The scope and namespace are in Receipt.
	verifier *Verifier
	chain    *SignedChain
	executor PublicKey
	// subset builds the terminal cert's subset-intent tree at most once per
	// batch; set only when that cert lists several subset intents.
	subset *subsetTree
}

// subsetTree is the terminal cert's subset-intent tree, built on first use
// (by a batch item without a Merkle proof).
type subsetTree struct {
	once    sync.Once
	intents []IntentHash
	tree    *IntentTree
}

func (t *subsetTree) get() *IntentTree {
	t.once.Do(func() { t.tree, _ = NewIntentTree(t.intents) })
	return t.tree
}

// NonceKey binds a nonce to the key that chose it, so that one delegator
// cannot burn another's nonces: DK("a1-go::nonce::v1")[pk ‖ nonce].
func NonceKey(pk PublicKey, nonce [16]byte) [32]byte {
	w := newHW(hNonceKey)
	w.bytes(pk[:])
	w.bytes(nonce[:])
	return w.sum()
}

// Verify runs every offline check on req and returns what must still be
// checked against storage (Result.Fingerprints, Result.Nonces). Errors are
// *Error values wrapping one Kind (ErrExpired, ErrScopeEscalation, …).
func (v *Verifier) Verify(req *Request) (*Result, error) {
	return v.verify(req, v.now(), false)
}

// VerifyBatchItem verifies another intent of a batch request (one chain,
// one executor, several intents) whose first intent was verified by
// Verify with result first. Every check of Verify applies; in addition the
// chain must be the one of first. When req carries first's chain (the same
// *SignedChain), executor and namespace, the intent-independent checks are
// not run again: their outcome at first's verification time is reused, and
// only the intent's scope and capability checks run (a batch of n intents
// costs one chain verification, not n). When first was verified with a proof of
// possession, that proof covers the whole batch (docs/spec.md §1), so
// req carries none and WithRequirePoP does not ask for one. The batch
// consumes first.Nonces, once: the item's Nonces are not to be consumed.
func (v *Verifier) VerifyBatchItem(first *Result, req *Request) (*Result, error) {
	if first == nil || req.PoP != nil {
		return nil, newErr(ErrMalformed, "batch item: the proof of possession belongs to the first intent")
	}
	if first.verifier == v && req.Chain == first.chain && req.Executor == first.executor && req.Namespace == first.Receipt.Namespace {
		// The same (immutable) chain, executor and namespace as first:
		// every intent-independent check already passed, at first's time.
		return v.verifyItem(first, req)
	}
	res, err := v.verify(req, v.now(), first.pop)
	if err != nil {
		return nil, err
	}
	if res.ChainFingerprint != first.ChainFingerprint {
		return nil, newErr(ErrMalformed, "batch item: not the chain of the first intent")
	}
	return res, nil
}

// verifyItem is verify for another intent of first's batch, with the
// chain checks of first: what remains depends on the intent.
func (v *Verifier) verifyItem(first *Result, req *Request) (*Result, error) {
	if v.requirePoP && !first.pop {
		return nil, newErr(ErrProofRequired, "")
	}
	sc := req.Chain
	terminal := sc.Certs[len(sc.Certs)-1]
	tree := func() *IntentTree { return nil }
	if first.subset != nil {
		tree = first.subset.get
	}
	if !intentInScopeTree(req, terminal, first.Receipt.VerifiedScopeRoot, tree) {
		return nil, newErr(ErrScopeViolation, "")
	}
	if first.HasMask && req.Action != "" && !MaskOf(req.Action).SubsetOf(first.Mask) {
		return nil, newErr(ErrNarrowingViolation, "")
	}
	res := &Result{
		Principal:         first.Principal,
		Depth:             first.Depth,
		ChainFingerprint:  first.ChainFingerprint,
		Fingerprints:      first.Fingerprints,
		Nonces:            v.certNonces(sc),
		Mask:              first.Mask,
		HasMask:           first.HasMask,
		PassportNamespace: first.PassportNamespace,
		Receipt:           first.Receipt,
	}
	res.Receipt.Intent = req.Intent
	return res, nil
}

// certNonces are the cert nonces an authorization without a proof of
// possession consumes (the terminal cert's, or every cert's in NonceAll).
func (v *Verifier) certNonces(sc *SignedChain) []store.Nonce {
	from := len(sc.Certs) - 1
	if v.nonceMode == NonceAll {
		from = 0
	}
	var out []store.Nonce
	// A cert is accepted until the end of second expiration_unix +
	// drift: its nonce is kept one second past that, plus one drift
	// for a store clock ahead of this one (as for proofs).
	for i, c := range sc.Certs[from:] {
		// A passport root above other certs is never consumed, in
		// NonceAll too: the reference's passport chains leave the root
		// out ([sub, …]), so it never consumed it, and a passport stays
		// reusable until it expires or is revoked (ADR 0014).
		if from+i < len(sc.Certs)-1 && isPassportRoot(c) {
			continue
		}
		out = append(out, store.Nonce{
			Key:       NonceKey(c.DelegatorPK, c.Nonce),
			ExpiresAt: expiryTime(retention(c.ExpirationUnix, v.drift)),
		})
	}
	return out
}

// boundRoot reads the passport root fingerprint signed into c
// (ExtPassportRoot), if any.
func boundRoot(c *Cert) (fp [32]byte, ok bool, err error) {
	v, ok := c.Extensions.Get(ExtPassportRoot)
	if !ok {
		return fp, false, nil
	}
	if v.Kind != ExtStr || len(v.Str) != 64 {
		return fp, false, fmt.Errorf("extension %s must be a 64-digit hex fingerprint", ExtPassportRoot)
	}
	if _, err := hex.Decode(fp[:], []byte(v.Str)); err != nil {
		return fp, false, fmt.Errorf("extension %s must be a 64-digit hex fingerprint", ExtPassportRoot)
	}
	return fp, true, nil
}

// isPassportRoot reports a passport's root cert: self-issued, with a
// passport namespace (IssuePassport).
func isPassportRoot(c *Cert) bool {
	return c.DelegatorPK == c.DelegatePK && c.Extensions.PassportNamespace() != ""
}

// verify runs the checks at nowT; covered means a proof of possession
// verified for the same request (a batch's first intent) stands for req's.
func (v *Verifier) verify(req *Request, nowT time.Time, covered bool) (*Result, error) {
	sc := req.Chain
	if sc == nil || len(sc.Certs) == 0 {
		return nil, newErr(ErrEmptyChain, "")
	}
	if sc.Certs[0].DelegatorPK != sc.PrincipalPK {
		return nil, newErr(ErrRootMismatch, "")
	}
	if v.roots == nil || !v.roots.Trusted(sc.PrincipalPK) {
		return nil, newErr(ErrUntrustedRoot, "")
	}
	if v.requirePoP && req.PoP == nil && !covered {
		return nil, newErr(ErrProofRequired, "")
	}
	now := uint64(max(nowT.Unix(), 0))
	early, late := satAdd(now, v.drift), satSub(now, v.drift)
	n := len(sc.Certs)
	if n > MaxChainCerts {
		return nil, hopErr(ErrDepthExceeded, MaxChainCerts,
			fmt.Sprintf("depth limit exceeded at hop %d (limit=%d)", MaxChainCerts, MaxChainCerts))
	}

	res := &Result{Principal: sc.PrincipalPK, Depth: n, Fingerprints: make([][32]byte, n)}
	var bound [][32]byte // passport roots signed into the certs (ExtPassportRoot)
	var sigBuf [4]sigEntry
	sigs := sigBuf[:0]
	w := newPathWalk(sc)
	for i, c := range sc.Certs {
		if err := w.enter(i, c); err != nil {
			return nil, err
		}
		if c.IssuedAt > early {
			return nil, hopErr(ErrNotYetValid, i, fmt.Sprintf(
				"delegation at hop %d not yet valid (issued_at=%d, now=%d)", i, c.IssuedAt, now))
		}
		if c.ExpirationUnix < late {
			return nil, hopErr(ErrExpired, i, fmt.Sprintf(
				"delegation at hop %d has expired (expiry=%d, now=%d)", i, c.ExpirationUnix, now))
		}
		if err := w.narrow(sc, i, c); err != nil {
			return nil, err
		}
		res.Fingerprints[i] = c.Fingerprint()
		sigs = append(sigs, sigEntry{pk: c.DelegatorPK, digest: c.Digest(), sig: c.Signature})
		w.advance(c)
		if c.Extensions.Len() > 0 {
			root, ok, err := boundRoot(c)
			if err != nil {
				return nil, hopErr(ErrMalformed, i, fmt.Sprintf("hop %d: %v", i, err))
			}
			if ok {
				bound = append(bound, root)
			}
		}
	}
	scope, mask, hasMask, expected := w.scope, w.mask, w.hasMask, w.expected
	if expected != req.Executor {
		return nil, newErr(ErrUnauthorizedExecutor, "")
	}

	if err := v.checkSigs(sigs); err != nil {
		return nil, err
	}

	terminal := sc.Certs[n-1]
	if !intentInScope(req, terminal, scope) {
		return nil, newErr(ErrScopeViolation, "")
	}
	if hasMask && req.Action != "" && !MaskOf(req.Action).SubsetOf(mask) {
		return nil, newErr(ErrNarrowingViolation, "")
	}

	res.ChainFingerprint = ChainFingerprint(sc.PrincipalPK, sc.PrincipalScope, req.Namespace, res.Fingerprints)
	// A bound passport root that is not one of the hops is checked for
	// revocation in the same storage step, after the hops (whose indexes
	// stay the hop numbers).
	for _, fp := range bound {
		if !slices.Contains(res.Fingerprints, fp) {
			res.Fingerprints = append(res.Fingerprints, fp)
		}
	}
	if req.PoP != nil {
		if err := v.checkPoP(req, res.ChainFingerprint, now); err != nil {
			return nil, err
		}
		res.pop = true
		// The proof is accepted while issued_at >= now - drift at
		// one-second resolution, that is until the end of second
		// issued_at + drift <= now + 2*drift, and a nonce counts as
		// consumed only strictly before its expiry: one second more. The
		// store compares the expiry with its own clock, so one more drift
		// covers a store clock ahead of this one by up to the drift.
		res.Nonces = []store.Nonce{{
			Key:       NonceKey(req.Executor, req.PoP.Nonce),
			ExpiresAt: expiryTime(satAdd(retention(now, v.drift), v.drift)),
		}}
	} else {
		res.Nonces = v.certNonces(sc)
	}
	res.Mask, res.HasMask = mask, hasMask
	res.PassportNamespace = terminal.Extensions.PassportNamespace()
	res.Receipt = Receipt{
		ChainDepth:        uint64(n),
		VerifiedScopeRoot: scope,
		Intent:            req.Intent,
		VerifiedAtUnix:    now,
		ChainFingerprint:  res.ChainFingerprint,
		Namespace:         req.Namespace,
	}
	res.verifier, res.chain, res.executor = v, sc, req.Executor
	if len(terminal.ScopeProof.SubsetIntents) > 1 { // the only case intentInScope builds a tree
		res.subset = &subsetTree{intents: terminal.ScopeProof.SubsetIntents}
	}
	return res, nil
}

// checkSigs verifies the cert signatures (chain order), skipping those in
// the cache. The first one not in the cache is checked on its own, before
// any other key is expanded: a chain of never-seen certs whose first
// signature is bad costs one verification, not one per cert (an
// unauthenticated client cannot sign anything past the trusted root's
// certs, so this is where its garbage chains stop). The others are checked
// together (SigCache.verifyAll). A key error is reported at its hop.
func (v *Verifier) checkSigs(sigs []sigEntry) error {
	// The uncached entries after the first are compacted to the front of
	// sigs (the caller's buffer, not used afterwards), with their hops.
	var hopBuf [8]int
	hops := hopBuf[:0]
	n := 0
	first := true
	for i := range sigs {
		if v.cache.has(&sigs[i]) {
			continue
		}
		if !first {
			sigs[n] = sigs[i]
			n++
			hops = append(hops, i)
			continue
		}
		first = false
		x, err := v.keys.expand(sigs[i].pk)
		if err != nil {
			return keyErr(err, i)
		}
		e := &sigs[i]
		if !voi.VerifyExpandedWithOptions(x, e.digest[:], e.sig[:], sigOptions) {
			return hopErr(ErrInvalidSignature, i, fmt.Sprintf("invalid signature at hop %d", i))
		}
		v.cache.add(e)
	}
	if n == 0 {
		return nil
	}
	rest := sigs[:n]
	var keyBuf [8]*voi.ExpandedPublicKey
	keys := keyBuf[:0]
	for j := range rest {
		x, err := v.keys.expand(rest[j].pk)
		if err != nil {
			return keyErr(err, hops[j])
		}
		keys = append(keys, x)
	}
	if bad := v.cache.verifyAll(rest, keys); bad >= 0 {
		return hopErr(ErrInvalidSignature, hops[bad], fmt.Sprintf("invalid signature at hop %d", hops[bad]))
	}
	return nil
}

// keyErr places a key validation error at hop i.
func keyErr(err error, i int) error {
	var e *Error
	errors.As(err, &e)
	return &Error{Kind: e.Kind, Hop: i, HasHop: true, Detail: fmt.Sprintf("hop %d: %s", i, e.Error())}
}

// expiryTime converts a unix expiry to a time, capped at store.MaxExpiry
// (a cert expiring in the year 2^63 is kept "for good", not overflowed).
func expiryTime(unix uint64) time.Time {
	if capUnix := uint64(store.MaxExpiry.Unix()); unix > capUnix {
		return store.MaxExpiry
	}
	return time.Unix(int64(unix), 0)
}

// intentInScope applies PROTOCOL.md §3.5, deriving the proof from the
// terminal cert's subset intents when the caller gave none (DESIGN.md §4).
func intentInScope(req *Request, terminal *Cert, scope [32]byte) bool {
	return intentInScopeTree(req, terminal, scope, func() *IntentTree {
		t, _ := NewIntentTree(terminal.ScopeProof.SubsetIntents)
		return t
	})
}

// intentInScopeTree is intentInScope with the terminal's subset-intent tree
// from tree (nil when it cannot be built).
func intentInScopeTree(req *Request, terminal *Cert, scope [32]byte, tree func() *IntentTree) bool {
	if req.Proof != nil && len(req.Proof.Siblings) > 0 {
		return req.Proof.Verify(req.Intent, scope)
	}
	if subtle.ConstantTimeCompare(req.Intent[:], scope[:]) == 1 {
		return true
	}
	if req.Proof == nil && len(terminal.ScopeProof.SubsetIntents) > 1 {
		for _, h := range terminal.ScopeProof.SubsetIntents {
			if h == req.Intent {
				t := tree()
				if t == nil {
					return false
				}
				p, err := t.Prove(req.Intent)
				return err == nil && p.Verify(req.Intent, scope)
			}
		}
	}
	return false
}

// Consumer is the single atomic storage step of an authorization: check
// revocation of every fingerprint and consume the nonces (store.AuthorizeRequest).
type Consumer interface {
	Authorize(ctx context.Context, req store.AuthorizeRequest) error
}

// Authorize verifies req offline, then checks revocation and consumes the
// nonces through st in one step. Storage failures deny with ErrStorage.
func (v *Verifier) Authorize(ctx context.Context, req *Request, tenant string, st Consumer) (*Result, error) {
	res, err := v.Verify(req)
	if err != nil {
		return nil, err
	}
	if err := Consume(ctx, st, tenant, res); err != nil {
		return nil, err
	}
	return res, nil
}

// Consume runs the storage step for a verified result and maps the store's
// answer to protocol errors: revoked → ErrRevoked (with the hop; without
// one for a bound passport root past the hops), replay →
// ErrNonceReplay, anything else → ErrStorage (fail closed).
func Consume(ctx context.Context, st Consumer, tenant string, res *Result) error {
	err := st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Fingerprints: res.Fingerprints, Nonces: res.Nonces})
	if err == nil {
		return nil
	}
	var rev *store.RevokedError
	switch {
	case errors.As(err, &rev) && rev.Index >= res.Depth:
		// Past the hops: a passport root the chain is bound to but does
		// not carry (ExtPassportRoot, Passport.Guard), not one of its hops.
		return &Error{Kind: ErrRevoked, Detail: "the passport's root cert is revoked", Err: err}
	case errors.As(err, &rev):
		return &Error{Kind: ErrRevoked, Hop: rev.Index, HasHop: true, Detail: ErrRevoked.msg, Err: err}
	case errors.Is(err, store.ErrRevoked):
		return &Error{Kind: ErrRevoked, Detail: ErrRevoked.msg, Err: err}
	case errors.Is(err, store.ErrReplay):
		return &Error{Kind: ErrNonceReplay, Detail: ErrNonceReplay.msg, Err: err}
	case errors.Is(err, store.ErrInvalid):
		// The request exceeds what one storage step takes (a chain
		// built in code past the decoder's bounds, too many bound
		// roots, a bad tenant): the caller's mistake, not an outage.
		return &Error{Kind: ErrMalformed, Detail: "authorization request refused by the store: " + err.Error(), Err: err}
	default:
		return &Error{Kind: ErrStorage, Detail: "storage unavailable: authorization denied", Err: err}
	}
}

// retention is how long a nonce is kept after last, the last second (unix)
// in which what carries it is accepted before the drift: last + drift is
// still accepted, the second after it is covered by the store's strict
// "expiry > now", and one more drift covers a store whose clock runs ahead
// of the gateway's by up to the drift (clocks are assumed to agree within
// it).
func retention(last, drift uint64) uint64 {
	return satAdd(satAdd(satAdd(last, drift), drift), 1)
}

// pathWalk is the state the structural checks carry along a chain's hops,
// the ones every path of certs must pass whatever the clock says: for an
// authorization (Verify, which adds the validity window, the executor, the
// intent and the signatures) and for a signed revocation's path to the
// revoked cert (VerifyRevocation).
type pathWalk struct {
	expected   PublicKey // the delegator the next hop must name
	scope      [32]byte  // the scope the next hop must narrow
	maxAllowed uint64    // the depth cap so far
	parentExp  uint64
	mask       Mask
	hasMask    bool
}

func newPathWalk(sc *SignedChain) pathWalk {
	return pathWalk{expected: sc.PrincipalPK, scope: sc.PrincipalScope, maxAllowed: 255, parentExp: ^uint64(0)}
}

// enter checks hop i on its own: linkage to the previous hop, version and
// validity period.
func (w *pathWalk) enter(i int, c *Cert) error {
	if c.DelegatorPK != w.expected {
		return hopErr(ErrBrokenLinkage, i, fmt.Sprintf("delegation linkage broken at hop %d", i))
	}
	if c.Version != CertVersion {
		return hopErr(ErrUnsupportedVersion, i,
			fmt.Sprintf("unsupported certificate version: expected %d, got %d", CertVersion, c.Version))
	}
	if c.IssuedAt >= c.ExpirationUnix {
		return hopErr(ErrInvalidValidity, i, fmt.Sprintf(
			"invalid validity period at hop %d: issued_at (%d) is not before expiration_unix (%d)",
			i, c.IssuedAt, c.ExpirationUnix))
	}
	return nil
}

// narrow checks hop i against the hops before it: expiry nesting, depth,
// distinct nonces, scope and capability-mask narrowing.
func (w *pathWalk) narrow(sc *SignedChain, i int, c *Cert) error {
	if c.ExpirationUnix > w.parentExp {
		return hopErr(ErrTemporalViolation, i, fmt.Sprintf(
			"temporal violation at hop %d: child expiry %d exceeds parent expiry %d", i, c.ExpirationUnix, w.parentExp))
	}
	if depth := uint64(i + 1); depth > w.maxAllowed {
		return hopErr(ErrDepthExceeded, i,
			fmt.Sprintf("depth limit exceeded at hop %d (limit=%d)", i, w.maxAllowed))
	}
	w.maxAllowed = min(w.maxAllowed, uint64(c.MaxDepth))
	for j := 0; j < i; j++ {
		if subtle.ConstantTimeCompare(sc.Certs[j].Nonce[:], c.Nonce[:]) == 1 {
			return hopErr(ErrNonceReplay, i, "nonce has already been consumed")
		}
	}
	if err := checkSubset(&c.ScopeProof, c.ScopeRoot, w.scope, i); err != nil {
		return err
	}
	w.scope = c.ScopeRoot
	m, present, err := c.Extensions.PassportMask()
	if err != nil {
		return &Error{Kind: ErrMalformed, Hop: i, HasHop: true, Detail: fmt.Sprintf("hop %d: %v", i, err), Err: err}
	}
	if present {
		if i > 0 && (!w.hasMask || !m.SubsetOf(w.mask)) {
			return hopErr(ErrNarrowingViolation, i, fmt.Sprintf(
				"capability mask at hop %d is not a subset of its parent's mask", i))
		}
		w.mask, w.hasMask = m, true
	}
	return nil
}

// advance moves past hop c once every check of it passed.
func (w *pathWalk) advance(c *Cert) {
	w.parentExp = c.ExpirationUnix
	w.expected = c.DelegatePK
}
