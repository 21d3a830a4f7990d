package gateway

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/api"
	"github.com/a1-go/a1/store"
)

//go:embed openapi.json
var openAPIDoc []byte

// healthPingTimeout bounds the storage ping of /healthz.
const healthPingTimeout = time.Second

// handleHealth is liveness plus a real storage ping: 503 when storage is
// down (nothing can be authorized then).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	err := s.healthPing(r.Context())
	resp := api.Health{Status: "ok", Version: A1Version, SigningPKHex: s.pub.Hex(), GatewayID: s.gatewayID,
		StorageBackend: s.cfg.Store, Storage: "ok", EphemeralKeys: append([]string{}, s.ephemeral...)}
	if len(s.ephemeral) > 0 {
		resp.Warnings = append(resp.Warnings, "ephemeral keys: issued certs and tokens do not survive a restart and differ between replicas")
	}
	if s.cfg.Store == StoreMemory {
		resp.Warnings = append(resp.Warnings, "memory store: revocations and consumed nonces are lost on restart")
	}
	status := http.StatusOK
	switch {
	case err != nil:
		s.metrics.storageErrs.WithLabelValues("ping").Inc()
		resp.Status, resp.Storage, status = "unavailable", "unavailable", http.StatusServiceUnavailable
	case !s.migrated.Load():
		// Reachable, but the schema is not applied yet: nothing can be
		// authorized, so the balancer must not send traffic either.
		resp.Status, resp.Storage, status = "unavailable", "not migrated", http.StatusServiceUnavailable
	}
	writeJSON(w, status, resp)
}

// healthPing is the storage ping of /healthz, shared: the probes are
// unauthenticated and exempt from rate limiting, so each one must not cost
// a storage round trip of its own (a flood of them would take the
// backend's pool from the authorizations). Requests that arrive while a
// ping is in flight wait for its result; at most one ping per replica is in
// flight, bounded by healthPingTimeout.
func (s *Server) healthPing(ctx context.Context) error {
	s.pingMu.Lock()
	c := s.pingCall
	if c == nil {
		c = &pingCall{done: make(chan struct{})}
		s.pingCall = c
		go func() {
			// Not bound to the request that started it: the others wait too.
			pctx, cancel := context.WithTimeout(context.Background(), min(healthPingTimeout, s.cfg.StorageTimeout))
			c.err = s.st.Ping(pctx)
			cancel()
			s.pingMu.Lock()
			s.pingCall = nil
			s.pingMu.Unlock()
			close(c.done)
		}()
	}
	s.pingMu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pingCall is one in-flight shared health ping.
type pingCall struct {
	done chan struct{}
	err  error // set before done is closed
}

// handleLive is bare liveness: the process answers HTTP. It never looks at
// storage, so an orchestrator restarting on it does not restart every
// replica during a database outage (route traffic on /healthz instead).
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

// handleReady is readiness: keys loaded (always, once the server exists),
// schema migrated, not shutting down.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.draining.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": "shutting down"})
	case !s.migrated.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": "storage not ready (migrations not applied or server unreachable)"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
	}
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	limits := map[string]int64{
		"max_body_bytes":      s.cfg.MaxBodyBytes,
		"max_batch":           int64(s.cfg.MaxBatch),
		"max_chain_certs":     a1.MaxDecodeCerts,
		"max_params":          a1.MaxParams,
		"max_param_key_len":   a1.MaxParamKeyLen,
		"max_param_value_len": a1.MaxParamValueLen,
		"max_action_len":      a1.MaxActionLen,
		"max_extension_bytes": a1.MaxExtensionBytes,
		"max_ttl_secs":        int64(s.cfg.MaxTTL),
		"max_request_id_len":  MaxRequestIDLen,
		"max_page_limit":      store.MaxPageLimit,
		"rate_limit_rps":      int64(s.cfg.RateRPS),
		"rate_limit_burst":    int64(s.cfg.RateBurst),
		"max_connections":     int64(s.cfg.MaxConns),
	}
	// Only when set: absent means tokens never expire (the reference).
	if s.cfg.TokenMaxAge > 0 {
		limits["token_max_age_secs"] = int64(s.cfg.TokenMaxAge / time.Second)
	}
	writeJSON(w, http.StatusOK, api.Configuration{
		GatewayID:           s.gatewayID,
		GatewaySigningPKHex: s.pub.Hex(),
		GatewayDID:          "did:a1:" + s.pub.Hex(),
		ReceiptSigningPKHex: s.receiptPub.Hex(),
		A1Version:           A1Version,
		ProtocolEnforcer:    ProtocolVersion,
		SupportedAlgorithms: []string{"Ed25519"},
		TrustedRoots:        s.roots.list(),
		NonceMode:           s.cfg.NonceMode.String(),
		RequirePoP:          s.cfg.RequirePoP,
		PoPEnvelope:         "a1-go::pop::v1",
		RevocationEnvelope:  "a1-go::revoke::v1",
		ReceiptSignature:    "a1-go::receipt::v1",
		DriftSecs:           s.cfg.DriftSecs,
		RevocationMaxSkew:   a1.RevocationMaxSkewSecs,
		StorageBackend:      s.cfg.Store,
		Limits:              limits,
		Endpoints: map[string]string{
			"authorization_endpoint":      "/v1/authorize",
			"passport_authorize_endpoint": "/v1/passport/authorize",
			"batch_authorize_endpoint":    "/v1/authorize/batch",
			"cert_issuance_endpoint":      "/v1/cert/issue",
			"passport_issue_endpoint":     "/v1/passport/issue",
			"passport_sub_endpoint":       "/v1/passport/sub",
			"cert_revoke_endpoint":        "/v1/cert/revoke",
			"cert_revoke_batch_endpoint":  "/v1/cert/revoke-batch",
			"cert_status_endpoint":        "/v1/cert/{fingerprint}",
			"token_verify_endpoint":       "/v1/token/verify",
			"roots_endpoint":              "/v1/roots",
			"openapi":                     "/openapi.json",
		},
	})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
}
