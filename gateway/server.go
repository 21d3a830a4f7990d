package gateway

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/net/netutil"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/api"
	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/sinks"
	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/store"
	"github.com/a1-go/a1/store/memory"
	"github.com/a1-go/a1/store/postgres"
)

// Server is one gateway replica: configuration, keys, storage, verifier,
// audit emitter and the HTTP handler. Build it with NewServer and run it
// with Serve; it holds no authorization state of its own.
type Server struct {
	cfg *Config
	log *slog.Logger

	st        Backend
	ready     readiness
	migrate   func(context.Context) error
	migrated  atomic.Bool
	draining  atomic.Bool
	ephemeral []string // which keys are ephemeral ("signing", "mac")
	pingMu    sync.Mutex
	pingCall  *pingCall // the /healthz storage ping in flight, if any

	signer     signer.Signer
	pub        a1.PublicKey
	receiptKey crypto.Signer
	receiptPub a1.PublicKey
	macKey     [32]byte
	macKeys    [][32]byte // current first, then previous
	adminHash  [32]byte   // sha256 of A1_ADMIN_TOKEN
	adminPrev  [][32]byte // sha256 of each of A1_ADMIN_TOKENS_PREVIOUS
	adminOn    bool
	gatewayID  string

	roots    *anchors
	tp       *sdktrace.TracerProvider // nil: tracing off
	chains   *chainCache
	verifier *a1.Verifier
	emitter  *audit.Emitter
	metrics  *metrics
	handler  http.Handler
	routes   []Route
	tls      *certReloader // nil: plain HTTP

	bg     context.CancelFunc
	bgWG   sync.WaitGroup
	closer []func() error
}

// Deps are the process resources a Server writes to.
type Deps struct {
	Getenv func(string) string // extra settings (audit sinks); nil: none
	Stdout io.Writer           // audit "stdout" sink
	Logger *slog.Logger
}

