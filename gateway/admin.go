package gateway

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/api"
	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/internal/plainname"
	"github.com/a1-go/a1/store"
)

// Issuance limits.
const (
	// MaxIssueIntents bounds the intents of one issued cert.
	MaxIssueIntents = 256
	// DefaultIssueTTL and DefaultIssueMaxDepth are the reference defaults.
	DefaultIssueTTL      = 3600
	DefaultIssueMaxDepth = a1.DefaultMaxDepth
	// reservedExtPrefix and reservedA1ExtPrefix are refused on issuance:
	// passport fields (the reference's, and ours: a1.passport.root, ADR
	// 0014) must come from a real passport, never from a caller
	// (GATEWAY.md §12.15).
	reservedExtPrefix   = "dyolo.passport."
	reservedA1ExtPrefix = "a1.passport."
)

// actor names who acted; "" derives it from the admin token presented
// ("admin", "admin (previous token)" or "anonymous").
func (s *Server) emitAdmin(r *http.Request, action, code, subject, actor string) {
	dec := audit.DecisionAllow
	if code != "" {
		dec = audit.DecisionDeny
		if code == CodeStorage || code == CodeInternal {
			dec = audit.DecisionError
		}
	}
	if actor == "" {
		actor = "anonymous"
		switch s.adminTokenMatch(r) {
		case adminTokenCurrent:
			actor = "admin"
		case adminTokenPrevious:
			actor = "admin (previous token)"
		}
	}
	s.emitter.Emit(audit.Event{Kind: audit.KindAdmin, Action: action, Decision: dec, ErrorCode: code,
		Actor: actor, Subject: subject, Tenant: s.cfg.Tenant, RequestID: headerRequestID(r),
		ClientIP: clientIP(r, s.cfg.ProxyMode, s.cfg.TrustedProxies).String()})
}

// adminDone records the outcome of an admin action (metrics and audit) and
// writes err when non-nil.
func (s *Server) adminDone(w http.ResponseWriter, r *http.Request, action, subject string, err error) bool {
	return s.adminDoneAs(w, r, action, subject, "", err)
}

// adminDoneAs is adminDone with the audit event's actor ("" derives it
// from the admin token).
func (s *Server) adminDoneAs(w http.ResponseWriter, r *http.Request, action, subject, actor string, err error) bool {
	if err == nil {
		s.metrics.admin.WithLabelValues(action, "ok").Inc()
		s.emitAdmin(r, action, "", subject, actor)
		return false
	}
	ae := toAPIError(err)
	s.metrics.admin.WithLabelValues(action, ae.Code).Inc()
	if ae.Status >= 500 {
		s.metrics.storageErrs.WithLabelValues(action).Inc()
	}
	s.emitAdmin(r, action, ae.Code, subject, actor)
	writeError(w, ae)
	return true
}

// decodeAdmin decodes the body of an admin request into v. On failure it
// records the action's outcome, writes the error and returns false.
func (s *Server) decodeAdmin(w http.ResponseWriter, r *http.Request, action string, v any) bool {
	if e := decodeJSON(w, r, s.cfg.MaxBodyBytes, v); e != nil {
		s.adminDone(w, r, action, "", e)
		return false
	}
	return true
}

// adminIssued counts and records the issuance of c and returns its
// fingerprint hex.
func (s *Server) adminIssued(w http.ResponseWriter, r *http.Request, action string, c *a1.Cert) string {
	fp := c.Fingerprint()
	fpHex := hex.EncodeToString(fp[:])
	s.metrics.issued.Inc()
	s.adminDone(w, r, action, fpHex, nil)
	return fpHex
}

type intentJSON struct {
	Name   string            `json:"name"`
	Params map[string]string `json:"params"`
}

type certIssueRequest struct {
	DelegatePKHex string                     `json:"delegate_pk_hex"`
	Intents       []intentJSON               `json:"intents"`
	TTLSeconds    *uint64                    `json:"ttl_seconds"`
	MaxDepth      *int                       `json:"max_depth"`
	Extensions    map[string]json.RawMessage `json:"extensions"`
}

// ttlOf is the requested TTL, or the default: DefaultIssueTTL, lowered
// to A1_MAX_TTL_SECS when that is smaller (the bound holds for every cert
// the gateway issues, asked for or not).
func (s *Server) ttlOf(ttl *uint64) (uint64, *apiError) {
	if ttl == nil {
		return min(DefaultIssueTTL, s.cfg.MaxTTL), nil
	}
	if *ttl == 0 || *ttl > s.cfg.MaxTTL {
		return 0, badRequest("ttl_seconds must be in [1, %d]", s.cfg.MaxTTL)
	}
	return *ttl, nil
}

