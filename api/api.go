// Package api holds the JSON wire types of the a1 gateway's HTTP API: the
// bodies the gateway writes and the Go SDK (package client) reads. One
// definition serves both sides, so a field added to a response reaches the
// SDK in the same change. The routes and their request bodies are documented
// in gateway/openapi.json and docs/gateway.md.
package api

import "github.com/a1-go/a1"

// Configuration is the discovery document, GET /.well-known/a1-configuration.
type Configuration struct {
	GatewayID           string   `json:"gateway_id"`
	GatewaySigningPKHex string   `json:"gateway_signing_pk_hex"`
	GatewayDID          string   `json:"gateway_did"`
	ReceiptSigningPKHex string   `json:"receipt_signing_pk_hex"`
	A1Version           string   `json:"a1_version"`
	ProtocolEnforcer    string   `json:"protocol_enforcer"`
	SupportedAlgorithms []string `json:"supported_algorithms"`
	TrustedRoots        []Root   `json:"trusted_roots"`
	NonceMode           string   `json:"nonce_mode"`
	RequirePoP          bool     `json:"require_pop"`
	// PoPEnvelope, RevocationEnvelope and ReceiptSignature name the signed
	// envelope versions (docs/spec.md).
	PoPEnvelope        string `json:"pop_envelope"`
	RevocationEnvelope string `json:"revocation_envelope"`
	ReceiptSignature   string `json:"receipt_signature"`
	DriftSecs          uint64 `json:"drift_secs"`
	RevocationMaxSkew  int    `json:"revocation_max_skew_secs"`
	StorageBackend     string `json:"storage_backend"`
	// Limits are the gateway's request bounds by name (max_body_bytes, …).
	Limits    map[string]int64  `json:"limits"`
	Endpoints map[string]string `json:"endpoints"`
}

// Root is a trusted principal key of the gateway.
type Root struct {
	PublicKeyHex string `json:"public_key_hex"`
	// Source is where the gateway got it: "gateway" (its own key), "A1_TRUSTED_ROOTS" or "registered" (POST /v1/roots).
	Source string `json:"source"`
	Label  string `json:"label,omitempty"`
}

// Health is GET /healthz (200 healthy, 503 when storage is down).
type Health struct {
	Status         string   `json:"status"`
	Version        string   `json:"version"`
	SigningPKHex   string   `json:"signing_pk_hex"`
	GatewayID      string   `json:"gateway_id"`
	StorageBackend string   `json:"storage_backend"`
	Storage        string   `json:"storage"`
	EphemeralKeys  []string `json:"ephemeral_keys"`
	Warnings       []string `json:"warnings,omitempty"`
}

// RevokeResponse answers POST /v1/cert/revoke.
type RevokeResponse struct {
	Revoked        string `json:"revoked"`
	FingerprintHex string `json:"fingerprint_hex"`
	// NewlyRevoked is false when the cert was already revoked.
	NewlyRevoked bool `json:"newly_revoked"`
}

// RevokeBatchResponse answers POST /v1/cert/revoke-batch.
type RevokeBatchResponse struct {
	RevokedCount int      `json:"revoked_count"`
	Total        int      `json:"total"`
	Failed       []string `json:"failed"`
}

// CertStatus is GET /v1/cert/{fingerprint}.
type CertStatus struct {
	Fingerprint   string `json:"fingerprint"`
	Revoked       bool   `json:"revoked"`
	RevokedAtUnix int64  `json:"revoked_at_unix,omitempty"`
}

// Revocation is one entry of GET /v1/revocations.
type Revocation struct {
	FingerprintHex string `json:"fingerprint_hex"`
	Reason         string `json:"reason"`
	Actor          string `json:"actor"`
	RevokedAtUnix  int64  `json:"revoked_at_unix"`
}

// TokenStatus answers POST /v1/token/verify for a valid token.
type TokenStatus struct {
	Valid            bool   `json:"valid"`
	ChainDepth       uint64 `json:"chain_depth"`
	ChainFingerprint string `json:"chain_fingerprint"`
	VerifiedAtUnix   uint64 `json:"verified_at_unix"`
	IntentHashHex    string `json:"intent_hash_hex"`
	Namespace        string `json:"namespace,omitempty"`
	// Audience and ExecutorPKHex are a bound token's binding
	// (docs/spec.md §3.3), absent for the reference's token.
	Audience      string `json:"audience,omitempty"`
	ExecutorPKHex string `json:"executor_pk_hex,omitempty"`
}