// NewServer loads keys, opens storage and audit sinks, and builds the
// handler. It does not listen. Close releases what it opened.
func NewServer(ctx context.Context, cfg *Config, deps Deps) (*Server, error) {
	s := &Server{cfg: cfg, log: deps.Logger, chains: newChainCache()}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Getenv == nil {
		deps.Getenv = func(string) string { return "" }
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	st, ready, migrate, err := openBackend(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if testOnlyWrapBackend != nil {
		st = testOnlyWrapBackend(st)
	}
	s.st, s.ready, s.migrate = st, ready, migrate
	s.closer = append(s.closer, st.Close)

	s.gatewayID = cfg.GatewayID
	if s.gatewayID == "" {
		s.gatewayID = s.pub.Hex()
	}
	if cfg.TLSCertFile != "" {
		if s.tls, err = newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, s.log); err != nil {
			s.Close()
			return nil, tlsStartError(err)
		}
	}
	s.metrics, err = newMetrics(cfg.Store, s.gatewayID)
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openAudit(ctx, deps); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openTracing(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.roots = newAnchors(s.pub, cfg.TrustedRoots)
	s.verifier = a1.NewVerifier(s.roots,
		a1.WithDrift(cfg.DriftSecs),
		a1.WithNonceMode(cfg.NonceMode),
		a1.WithAudience(s.gatewayID),
		a1.WithRequirePoP(cfg.RequirePoP),
		a1.WithSigCache(a1.NewSigCache(sigCacheSize)))
	s.routes = s.routeTable()
	s.handler = s.buildHandler()

	bgctx, cancel := context.WithCancel(context.Background())
	s.bg = cancel
	if s.tls != nil {
		s.bgWG.Add(1)
		go func() { defer s.bgWG.Done(); s.tls.loop(bgctx) }()
	}
	s.bgWG.Add(3)
	go func() { defer s.bgWG.Done(); s.readinessLoop(bgctx) }()
	go func() {
		defer s.bgWG.Done()
		var failing bool
		runEvery(bgctx, sweepEvery(cfg.Store), func() { failing = s.sweep(bgctx, failing) })
	}()
	go func() {
		defer s.bgWG.Done()
		s.roots.loop(bgctx, s.st, cfg.Tenant, cfg.RootsRefresh, cfg.StorageTimeout, s.log)
	}()
	return s, nil
}

// testOnlyWrapBackend, set by package tests only, wraps the opened backend
// before anything uses it (a backend that fails in ways a real server
// cannot be made to).
var testOnlyWrapBackend func(Backend) Backend

// defaultFlush bounds the audit and span flushes at shutdown when
// A1_SHUTDOWN_TIMEOUT is zero.
const defaultFlush = 10 * time.Second

// Cache bounds. sigCacheSize is the verifier's verified-signature cache.
// The decoded-chain cache (chaincache.go) holds at most 2 × chainCacheEntries
// chains of at most maxCachedChainBytes of JSON each, and at most
// chainCacheBytes of raw plus decoded chains in all (a 16 KiB chain can
// decode to ~160 KiB; a typical 2-hop chain is 2-3 KB of JSON, ~3-4 KB cached).
const (
	sigCacheSize        = 1 << 16
	chainCacheEntries   = 1024
	maxCachedChainBytes = 16 << 10
	chainCacheBytes     = 64 << 20
)

// Handler returns the HTTP handler (every route and middleware).
func (s *Server) Handler() http.Handler { return s.handler }

// GatewayID is the gateway id (the PoP and revocation audience).
func (s *Server) GatewayID() string { return s.gatewayID }

// PublicKey is the gateway's issuing key.
func (s *Server) PublicKey() a1.PublicKey { return s.pub }

func (s *Server) loadKeys(ctx context.Context) error {
	c := s.cfg
	remote := false
	switch {
	case c.SigningKeyHex != "":
		seed, _ := hex.DecodeString(c.SigningKeyHex)
		sg, err := signer.NewLocal(ed25519.NewKeyFromSeed(seed))
		if err != nil {
			return cfgErr("A1_SIGNING_KEY_HEX", "not a usable Ed25519 seed", "generate one with: openssl rand -hex 32")
		}
		s.signer = sg
	case c.SigningKeyURI != "":
		octx, cancel := context.WithTimeout(ctx, signer.DefaultTimeout)
		sg, err := signer.OpenOptions(octx, c.SigningKeyURI, signer.Options{Logger: s.log})
		cancel()
		if err != nil {
			return cfgErr("A1_SIGNING_KEY", fmt.Sprintf("cannot open the signing key: %v", err),
				"check the URI form in docs/kms.md and the key service's credentials")
		}
		s.signer = sg
		if c, ok := sg.(io.Closer); ok { // a Cloud KMS signer holds a gRPC connection
			s.closer = append(s.closer, c.Close)
		}
		scheme, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(c.SigningKeyURI)), ":")
		remote = scheme != "file" && scheme != "hex" && !(len(c.SigningKeyURI) == 64 && !strings.Contains(c.SigningKeyURI, ":"))
	default:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		s.signer, _ = signer.NewLocal(priv)
		s.ephemeral = append(s.ephemeral, "signing")
	}
	pk, err := a1.PublicKeyOf(s.signer)
	if err != nil {
		return cfgErr("A1_SIGNING_KEY", "the key is not an Ed25519 key", "use an Ed25519 key")
	}
	s.pub = pk

	// Receipts are signed on every authorization, so they never go to a
	// remote KMS (zero KMS calls on the hot path): a remote signer gets a
	// local receipt key, published in /.well-known/a1-configuration.
	switch {
	case c.ReceiptKeyHex != "":
		seed, _ := hex.DecodeString(c.ReceiptKeyHex)
		s.receiptKey = fastKey{ed25519.NewKeyFromSeed(seed)}
	case remote:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		s.receiptKey = fastKey{priv}
		s.ephemeral = append(s.ephemeral, "receipt")
	default:
		s.receiptKey = s.signer
	}
	s.receiptPub, _ = a1.PublicKeyOf(s.receiptKey)

	if c.MACKeyHex != "" {
		b, _ := hex.DecodeString(c.MACKeyHex)
		copy(s.macKey[:], b)
	} else {
		if _, err := rand.Read(s.macKey[:]); err != nil {
			return err
		}
		s.ephemeral = append(s.ephemeral, "mac")
	}
	s.macKeys = [][32]byte{s.macKey}
	for _, h := range c.MACKeysPreviousHex {
		var k [32]byte
		b, _ := hex.DecodeString(h)
		copy(k[:], b)
		s.macKeys = append(s.macKeys, k)
	}
	if c.AdminToken != "" {
		s.adminHash = sha256.Sum256([]byte(c.AdminToken))
		s.adminOn = true
		for _, t := range c.AdminTokensPrevious {
			s.adminPrev = append(s.adminPrev, sha256.Sum256([]byte(t)))
		}
	}
	return nil
}