// extValue converts request JSON to an extension value (PROTOCOL.md §5.6):
// u64 → U64, string → Str, array → Strings (non-strings as their JSON
// text), anything else → Str of its JSON text.
func extValue(raw json.RawMessage) (a1.ExtValue, error) {
	t := strings.TrimSpace(string(raw))
	if t == "" {
		return a1.ExtValue{}, fmt.Errorf("empty value")
	}
	switch t[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return a1.ExtValue{}, err
		}
		return a1.StrValue(s), nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return a1.ExtValue{}, err
		}
		if len(items) > a1.MaxExtensionListLen {
			return a1.ExtValue{}, fmt.Errorf("more than %d items", a1.MaxExtensionListLen)
		}
		out := make([]string, len(items))
		for i, it := range items {
			var s string
			if json.Unmarshal(it, &s) == nil {
				out[i] = s
			} else {
				out[i] = compactJSON(it)
			}
		}
		return a1.StringsValue(out), nil
	}
	if n, err := strconv.ParseUint(t, 10, 64); err == nil {
		return a1.U64Value(n), nil
	}
	return a1.StrValue(compactJSON(raw)), nil
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return b.String()
	}
	return string(raw)
}

func (s *Server) handleCertIssue(w http.ResponseWriter, r *http.Request) {
	const action = "cert.issue"
	var req certIssueRequest
	if !s.decodeAdmin(w, r, action, &req) {
		return
	}
	cert, e := s.issueCert(&req)
	if e != nil {
		s.adminDone(w, r, action, req.DelegatePKHex, e)
		return
	}
	fp := s.adminIssued(w, r, action, cert)
	writeJSON(w, http.StatusCreated, api.IssueCertResponse{Cert: cert, FingerprintHex: fp,
		ScopeRootHex: hex.EncodeToString(cert.ScopeRoot[:]), Chain: a1.NewChain(s.pub, cert.ScopeRoot, cert)})
}

func (s *Server) issueCert(req *certIssueRequest) (*a1.Cert, *apiError) {
	delegate, e := parseExecutorField("delegate_pk_hex", req.DelegatePKHex)
	if e != nil {
		return nil, e
	}
	if len(req.Intents) == 0 || len(req.Intents) > MaxIssueIntents {
		return nil, badRequest("intents must hold 1..%d intents", MaxIssueIntents)
	}
	hashes := make([]a1.IntentHash, len(req.Intents))
	for i, in := range req.Intents {
		h, e := intentOf(in.Name, in.Params)
		if e != nil {
			e.Msg = "intents[" + itoa(i) + "]: " + e.Msg
			return nil, e
		}
		hashes[i] = h
	}
	ttl, e := s.ttlOf(req.TTLSeconds)
	if e != nil {
		return nil, e
	}
	depth := DefaultIssueMaxDepth
	if req.MaxDepth != nil {
		if *req.MaxDepth < 0 || *req.MaxDepth > math.MaxUint8 {
			return nil, badRequest("max_depth must be in [0, 255]")
		}
		depth = *req.MaxDepth
	}
	tree, err := a1.NewIntentTree(hashes)
	if err != nil {
		return nil, toAPIError(err)
	}
	cert, err := a1.NewCert(delegate, hashes, uint64(time.Now().Unix()), ttl)
	if err != nil {
		return nil, toAPIError(err)
	}
	if leaves := tree.Leaves(); len(leaves) > 1 {
		// A cert over several intents lists them (a sub-scope proof of
		// all of them against its own scope, as `a1 chain build` writes
		// it), so the gateway can derive the inclusion proof of any one:
		// with a bare Merkle root, an authorize request without a
		// merkle_proof could never match (PROTOCOL.md §17 item 14).
		if cert.ScopeProof, err = a1.BuildSubScopeProof(tree, leaves); err != nil {
			return nil, toAPIError(err)
		}
	}
	cert.MaxDepth = uint8(depth)
	if len(req.Extensions) > a1.MaxExtensionFields {
		return nil, badRequest("more than %d extensions", a1.MaxExtensionFields)
	}
	for _, k := range sortedRawKeys(req.Extensions) {
		if strings.HasPrefix(k, reservedExtPrefix) || strings.HasPrefix(k, reservedA1ExtPrefix) {
			return nil, &apiError{Status: http.StatusBadRequest, Code: CodeReservedExtension,
				Msg: "extension " + quoteShort(k) + " is reserved", Hint: "passport fields come from POST /v1/passport/issue and /v1/passport/sub"}
		}
		v, err := extValue(req.Extensions[k])
		if err != nil {
			return nil, badRequest("extension %s: %v", quoteShort(k), err)
		}
		if err := cert.Extensions.Set(k, v); err != nil {
			return nil, toAPIError(err)
		}
	}
	if err := cert.Sign(s.signer); err != nil {
		return nil, toAPIError(err)
	}
	return cert, nil
}