// Intent is an intent name with parameters, as issuance takes it.
type Intent struct {
	Name   string            `json:"name"`
	Params map[string]string `json:"params,omitempty"`
}

// IssueCertResponse is the issued cert, and the one-cert chain rooted at
// the gateway key that uses it (POST /v1/cert/issue).
type IssueCertResponse struct {
	Cert           *a1.Cert        `json:"cert"`
	FingerprintHex string          `json:"fingerprint_hex"`
	ScopeRootHex   string          `json:"scope_root_hex"`
	Chain          *a1.SignedChain `json:"chain"`
}

// Receipt is the reference receipt object of an authorize response.
type Receipt struct {
	ChainDepth             int    `json:"chain_depth"`
	FingerprintHex         string `json:"fingerprint_hex"`
	VerifiedAtUnix         uint64 `json:"verified_at_unix"`
	PassportNamespace      string `json:"passport_namespace"`
	CapabilityMaskHex      string `json:"capability_mask_hex"`
	NarrowingCommitmentHex string `json:"narrowing_commitment_hex"`
}

// AuthorizeResponse is a successful authorization (POST /v1/authorize):
// the reference shape plus receipt_signature_hex, intent_hash_hex and
// request_id when given. A denial is an error body.
type AuthorizeResponse struct {
	Authorized          bool              `json:"authorized"`
	ChainDepth          int               `json:"chain_depth"`
	ChainFingerprint    string            `json:"chain_fingerprint"`
	VerifiedAtUnix      uint64            `json:"verified_at_unix"`
	ErrorCode           *string           `json:"error_code"`
	Receipt             Receipt           `json:"receipt"`
	ReceiptSignatureHex string            `json:"receipt_signature_hex"`
	IntentHashHex       string            `json:"intent_hash_hex"`
	Token               *a1.VerifiedToken `json:"token,omitempty"`
	RequestID           string            `json:"request_id,omitempty"`
}

// BatchResult is one intent's outcome in a batch authorization.
type BatchResult struct {
	IntentName       string `json:"intent_name"`
	Authorized       bool   `json:"authorized"`
	ChainFingerprint string `json:"chain_fingerprint,omitempty"`
	IntentHashHex    string `json:"intent_hash_hex,omitempty"`
	// VerifiedAtUnix is the signed receipt's time (authorized results only):
	// with the request's chain and intent it rebuilds the receipt that
	// ReceiptSignatureHex signs (docs/spec.md §3).
	VerifiedAtUnix      uint64            `json:"verified_at_unix,omitempty"`
	ReceiptSignatureHex string            `json:"receipt_signature_hex,omitempty"`
	Token               *a1.VerifiedToken `json:"token,omitempty"`
	Error               string            `json:"error,omitempty"`
	ErrorCode           string            `json:"error_code,omitempty"`
	Hop                 *int              `json:"hop,omitempty"`
}

// BatchResponse answers POST /v1/authorize/batch: per-intent results.
type BatchResponse struct {
	AllAuthorized   bool          `json:"all_authorized"`
	AuthorizedCount int           `json:"authorized_count"`
	TotalCount      int           `json:"total_count"`
	Results         []BatchResult `json:"results"`
	RequestID       string        `json:"request_id,omitempty"`
}

// RequestIDHeader carries a caller's correlation id: the gateway echoes it
// on the response and records it in the request's audit event (an
// authorize body's request_id takes precedence there).
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen bounds a request id: an authorize body's request_id and
// the X-Request-Id header.
const MaxRequestIDLen = 128

// ValidRequestIDHeader reports whether id is usable as an X-Request-Id: 1
// to MaxRequestIDLen visible ASCII characters (no spaces or controls). The
// gateway ignores any other header value; clients check before sending.
func ValidRequestIDHeader(id string) bool {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}