// auditDBReadiness makes the PostgreSQL database of the audit sink, when
// it is not the store's, part of readiness: its events would otherwise be
// dropped as permanent failures (no a1_audit table) while the replica
// served. A1_MIGRATE migrates it as it does the store's database.
func (s *Server) auditDBReadiness(pool *pgxpool.Pool) {
	storeReady, storeMigrate := s.ready, s.migrate
	s.ready = func(ctx context.Context) (bool, error) {
		if ok, err := storeReady(ctx); err != nil || !ok {
			return ok, err
		}
		return postgres.MigrationsApplied(ctx, pool)
	}
	if s.cfg.Migrate {
		s.migrate = func(ctx context.Context) error {
			if storeMigrate != nil {
				if err := storeMigrate(ctx); err != nil {
					return err
				}
			}
			return postgres.Migrate(ctx, pool)
		}
	}
}

func (s *Server) openAudit(ctx context.Context, deps Deps) error {
	acfg, err := sinks.FromEnv(deps.Getenv)
	if err != nil {
		return cfgErr("A1_AUDIT_*", err.Error(), "see docs/audit.md for the audit variables")
	}
	acfg.Spec = s.cfg.AuditSinks
	sd := sinks.Deps{Stdout: deps.Stdout, Metrics: s.metrics.audit,
		ErrorLog: func(err error) { s.log.Warn("audit delivery failed", "err", err) }}
	if strings.Contains(acfg.Spec, "postgres") {
		if pg, ok := s.st.(interface{ Pool() *pgxpool.Pool }); ok {
			sd.DB = pg.Pool()
		} else if s.cfg.PGURL != "" {
			pc, err := postgres.PoolConfig(postgres.Config{URL: s.cfg.PGURL, Timeout: s.cfg.StorageTimeout})
			if err != nil {
				return cfgErr("A1_PG_URL", "cannot be parsed", "use postgres://user@host:5432/db")
			}
			pool, err := pgxpool.NewWithConfig(ctx, pc)
			if err != nil {
				return cfgErr("A1_PG_URL", "cannot open a pool for the audit sink", "check the URL")
			}
			sd.DB = pool
			s.closer = append(s.closer, func() error { pool.Close(); return nil })
			s.auditDBReadiness(pool)
		} else {
			return cfgErr("A1_AUDIT_SINKS", "the postgres audit sink needs A1_PG_URL", "set A1_PG_URL or drop postgres from A1_AUDIT_SINKS")
		}
	}
	list, err := sinks.Parse(acfg.Spec, acfg, sd)
	if err != nil {
		return cfgErr("A1_AUDIT_SINKS", err.Error(), "use a comma list such as stdout,file:/var/log/a1/audit.ndjson (docs/audit.md)")
	}
	// Checkpoints are signed with the receipt key: it is always local (a
	// remote KMS signer gets a separate local receipt key), so sealing a
	// checkpoint never calls a KMS, and its public key is published in
	// /.well-known/a1-configuration for third-party verification.
	em, err := audit.NewEmitter(audit.Config{Sinks: list, GatewayID: s.gatewayID,
		Signer: s.receiptKey, KeyID: "receipt:" + s.receiptPub.Hex(),
		CheckpointEvery: acfg.CheckpointEvery, CheckpointInterval: acfg.CheckpointInterval,
		ErrorLog: func(err error) { s.log.Warn("audit error", "err", err) }})
	if err != nil {
		return err
	}
	s.emitter = em
	s.emitKeyEvents()
	return nil
}