func sortedRawKeys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func parseExecutorField(field, h string) (a1.PublicKey, *apiError) {
	if h == "" {
		return a1.PublicKey{}, badRequest("missing field `%s`", field)
	}
	pk, err := a1.ParsePublicKeyHex(h)
	if err != nil {
		return pk, badRequest("%s must be 64 hex characters (32 bytes)", field)
	}
	if err := a1.CheckPublicKey(pk); err != nil {
		return pk, badRequest("%s is not a usable Ed25519 public key", field)
	}
	return pk, nil
}

type passportIssueRequest struct {
	Namespace    string   `json:"namespace"`
	Capabilities []string `json:"capabilities"`
	TTLSeconds   *uint64  `json:"ttl_seconds"`
}

type passportResponse struct {
	Passport       json.RawMessage `json:"passport"`
	FingerprintHex string          `json:"fingerprint_hex"`
	HolderPKHex    string          `json:"holder_pk_hex"`
}

// handlePassportIssue issues a passport held by the gateway key.
func (s *Server) handlePassportIssue(w http.ResponseWriter, r *http.Request) {
	const action = "passport.issue"
	var req passportIssueRequest
	if !s.decodeAdmin(w, r, action, &req) {
		return
	}
	if e := checkNamespace(req.Namespace); e != nil {
		s.adminDone(w, r, action, req.Namespace, e)
		return
	}
	ttl, e := s.ttlOf(req.TTLSeconds)
	if e != nil {
		s.adminDone(w, r, action, req.Namespace, e)
		return
	}
	if len(req.Capabilities) == 0 {
		s.adminDone(w, r, action, req.Namespace, badRequest("capabilities must not be empty"))
		return
	}
	p, err := a1.IssuePassport(s.signer, req.Namespace, req.Capabilities, uint64(time.Now().Unix()), ttl)
	if err != nil {
		s.adminDone(w, r, action, req.Namespace, err)
		return
	}
	file, err := p.MarshalFile()
	if err != nil {
		s.adminDone(w, r, action, req.Namespace, err)
		return
	}
	fp := s.adminIssued(w, r, action, p.Cert)
	writeJSON(w, http.StatusCreated, passportResponse{Passport: file, FingerprintHex: fp, HolderPKHex: s.pub.Hex()})
}

// checkNamespace bounds a passport namespace: 1..a1.MaxNamespaceLen bytes
// of text without control or format characters or line and paragraph
// separators (a newline, U+2028, an escape sequence or a bidi override
// would reach receipts, logs and terminals),
// path separators or surrounding space, and not "." or "..": tools name
// files after it (`a1 passport sub` writes <namespace>-chain.json, the
// reference gateway keeps passports as <namespace>.json).
func checkNamespace(ns string) *apiError {
	const hint = "a namespace is a name such as acme-trading-bot: no control characters, '/', '\\' or surrounding space"
	switch {
	case ns == "":
		return badRequest("missing field `namespace`")
	case len(ns) > a1.MaxNamespaceLen:
		return badRequest("namespace longer than %d bytes", a1.MaxNamespaceLen)
	}
	switch bad, ok := plainname.Check(ns); {
	case ok:
		return nil
	case bad != 0:
		return &apiError{Status: http.StatusBadRequest, Code: CodeMalformed,
			Msg: fmt.Sprintf("namespace holds the character %U", bad), Hint: hint}
	default:
		return &apiError{Status: http.StatusBadRequest, Code: CodeMalformed, Msg: "namespace " + quoteShort(ns) + " is not a valid name", Hint: hint}
	}
}

