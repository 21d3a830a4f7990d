package gateway

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Main runs `a1 gateway` with args (flags after the subcommand) and returns
// the process exit code: 0 after a clean shutdown, 1 on a runtime failure,
// 2 on a configuration error. Configuration comes from the environment
// (getenv), overridable by flags.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	// The usage goes to stdout when asked for (-h), to stderr with a
	// flag error.
	var usage bytes.Buffer
	cfg, err := LoadConfig(args, getenv, &usage)
	if errors.Is(err, flag.ErrHelp) {
		stdout.Write(usage.Bytes())
		return 0
	}
	stderr.Write(usage.Bytes())
	if err != nil {
		printConfigError(stderr, err)
		return 2
	}
	log := newLogger(cfg, stderr)
	s, err := NewServer(ctx, cfg, Deps{Getenv: getenv, Stdout: stdout, Logger: log})
	if err != nil {
		printConfigError(stderr, err)
		return 2
	}
	defer s.Close()
	for _, k := range s.ephemeral {
		log.Warn("EPHEMERAL KEY: generated at start and lost on exit; set it for production", "key", k,
			"fix", map[string]string{"signing": "A1_SIGNING_KEY_HEX or A1_SIGNING_KEY", "mac": "A1_MAC_KEY_HEX", "receipt": "A1_RECEIPT_KEY_HEX"}[k])
	}
	if len(s.adminPrev) > 0 {
		log.Warn("previous admin tokens are accepted (A1_ADMIN_TOKENS_PREVIOUS): remove them once every client uses A1_ADMIN_TOKEN", "previous_tokens", len(s.adminPrev))
	}
	if !s.adminOn {
		log.Warn("admin routes disabled (A1_ADMIN_TOKEN unset): issuance, admin revocation and root registration answer 403 ADMIN_DISABLED")
	}
	if cfg.Store == StoreMemory {
		log.Warn("memory store: revocations and consumed nonces are lost on restart")
	}
	if cfg.Store == StoreBolt && raiseProcsForDisk() {
		log.Info("embedded store: GOMAXPROCS raised to 2 so that requests are served while a commit waits for the disk (set GOMAXPROCS to choose)", "gomaxprocs", runtime.GOMAXPROCS(0))
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "a1: error: A1_LISTEN: cannot listen on %s: %v\na1: hint: choose a free port or stop the process using it\n", cfg.Listen, err)
		return 1
	}
	log.Info("a1 gateway listening", "addr", ln.Addr().String(), "gateway_id", s.gatewayID,
		"signing_pk_hex", s.pub.Hex(), "store", cfg.Store, "tenant", cfg.Tenant, "nonce_mode", cfg.NonceMode.String(),
		"require_pop", cfg.RequirePoP, "rate_limit_rps", cfg.RateRPS, "trusted_proxy_mode", cfg.ProxyMode,
		"trusted_roots", len(cfg.TrustedRoots), "admin", s.adminOn, "audit_sinks", cfg.AuditSinks, "tls", s.tls != nil)
	if err := s.Serve(ctx, ln); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	if err := s.Close(); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("a1 gateway stopped")
	return 0
}

func printConfigError(w io.Writer, err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var ce *ConfigError
		if errors.As(e, &ce) {
			fmt.Fprintf(w, "a1: error: %s: %s\na1: hint: %s\n", ce.Var, ce.Problem, ce.Fix)
			continue
		}
		fmt.Fprintf(w, "a1: error: %v\n", e)
	}
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("component", "gateway")
}

// diskProcs is the smallest GOMAXPROCS the gateway runs the embedded store
// with. A commit waits for the disk (fdatasync) in a system call that keeps
// its P; with a single P nothing else runs until the runtime's monitor
// takes the P back, which it does only after up to 10 ms, so no request is
// read meanwhile and concurrent authorizations never share a commit (group
// commit, store/bolt). Measured on one CPU (docs/benchmarks.md): 1.0
// authorization per commit and ~1,450/s at GOMAXPROCS=1, 5-7 per commit and
// ~4,600/s at 2.
const diskProcs = 2

// raiseProcsForDisk raises GOMAXPROCS to diskProcs when it is lower and the
// operator did not choose it (a positive GOMAXPROCS environment variable:
// the runtime ignores "", "0" or a non-number, and so does this); it
// reports whether it did.
func raiseProcsForDisk() bool {
	if v, set := os.LookupEnv("GOMAXPROCS"); set {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return false
		}
	}
	if runtime.GOMAXPROCS(0) >= diskProcs {
		return false
	}
	runtime.GOMAXPROCS(diskProcs)
	return true
}