// emitKeyEvents records the keys this process starts with, one "key.rotate"
// admin event each (docs/audit.md §2): every start is a key rotation as far
// as an auditor can tell, so the trail shows which keys signed what from here
// on. Subjects name public keys and key ids only; a MAC key is named by
// macKeyID, never by its value.
func (s *Server) emitKeyEvents() {
	ephemeral := func(which string) string {
		if slices.Contains(s.ephemeral, which) {
			return " ephemeral=true"
		}
		return ""
	}
	subjects := []string{
		"role=signing key_id=" + s.signer.KeyID() + " public_key=" + s.pub.Hex() + ephemeral("signing"),
		"role=receipt public_key=" + s.receiptPub.Hex() + ephemeral("receipt"),
	}
	for i, k := range s.macKeys {
		role, eph := "mac", ephemeral("mac")
		if i > 0 {
			role, eph = "mac-previous", ""
		}
		subjects = append(subjects, "role="+role+" key_id="+macKeyID(k)+eph)
	}
	for _, sub := range subjects {
		s.emitter.Emit(audit.Event{Kind: audit.KindAdmin, Action: "key.rotate", Decision: audit.DecisionAllow,
			Actor: "system", Subject: sub, Tenant: s.cfg.Tenant})
	}
}

// macKeyID names a MAC key in audit events and logs: the first 8 bytes of a
// domain-separated SHA-256 of the key, which identifies it without revealing it.
func macKeyID(k [32]byte) string {
	h := sha256.New()
	h.Write([]byte("a1-go::mac-key-id::v1"))
	h.Write(k[:])
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// sweep runs one background sweep of expired nonces once the backend is
// ready, counts what it removed and its failures, and logs only when the
// sweeps start failing and when they recover. It returns whether this
// sweep failed.
func (s *Server) sweep(ctx context.Context, wasFailing bool) bool {
	if !s.migrated.Load() {
		return wasFailing
	}
	n, err := s.st.Sweep(ctx)
	s.metrics.swept.Add(float64(n))
	switch {
	case err != nil && ctx.Err() != nil: // shutting down
		return wasFailing
	case err != nil:
		s.metrics.storageErrs.WithLabelValues("sweep").Inc()
		if !wasFailing {
			s.log.Warn("expired nonces are not being swept: replay protection is unaffected, their storage is not reclaimed",
				"backend", s.cfg.Store, "err", err)
		}
		return true
	case wasFailing:
		s.log.Info("nonce sweeps recovered", "backend", s.cfg.Store, "swept", n)
	}
	return false
}

// privilegeReporter is implemented by backends that can tell when their
// own credentials exceed what the gateway needs (store/postgres,
// store/redis).
type privilegeReporter interface {
	ExcessPrivileges(ctx context.Context) ([]string, error)
}

// leastPrivilegeHint says how to narrow each backend's credentials.
var leastPrivilegeHint = map[string]string{
	StorePostgres: "migrate as the owner with `a1 migrate --grant ROLE` and run the gateway as ROLE without A1_MIGRATE (docs/storage.md, Least-privilege role)",
	StoreRedis:    "run the gateway as an ACL user with the rule redis.ACLRule prints (docs/storage.md, Least-privilege user)",
}

// serverChecker is implemented by backends that can tell when the
// server itself may lose state on its own (store/redis: an evicting
// maxmemory-policy; store/postgres: fsync or synchronous_commit off).
type serverChecker interface {
	CheckServer(ctx context.Context) ([]string, error)
}

// checkStorage asks the backend, once storage is ready, what its
// credentials allow beyond the gateway's needs (a warning: each is
// something a compromised gateway could undo) and which server settings
// can lose revocations or consumed nonces (an error).
func (s *Server) checkStorage(ctx context.Context) {
	if pr, ok := s.st.(privilegeReporter); ok {
		s.reportStorage(ctx, pr.ExcessPrivileges, slog.LevelWarn, "the storage credentials allow more than the gateway needs",
			"excess", leastPrivilegeHint[s.cfg.Store])
	}
	if sc, ok := s.st.(serverChecker); ok {
		s.reportStorage(ctx, sc.CheckServer, slog.LevelError, "the storage server may lose revocations or consumed nonces",
			"problem", serverHint[s.cfg.Store])
	}
}

// reportStorage runs one start-up check within the storage timeout and
// logs its findings, if any, as one line. A check that fails is not
// logged: the probes already report an unreachable backend.
func (s *Server) reportStorage(ctx context.Context, check func(context.Context) ([]string, error), level slog.Level, msg, key, hint string) {
	c, cancel := context.WithTimeout(ctx, s.cfg.StorageTimeout)
	defer cancel()
	found, err := check(c)
	if err != nil || len(found) == 0 {
		return
	}
	s.log.Log(ctx, level, msg, "backend", s.cfg.Store, key, strings.Join(found, "; "), "hint", hint)
}

// serverHint says how to fix what CheckServer reports, per backend.
var serverHint = map[string]string{
	StoreRedis:    "CONFIG SET maxmemory-policy noeviction (and in redis.conf): a full Redis then refuses writes and the gateway fails closed (docs/storage.md)",
	StorePostgres: "keep fsync on, and synchronous_commit on for the gateway's role (ALTER ROLE ... SET synchronous_commit = on) unless that loss is accepted (docs/storage.md)",
}

// readinessLoop applies migrations (when A1_MIGRATE) and checks the schema
// until the backend is ready, retrying while the server is unreachable.
func (s *Server) readinessLoop(ctx context.Context) {
	delay := 200 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*s.cfg.StorageTimeout)
		var err error
		if s.migrate != nil {
			err = s.migrate(cctx)
		}
		ok := false
		if err == nil {
			ok, err = s.ready(cctx)
		}
		cancel()
		if err == nil && ok {
			s.migrated.Store(true)
			if rerr := s.roots.refresh(ctx, s.st, s.cfg.Tenant); rerr != nil {
				s.log.Warn("trusted roots not loaded yet", "err", rerr)
			}
			s.checkStorage(ctx)
			s.log.Info("storage ready", "backend", s.cfg.Store)
			return
		}
		if err != nil {
			s.log.Warn("storage not ready", "backend", s.cfg.Store, "err", err)
		} else {
			s.log.Warn("database schema is not migrated; run `a1 migrate` or set A1_MIGRATE=true", "backend", s.cfg.Store)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// flushTimeout bounds each flush at shutdown (audit, then spans).
func (s *Server) flushTimeout() time.Duration {
	if s.cfg.ShutdownTimeout > 0 {
		return s.cfg.ShutdownTimeout
	}
	return defaultFlush
}

// Close stops background work, flushes audit and closes storage.
func (s *Server) Close() error {
	if s.bg != nil {
		s.bg()
		s.bgWG.Wait()
	}
	var errs []error
	if s.emitter != nil {
		// The flush gets its own A1_SHUTDOWN_TIMEOUT after the drain: a
		// dead SIEM costs at most that, and its undelivered events are
		// counted as dropped.
		ctx, cancel := context.WithTimeout(context.Background(), s.flushTimeout())
		if err := s.emitter.Close(ctx); err != nil && !errors.Is(err, audit.ErrEmitterClosed) {
			errs = append(errs, err)
		}
		cancel()
	}
	if s.tp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.flushTimeout())
		if err := s.tp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tracing: %w", err))
		}
		cancel()
	}
	for i := len(s.closer) - 1; i >= 0; i-- {
		if err := s.closer[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.closer = nil
	return errors.Join(errs...)
}

// Serve answers on ln until ctx ends, then stops accepting, drains in-flight
// requests (up to A1_SHUTDOWN_TIMEOUT) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.MaxConns > 0 {
		// At the cap Accept waits for a connection to close; new clients
		// queue in the kernel's listen backlog instead of costing memory.
		ln = netutil.LimitListener(ln, s.cfg.MaxConns)
		s.metrics.connLimit.Set(float64(s.cfg.MaxConns))
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls.tlsConfig())
	}
	hs := &http.Server{
		ConnState:         s.trackConn,
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		// "OPTIONS *" reaches the handler (a JSON 404 with the protocol
		// header) instead of net/http's empty 200.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: draining in-flight requests", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	return err
}