type passportSubRequest struct {
	Passport      json.RawMessage `json:"passport"`
	DelegatePKHex string          `json:"delegate_pk_hex"`
	Capabilities  []string        `json:"capabilities"`
	TTLSeconds    *uint64         `json:"ttl_seconds"`
}

// handlePassportSub narrows a gateway-held passport to a delegate.
func (s *Server) handlePassportSub(w http.ResponseWriter, r *http.Request) {
	const action = "passport.sub"
	var req passportSubRequest
	if !s.decodeAdmin(w, r, action, &req) {
		return
	}
	cert, chain, e := s.issueSub(r, &req)
	if e != nil {
		s.adminDone(w, r, action, req.DelegatePKHex, e)
		return
	}
	fp := s.adminIssued(w, r, action, cert)
	writeJSON(w, http.StatusCreated, api.IssueCertResponse{Cert: cert, FingerprintHex: fp,
		ScopeRootHex: hex.EncodeToString(cert.ScopeRoot[:]), Chain: chain})
}

func (s *Server) issueSub(r *http.Request, req *passportSubRequest) (*a1.Cert, *a1.SignedChain, *apiError) {
	if len(req.Passport) == 0 || string(req.Passport) == "null" {
		return nil, nil, badRequest("missing field `passport`")
	}
	p, err := a1.ParsePassportFile(req.Passport)
	if err == nil {
		err = p.Check()
	}
	if err != nil {
		return nil, nil, toAPIError(err)
	}
	if p.Holder() != s.pub {
		return nil, nil, &apiError{Status: http.StatusForbidden, Code: CodeNotPassportHolder,
			Msg: "the gateway does not hold this passport", Hint: "sub-certs of other passports are issued by their holder (a1 passport sub)"}
	}
	delegate, e := parseExecutorField("delegate_pk_hex", req.DelegatePKHex)
	if e != nil {
		return nil, nil, e
	}
	ttl, e := s.ttlOf(req.TTLSeconds)
	if e != nil {
		return nil, nil, e
	}
	if len(req.Capabilities) == 0 || len(req.Capabilities) > a1.MaxCapabilities {
		return nil, nil, badRequest("capabilities must hold 1..%d names", a1.MaxCapabilities)
	}
	for i, c := range req.Capabilities {
		if _, e := intentOf(c, nil); e != nil {
			e.Msg = "capabilities[" + itoa(i) + "]: " + e.Msg
			return nil, nil, e
		}
	}
	now := uint64(max(time.Now().Unix(), 0))
	if e := s.checkPassportLive(r, p, now); e != nil {
		return nil, nil, e
	}
	c, err := p.IssueBoundSub(s.signer, delegate, req.Capabilities, now, ttl)
	if err != nil {
		return nil, nil, toAPIError(err)
	}
	// [root, sub], as `a1 passport sub` writes: the passport's root is hop
	// 0, and the sub-cert carries its fingerprint (IssueBoundSub), so
	// revoking the passport stops the sub-cert at every gateway, in this
	// chain and in a [sub] chain alike (ADR 0014).
	return c, a1.NewChain(p.Holder(), p.Cert.ScopeRoot, p.Cert, c), nil
}