// trackConn keeps a1_http_open_connections: every accepted connection
// passes StateNew once and StateClosed or StateHijacked once.
func (s *Server) trackConn(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.metrics.conns.Inc()
	case http.StateClosed, http.StateHijacked:
		s.metrics.conns.Dec()
	}
}

// Route is one registered endpoint.
type Route struct {
	Method, Path string
	Admin        bool // needs the admin bearer (revoke accepts a signed body instead)
	handler      http.HandlerFunc
}

// RouteTable lists every endpoint a Server registers (the OpenAPI and
// admin-auth tests walk it).
func RouteTable() []Route { return (&Server{}).routeTable() }

func (s *Server) routeTable() []Route {
	return []Route{
		{Method: "POST", Path: "/v1/authorize", handler: s.handleAuthorize},
		{Method: "POST", Path: "/v1/passport/authorize", handler: s.handleAuthorize},
		{Method: "POST", Path: "/v1/authorize/batch", handler: s.handleAuthorizeBatch},
		{Method: "POST", Path: "/v1/cert/issue", Admin: true, handler: s.handleCertIssue},
		{Method: "POST", Path: "/v1/passport/issue", Admin: true, handler: s.handlePassportIssue},
		{Method: "POST", Path: "/v1/passport/sub", Admin: true, handler: s.handlePassportSub},
		{Method: "POST", Path: "/v1/cert/revoke", handler: s.handleRevoke},
		{Method: "POST", Path: "/v1/cert/revoke-batch", handler: s.handleRevokeBatch},
		{Method: "GET", Path: "/v1/cert/{fingerprint}", handler: s.handleCertStatus},
		{Method: "GET", Path: "/v1/revocations", Admin: true, handler: s.handleListRevocations},
		{Method: "POST", Path: "/v1/token/verify", handler: s.handleTokenVerify},
		{Method: "GET", Path: "/v1/roots", Admin: true, handler: s.handleListRoots},
		{Method: "POST", Path: "/v1/roots", Admin: true, handler: s.handleAddRoot},
		{Method: "DELETE", Path: "/v1/roots/{public_key_hex}", Admin: true, handler: s.handleRemoveRoot},
		{Method: "GET", Path: "/healthz", handler: s.handleHealth},
		{Method: "GET", Path: "/health", handler: s.handleHealth},
		{Method: "GET", Path: "/readyz", handler: s.handleReady},
		{Method: "GET", Path: "/livez", handler: s.handleLive},
		{Method: "GET", Path: "/metrics", handler: s.handleMetrics},
		{Method: "GET", Path: "/.well-known/a1-configuration", handler: s.handleDiscovery},
		{Method: "GET", Path: "/openapi.json", handler: s.handleOpenAPI},
	}
}

// probePaths are exempt from rate limiting.
var probePaths = map[string]bool{"/healthz": true, "/health": true, "/readyz": true, "/livez": true, "/metrics": true}

func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		h := rt.handler
		if rt.Admin {
			h = s.requireAdmin(rt.Path, h)
		}
		mux.HandleFunc(rt.Method+" "+rt.Path, h)
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !canonicalPath(r) {
			// ServeMux would answer a 307 redirect in text/html; the
			// gateway serves canonical paths only (and never redirects).
			writeError(w, &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Msg: "no such route: the path is not canonical",
				Hint: "send the path without empty, '.' or '..' segments (see /openapi.json)"})
			return
		}
		_, pattern := mux.Handler(r)
		if pattern == "" {
			// Unknown path (404) or method (405): answer in JSON.
			mux.ServeHTTP(&jsonStatusWriter{ResponseWriter: w}, r)
			return
		}
		if s.tp != nil {
			nameSpan(r, pattern)
		}
		mux.ServeHTTP(w, r)
	})
	h = s.rateLimit(h)
	h = s.recoverer(h)
	h = s.traceHandler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(ProtocolHeader, ProtocolVersion)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if id := headerRequestID(r); id != "" {
			w.Header().Set(RequestIDHeader, id)
		}
		h.ServeHTTP(w, r)
	})
}