// checkPassportLive refuses to narrow a passport that could not authorize
// itself: expired, not yet valid (beyond the drift) or revoked. Its
// sub-certs are bound to the root (IssueBoundSub) and would be refused
// anyway; the caller learns why now, and nothing is signed for them.
func (s *Server) checkPassportLive(r *http.Request, p *a1.Passport, now uint64) *apiError {
	const hint = "issue a new passport (POST /v1/passport/issue)"
	switch c := p.Cert; {
	case c.ExpirationUnix <= now:
		return &apiError{Status: http.StatusForbidden, Code: a1.ErrExpired.Code(),
			Msg: fmt.Sprintf("the passport expired (expiration_unix %d, now %d)", c.ExpirationUnix, now), Hint: hint}
	case c.IssuedAt > now+s.cfg.DriftSecs:
		return &apiError{Status: http.StatusForbidden, Code: a1.ErrNotYetValid.Code(),
			Msg: fmt.Sprintf("the passport is not valid yet (issued_at %d, now %d)", c.IssuedAt, now), Hint: "wait until its issued_at"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StorageTimeout)
	_, revoked, err := s.st.RevocationStatus(ctx, s.cfg.Tenant, p.Cert.Fingerprint())
	cancel()
	if err != nil {
		return toAPIError(err)
	}
	if revoked {
		return &apiError{Status: http.StatusForbidden, Code: a1.ErrRevoked.Code(), Msg: "the passport's root cert is revoked", Hint: hint}
	}
	return nil
}

// revokeRequest is either the admin form {fingerprint_hex, reason} (with
// the bearer) or a signed revocation (DESIGN.md §3a).
type revokeRequest struct {
	FingerprintHex string          `json:"fingerprint_hex"`
	Reason         string          `json:"reason"`
	Chain          json.RawMessage `json:"chain"`
	Index          *int            `json:"index"`
	IssuedAt       uint64          `json:"issued_at"`
	RevokerPKHex   string          `json:"revoker_pk_hex"`
	SignatureHex   string          `json:"signature_hex"`
}

// revocationOf authorizes one revocation: by the admin bearer (when the
// request carries an Authorization header) or by its signature.
func (s *Server) revocationOf(r *http.Request, req *revokeRequest, now time.Time) (store.Revocation, *apiError) {
	var rev store.Revocation
	if len(req.Reason) > a1.MaxRevocationReasonLen {
		return rev, badRequest("reason longer than %d bytes", a1.MaxRevocationReasonLen)
	}
	rev.Reason, rev.RevokedAt = req.Reason, now
	if r.Header.Get("Authorization") != "" {
		if e := s.checkAdmin(r); e != nil {
			return rev, e
		}
		if len(req.Chain) > 0 {
			return rev, badRequest("with the admin token send fingerprint_hex, not a signed revocation")
		}
		fp, e := parseFingerprint(req.FingerprintHex)
		if e != nil {
			return rev, e
		}
		rev.Fingerprint, rev.Actor = fp, "admin"
		return rev, nil
	}
	if len(req.Chain) == 0 || string(req.Chain) == "null" {
		if !s.adminOn {
			return rev, &apiError{Status: http.StatusForbidden, Code: CodeAdminDisabled,
				Msg: "admin revocation is disabled on this gateway", Hint: "send a signed revocation (DESIGN.md §3a) or set A1_ADMIN_TOKEN"}
		}
		return rev, &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
			Msg: "revocation needs the admin token or a signature", Hint: "send Authorization: Bearer $A1_ADMIN_TOKEN, or a signed revocation (a1 revoke --chain --index --key)"}
	}
	sc, e := s.parseChain(req.Chain)
	if e != nil {
		return rev, e
	}
	if req.Index == nil {
		return rev, badRequest("missing field `index`")
	}
	revoker, e := parseExecutorField("revoker_pk_hex", req.RevokerPKHex)
	if e != nil {
		return rev, e
	}
	sr := &a1.SignedRevocation{Chain: sc, Index: *req.Index, Reason: req.Reason, IssuedAt: req.IssuedAt, Revoker: revoker}
	sig, err := hex.DecodeString(req.SignatureHex)
	if err != nil || len(sig) != len(sr.Signature) {
		return rev, badRequest("signature_hex must be 128 hex characters (64 bytes)")
	}
	copy(sr.Signature[:], sig)
	fp, err := a1.VerifyRevocation(sr, s.roots, s.gatewayID, uint64(max(now.Unix(), 0)))
	if err != nil {
		return rev, toAPIError(err)
	}
	rev.Fingerprint, rev.Actor = fp, "signed:"+revoker.Hex()
	return rev, nil
}

func parseFingerprint(h string) ([32]byte, *apiError) {
	if h == "" {
		return [32]byte{}, badRequest("missing field `fingerprint_hex`")
	}
	fp, e := parseHex32("fingerprint_hex", strings.ToLower(h))
	if e != nil {
		e.Code = CodeInvalidFingerprint
	}
	return fp, e
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	const action = "cert.revoke"
	var req revokeRequest
	if !s.decodeAdmin(w, r, action, &req) {
		return
	}
	rev, e := s.revocationOf(r, &req, time.Now())
	if e != nil {
		s.adminDone(w, r, action, req.FingerprintHex, e)
		return
	}
	fp := hex.EncodeToString(rev.Fingerprint[:])
	n, ok := s.storeRevocations(w, r, action, fp, []store.Revocation{rev})
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, api.RevokeResponse{Revoked: fp, FingerprintHex: fp, NewlyRevoked: n > 0})
}