// RequestIDHeader is api.RequestIDHeader.
const RequestIDHeader = api.RequestIDHeader

// headerRequestID is the request's X-Request-Id when usable
// (api.ValidRequestIDHeader), else "": an unusable id is ignored, not an
// error, since correlation must never deny a request.
func headerRequestID(r *http.Request) string {
	if v := r.Header.Get(RequestIDHeader); api.ValidRequestIDHeader(v) {
		return v
	}
	return ""
}

// canonicalPath reports whether r's path is already in the form
// http.ServeMux matches (which it otherwise redirects to): rooted, without
// empty, "." or ".." segments. "OPTIONS *" is not.
func canonicalPath(r *http.Request) bool {
	p := r.URL.EscapedPath()
	if r.Method == http.MethodConnect {
		return true // ServeMux does not clean CONNECT paths
	}
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// jsonStatusWriter turns the mux's plain-text 404/405 into JSON errors.
type jsonStatusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (j *jsonStatusWriter) WriteHeader(code int) {
	if j.wrote {
		return
	}
	j.wrote = true
	j.ResponseWriter.Header().Del("Content-Length")
	j.ResponseWriter.Header().Del("X-Content-Type-Options")
	j.ResponseWriter.Header().Set("X-Content-Type-Options", "nosniff")
	e := &apiError{Status: code, Code: CodeNotFound, Msg: "no such route", Hint: "see /openapi.json"}
	if code == http.StatusMethodNotAllowed {
		e.Code, e.Msg = CodeMethodNotAllowed, "method not allowed on this route"
	}
	writeError(j.ResponseWriter, e)
}

func (j *jsonStatusWriter) Write(b []byte) (int, error) {
	if !j.wrote {
		j.WriteHeader(http.StatusOK)
	}
	return len(b), nil
}

// maxLoggedPath bounds a request path written to the log.
const maxLoggedPath = 256

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The path is the client's (up to A1_MAX_HEADER_BYTES): bounded.
				s.log.Error("panic in handler", "route", r.Pattern, "path", audit.BoundText(r.URL.Path, maxLoggedPath),
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Msg: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// rateLimitTimeout bounds the shared limiter's storage call.
const rateLimitTimeout = 250 * time.Millisecond

// rateLocalFor is how long a replica limits clients on its own once the
// shared limiter has failed: the requests in that window do not call it
// (each would wait up to rateLimitTimeout for a backend that is down),
// then one request tries it again.
const rateLocalFor = time.Second

// rateLimit applies the per-client limit with the shared limiter (the
// storage backend, so the limit holds across replicas). When that fails the
// replica falls back to a bucket of its own with the same rate and burst
// (with N replicas a client then gets up to N times the limit) instead of
// lifting the limit; the request itself still fails closed if it needs
// storage. The fallback is counted (a1_rate_limit_local_total) and logged
// once when it starts and once when the shared limiter answers again.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	if s.cfg.RateRPS <= 0 {
		return next
	}
	prefix := "rl:" + s.cfg.Tenant + ":"
	local := memory.New(memory.Options{SweepInterval: -1})
	s.closer = append(s.closer, local.Close)
	var sharedDownUntil atomic.Int64 // unix ns; the shared limiter is skipped before it
	var degraded atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probePaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		key := prefix + rateKey(clientIP(r, s.cfg.ProxyMode, s.cfg.TrustedProxies))
		var d store.RateDecision
		err := errRateLocal
		if now := time.Now().UnixNano(); now >= sharedDownUntil.Load() {
			ctx, cancel := context.WithTimeout(r.Context(), rateLimitTimeout)
			d, err = s.st.AllowRate(ctx, key, s.cfg.RateRPS, s.cfg.RateBurst)
			cancel()
			switch {
			case err != nil && r.Context().Err() == nil:
				s.metrics.storageErrs.WithLabelValues("rate_limit").Inc()
				sharedDownUntil.Store(now + int64(rateLocalFor))
				if degraded.CompareAndSwap(false, true) {
					s.log.Warn("the shared rate limiter failed: this replica limits clients on its own until it answers",
						"backend", s.cfg.Store, "err", err)
				}
			case err == nil && degraded.CompareAndSwap(true, false):
				s.log.Info("the shared rate limiter answers again", "backend", s.cfg.Store)
			}
		}
		if err != nil {
			s.metrics.rateLocal.Inc()
			d, _ = local.AllowRate(r.Context(), key, s.cfg.RateRPS, s.cfg.RateBurst)
		}
		if !d.Allowed {
			s.metrics.rateLimited.Inc()
			secs := int((d.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			writeError(w, &apiError{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
				Msg: "rate limit exceeded", Hint: "slow down; retry after the Retry-After seconds"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errRateLocal marks a request limited by the replica's own bucket without
// asking the shared limiter.
var errRateLocal = errors.New("shared rate limiter skipped")

// requireAdmin checks Authorization: Bearer <A1_ADMIN_TOKEN> in constant
// time (both sides hashed first, so the length does not leak either).
func (s *Server) requireAdmin(path string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkAdmin(r); err != nil {
			s.metrics.admin.WithLabelValues(path, "unauthorized").Inc()
			s.emitAdmin(r, path, err.Code, "", "")
			writeError(w, err)
			return
		}
		next(w, r)
	}
}

func (s *Server) checkAdmin(r *http.Request) *apiError {
	if !s.adminOn {
		return &apiError{Status: http.StatusForbidden, Code: CodeAdminDisabled,
			Msg: "admin routes are disabled on this gateway", Hint: "set A1_ADMIN_TOKEN to enable them"}
	}
	if s.adminTokenMatch(r) == adminTokenNone {
		return &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
			Msg: "invalid or missing admin token", Hint: "send Authorization: Bearer $A1_ADMIN_TOKEN"}
	}
	return nil
}

// Which admin token a request presented.
const (
	adminTokenNone = iota
	adminTokenCurrent
	adminTokenPrevious
)

// adminTokenMatch compares the bearer token with the current and every
// previous admin token, all in constant time over their SHA-256 (no early
// exit, so timing reveals neither which nor how much matched).
func (s *Server) adminTokenMatch(r *http.Request) int {
	// Exactly one Authorization field: with several, a proxy in front and
	// the gateway could each act on a different one, so none is believed.
	vals := r.Header.Values("Authorization")
	tok, ok := "", false
	if len(vals) == 1 {
		tok, ok = strings.CutPrefix(vals[0], "Bearer ")
	}
	h := sha256.Sum256([]byte(tok))
	cur := subtle.ConstantTimeCompare(h[:], s.adminHash[:])
	prev := 0
	for i := range s.adminPrev {
		prev |= subtle.ConstantTimeCompare(h[:], s.adminPrev[i][:])
	}
	switch {
	case !ok || !s.adminOn:
		return adminTokenNone
	case cur == 1:
		return adminTokenCurrent
	case prev == 1:
		return adminTokenPrevious
	}
	return adminTokenNone
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// fastKey is an in-process Ed25519 receipt key that signs with
// signer.SignEd25519 (byte-identical to crypto/ed25519, about twice as fast).
type fastKey struct{ ed25519.PrivateKey }

func (k fastKey) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != crypto.Hash(0) {
		return nil, errors.New("gateway: receipt key signs pure Ed25519 only")
	}
	return signer.SignEd25519(k.PrivateKey, msg), nil
}