// storeRevocations stores revs under the storage timeout and records the
// action's outcome (subject names what was revoked). It returns how many
// were newly revoked, or false when it wrote an error.
func (s *Server) storeRevocations(w http.ResponseWriter, r *http.Request, action, subject string, revs []store.Revocation) (int, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StorageTimeout)
	n, err := s.st.Revoke(ctx, s.cfg.Tenant, revs)
	cancel()
	if s.adminDoneAs(w, r, action, subject, revocationActor(revs), err) {
		return 0, false
	}
	s.metrics.revocations.Add(float64(n))
	return n, true
}

// revocationActor names who revoked revs in the audit event: the revoker
// key of signed revocations ("signed:<hex>", as stored with them; "signed:
// N revokers" for a batch signed by several), or "" for the admin token.
func revocationActor(revs []store.Revocation) string {
	var first string
	seen := map[string]bool{}
	for _, r := range revs {
		if strings.HasPrefix(r.Actor, "signed:") && !seen[r.Actor] {
			seen[r.Actor] = true
			first = cmp.Or(first, r.Actor)
		}
	}
	if len(seen) > 1 {
		return "signed: " + strconv.Itoa(len(seen)) + " revokers"
	}
	return first
}

type revokeBatchRequest struct {
	Fingerprints []string        `json:"fingerprints"`
	Reason       string          `json:"reason"`
	Revocations  []revokeRequest `json:"revocations"`
}

// handleRevokeBatch revokes many fingerprints in one storage call: either
// {fingerprints, reason} with the admin bearer, or {revocations: [signed…]}.
// All entries are validated first; one bad entry rejects the batch.
func (s *Server) handleRevokeBatch(w http.ResponseWriter, r *http.Request) {
	const action = "cert.revoke-batch"
	var req revokeBatchRequest
	if !s.decodeAdmin(w, r, action, &req) {
		return
	}
	now := time.Now()
	var revs []store.Revocation
	switch {
	case len(req.Fingerprints) > 0 && len(req.Revocations) > 0:
		s.adminDone(w, r, action, "", badRequest("send either fingerprints (admin) or revocations (signed), not both"))
		return
	case len(req.Fingerprints)+len(req.Revocations) == 0:
		s.adminDone(w, r, action, "", &apiError{Status: http.StatusBadRequest, Code: CodeBatchEmpty, Msg: "nothing to revoke"})
		return
	case len(req.Fingerprints) > s.cfg.MaxBatch || len(req.Revocations) > s.cfg.MaxBatch:
		s.adminDone(w, r, action, "", &apiError{Status: http.StatusBadRequest, Code: CodeBatchTooLarge, Msg: "too many revocations"})
		return
	case len(req.Fingerprints) > 0:
		if e := s.checkAdmin(r); e != nil {
			s.adminDone(w, r, action, "", e)
			return
		}
		if len(req.Reason) > a1.MaxRevocationReasonLen {
			s.adminDone(w, r, action, "", badRequest("reason longer than %d bytes", a1.MaxRevocationReasonLen))
			return
		}
		for i, h := range req.Fingerprints {
			fp, e := parseFingerprint(h)
			if e != nil {
				e.Msg = "fingerprints[" + itoa(i) + "]: " + e.Msg
				s.adminDone(w, r, action, "", e)
				return
			}
			revs = append(revs, store.Revocation{Fingerprint: fp, Reason: req.Reason, Actor: "admin", RevokedAt: now})
		}
	default:
		for i := range req.Revocations {
			rq := &req.Revocations[i]
			if len(rq.Chain) == 0 {
				s.adminDone(w, r, action, "", badRequest("revocations[%d]: missing field `chain`", i))
				return
			}
			rev, e := s.revocationOf(r, rq, now)
			if e != nil {
				e.Msg = "revocations[" + itoa(i) + "]: " + e.Msg
				s.adminDone(w, r, action, "", e)
				return
			}
			revs = append(revs, rev)
		}
	}
	n, ok := s.storeRevocations(w, r, action, strconv.Itoa(len(revs))+" fingerprints", revs)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, api.RevokeBatchResponse{RevokedCount: n, Total: len(revs), Failed: []string{}})
}

// handleCertStatus answers the revocation status of one fingerprint; a
// storage failure is a 503, never "not revoked".
func (s *Server) handleCertStatus(w http.ResponseWriter, r *http.Request) {
	fp, e := parseFingerprint(r.PathValue("fingerprint"))
	if e != nil {
		writeError(w, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StorageTimeout)
	rev, ok, err := s.st.RevocationStatus(ctx, s.cfg.Tenant, fp)
	cancel()
	if err != nil {
		s.metrics.storageErrs.WithLabelValues("revocation_status").Inc()
		writeError(w, toAPIError(err))
		return
	}
	resp := api.CertStatus{Fingerprint: hex.EncodeToString(fp[:]), Revoked: ok}
	if ok {
		resp.RevokedAtUnix = rev.RevokedAt.Unix()
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleListRevocations(w http.ResponseWriter, r *http.Request) {
	const action = "revocations.list"
	q := r.URL.Query()
	page := store.Page{Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxPageLimit {
			s.adminDone(w, r, action, "", badRequest("limit must be an integer in [1, %d]", store.MaxPageLimit))
			return
		}
		page.Limit = n
	}
	if _, _, err := store.ParseCursor(page.Cursor); err != nil {
		s.adminDone(w, r, action, "", badRequest("malformed cursor"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StorageTimeout)
	revs, next, err := s.st.ListRevocations(ctx, s.cfg.Tenant, page)
	cancel()
	if s.adminDone(w, r, action, "", err) {
		return
	}
	out := make([]api.Revocation, len(revs))
	for i, rv := range revs {
		out[i] = api.Revocation{FingerprintHex: hex.EncodeToString(rv.Fingerprint[:]), Reason: rv.Reason, Actor: rv.Actor, RevokedAtUnix: rv.RevokedAt.Unix()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"revocations": out, "next_cursor": next})
}

type addRootRequest struct {
	PublicKeyHex string `json:"public_key_hex"`
	Label        string `json:"label"`
}

// refreshRoots runs change (when non-nil) against the registered roots,
// then reloads the trust anchors, both under one storage timeout.
func (s *Server) refreshRoots(r *http.Request, change func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StorageTimeout)
	defer cancel()
	if change != nil {
		if err := change(ctx); err != nil {
			return err
		}
	}
	return s.roots.refresh(ctx, s.st, s.cfg.Tenant)
}

func (s *Server) handleAddRoot(w http.ResponseWriter, r *http.Request) {
	const action = "roots.add"
	var req addRootRequest
	if !s.decodeAdmin(w, r, action, &req) {
		return
	}
	pk, e := parseExecutorField("public_key_hex", strings.ToLower(req.PublicKeyHex))
	if e != nil {
		s.adminDone(w, r, action, "", e)
		return
	}
	if len(req.Label) > store.MaxTextLen {
		s.adminDone(w, r, action, pk.Hex(), badRequest("label longer than %d bytes", store.MaxTextLen))
		return
	}
	err := s.refreshRoots(r, func(ctx context.Context) error {
		return s.st.AddRoot(ctx, s.cfg.Tenant, store.Root{PublicKey: pk, Label: req.Label, AddedBy: "admin", AddedAt: time.Now()})
	})
	if s.adminDone(w, r, action, pk.Hex(), err) {
		return
	}
	writeJSON(w, http.StatusCreated, api.Root{PublicKeyHex: pk.Hex(), Source: "registered", Label: req.Label})
}

func (s *Server) handleRemoveRoot(w http.ResponseWriter, r *http.Request) {
	const action = "roots.remove"
	pk, e := parseHex32("public_key_hex", strings.ToLower(r.PathValue("public_key_hex")))
	if e != nil {
		s.adminDone(w, r, action, "", e)
		return
	}
	var removed bool
	err := s.refreshRoots(r, func(ctx context.Context) (err error) {
		removed, err = s.st.RemoveRoot(ctx, s.cfg.Tenant, pk)
		return err
	})
	if s.adminDone(w, r, action, a1.PublicKey(pk).Hex(), err) {
		return
	}
	// A root from the configuration (the gateway key, A1_TRUSTED_ROOTS)
	// stays trusted whatever the store holds: say so rather than let
	// "removed" suggest it no longer is.
	_, static := s.roots.static[a1.PublicKey(pk)]
	writeJSON(w, http.StatusOK, map[string]any{"public_key_hex": a1.PublicKey(pk).Hex(), "removed": removed, "still_trusted": static})
}

func (s *Server) handleListRoots(w http.ResponseWriter, r *http.Request) {
	if s.adminDone(w, r, "roots.list", "", s.refreshRoots(r, nil)) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"roots": s.roots.list()})
}

// handleTokenVerify checks a VerifiedToken's MAC against the key ring
// (current key, then A1_MAC_KEYS_PREVIOUS_HEX). It accepts the reference
// body {"token": {...}} and the bare token the Go and TS SDKs send, never a
// body that is both: a bare token ignores unknown members, so in
// {"receipt": R, "mac": M, "token": T} a decoder of the bare form reads
// (R, M) while the wrapper is T, and a "valid" answer for T would confirm R
// to a service that relays the bytes it received and reads R itself.
// Members are compared case-insensitively (as encoding/json matches struct
// fields): {"Token": T, "receipt": R, "mac": M} is as ambiguous, and a
// member spelled in another case than "token", "receipt", "mac" or
// "audience" is refused too, since readers disagree on whether it is that
// member. Beside "token", "audience" names the verifying service: a bound
// token verifies only for its own audience, and an unbound one only when
// no audience is named (docs/spec.md §3.3).
func (s *Server) handleTokenVerify(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if e := decodeJSON(w, r, s.cfg.MaxBodyBytes, &body); e != nil {
		writeError(w, e)
		return
	}
	if tokenBodyAmbiguous(body) {
		writeError(w, &apiError{Status: http.StatusBadRequest, Code: CodeMalformed,
			Msg:  "ambiguous body: `token` together with a bare token's `receipt` or `mac`, or one of them in another case",
			Hint: `send {"token": {"receipt": ..., "mac": ...}} or the bare token, not both, with lower-case member names`})
		return
	}
	raw, wrapped := body["token"]
	var audience string
	if !wrapped {
		b, _ := json.Marshal(body)
		raw = b
	} else if a, ok := body["audience"]; ok {
		if err := json.Unmarshal(a, &audience); err != nil {
			writeError(w, badRequest("audience must be a string"))
			return
		}
		if err := a1.ValidateAudience(audience); err != nil {
			writeError(w, badRequest("audience: %v", err))
			return
		}
	}
	var t a1.VerifiedToken
	if err := t.UnmarshalJSON(raw); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	if err := t.Verify(s.macKeys...); err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"valid": false, "error": "MAC verification failed",
			"error_code": CodeMACVerification, "hint": a1.Hint(err)})
		return
	}
	// The audience and the age only after the MAC: a forged token is
	// answered as forged whatever its binding and time, so these answers
	// tell nothing about forgeries. The refusals are 401 with "valid":
	// false, the shape of a MAC failure: the token is well formed but not
	// accepted.
	if err := t.CheckAudience(audience); err != nil {
		hint := a1.Hint(err)
		if !wrapped && t.Binding != nil {
			hint = `a bound token is verified with {"token": T, "audience": "<this service>"}`
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"valid": false, "error": err.Error(),
			"error_code": a1.ErrorCode(err), "hint": hint})
		return
	}
	if err := t.CheckAge(uint64(max(time.Now().Unix(), 0)), uint64(s.cfg.TokenMaxAge/time.Second), s.cfg.DriftSecs); err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"valid": false, "error": err.Error(),
			"error_code": a1.ErrorCode(err), "hint": a1.Hint(err)})
		return
	}
	rc := t.Receipt
	writeJSON(w, http.StatusOK, api.TokenStatus{Valid: true, ChainDepth: rc.ChainDepth,
		ChainFingerprint: hex.EncodeToString(rc.ChainFingerprint[:]), VerifiedAtUnix: rc.VerifiedAtUnix,
		IntentHashHex: rc.Intent.Hex(), Namespace: rc.Namespace, Audience: audience, ExecutorPKHex: t.Binding.ExecutorHex()})
}

// tokenBodyAmbiguous reports a token verify body that readers of the
// wrapped and of the bare form, or case-sensitive and case-insensitive
// readers, would take for different tokens: a member folding to "token"
// beside one folding to "receipt" or "mac", or any of them not in lower
// case.
func tokenBodyAmbiguous(body map[string]json.RawMessage) bool {
	var wrapped, bare bool
	for k := range body {
		var canon string
		switch {
		case strings.EqualFold(k, "token"):
			canon, wrapped = "token", true
		case strings.EqualFold(k, "receipt"):
			canon, bare = "receipt", true
		case strings.EqualFold(k, "mac"):
			canon, bare = "mac", true
		case strings.EqualFold(k, "audience"):
			canon = "audience"
		default:
			continue
		}
		if k != canon {
			return true
		}
	}
	return wrapped && bare
}
