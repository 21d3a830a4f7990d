package gateway

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/store"
)

// Proxy modes of A1_TRUSTED_PROXY_MODE.
const (
	ProxyNone          = "none"
	ProxyXForwardedFor = "x-forwarded-for"
	ProxyXRealIP       = "x-real-ip"
)

// Storage backends of A1_STORE.
const (
	StoreMemory   = "memory"
	StoreBolt     = "bolt"
	StorePostgres = "postgres"
	StoreRedis    = "redis"
)

// Config is the validated gateway configuration. Build it with LoadConfig;
// every field has been checked.
type Config struct {
	Listen string

	// Key material. Secrets never appear in logs or errors.
	SigningKeyHex      string // 64-hex Ed25519 seed
	SigningKeyURI      string // signer URI (file:, vault:, awskms:, …)
	ReceiptKeyHex      string // optional: receipt-signing seed for remote signers
	MACKeyHex          string
	MACKeysPreviousHex []string
	AdminToken         string
	// AdminTokensPrevious are still accepted during a rotation of
	// A1_ADMIN_TOKEN (audited as such); drop them once clients moved.
	AdminTokensPrevious []string

	Store    string // memory | bolt | postgres | redis (resolved)
	PGURL    string
	RedisURL string
	DataDir  string
	Migrate  bool
	Tenant   string

	RateRPS   float64 // 0 disables rate limiting
	RateBurst int

	ProxyMode      string
	TrustedProxies []netip.Prefix

	TrustedRoots []a1.PublicKey
	RequirePoP   bool
	NonceMode    a1.NonceMode
	DriftSecs    uint64
	GatewayID    string
	LogFormat    string
	LogLevel     string
	AuditSinks   string
	// Traces turns on OpenTelemetry tracing (OTLP over HTTP, configured by
	// the standard OTEL_* variables).
	Traces bool
	// TLSCertFile and TLSKeyFile, both set, make the gateway serve HTTPS
	// only, with the PEM pair re-read when it changes on disk.
	TLSCertFile string
	TLSKeyFile  string

	MaxBodyBytes   int64
	MaxBatch       int
	MaxTTL         uint64
	MaxHeaderBytes int
	// MaxConns caps the open client connections: at the cap the gateway
	// stops accepting until one closes (new ones wait in the kernel's
	// listen backlog), so a connection flood cannot exhaust memory or file
	// descriptors.
	MaxConns          int
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	StorageTimeout    time.Duration
	RootsRefresh      time.Duration
	// TokenMaxAge, when non-zero, bounds the age of the VerifiedTokens
	// POST /v1/token/verify accepts: a token verified before now −
	// TokenMaxAge − drift, or after now + drift, is refused. Zero (unset)
	// is the reference behaviour: tokens never expire. Whole seconds.
	TokenMaxAge time.Duration
}

// Defaults and hard bounds of the configuration.
const (
	DefaultListen          = ":8080"
	DefaultDataDir         = "./a1-data"
	DefaultRateRPS         = 500
	DefaultMaxBodyBytes    = 1 << 20
	MaxMaxBodyBytes        = 16 << 20
	MinMaxBodyBytes        = 4 << 10
	DefaultMaxBatch        = 256
	MaxMaxBatch            = store.MaxRevokeBatch // a revoke batch is one storage call
	DefaultMaxTTL          = 365 * 24 * 3600
	DefaultMaxHeaderBytes  = 16 << 10
	DefaultMaxConns        = 4096 // ~25 KiB each while idle: ~100 MiB at the cap
	MaxMaxConns            = 1 << 20
	MinMaxConns            = 8
	DefaultReadHeaderTO    = 5 * time.Second
	DefaultReadTO          = 10 * time.Second
	DefaultWriteTO         = 15 * time.Second
	DefaultIdleTO          = 120 * time.Second
	DefaultShutdownTO      = 20 * time.Second
	DefaultStorageTO       = 2 * time.Second
	DefaultRootsRefresh    = 2 * time.Second
	MaxDriftSecs           = 600
	MinTokenMaxAge         = time.Second
	MaxTokenMaxAge         = 10 * DefaultMaxTTL * time.Second // ten years, the A1_MAX_TTL_SECS ceiling
	MaxTrustedRoots        = 4096
	MaxTrustedProxies      = 256
	MaxPreviousMACKeys     = 16
	MaxGatewayIDLen        = a1.MaxAudienceLen
	MaxAdminTokenLen       = 4096
	MaxPreviousAdminTokens = 4
	MinAdminTokenLen       = 16
	maxTrustedRootsFileLen = 1 << 20
)

// ConfigError is a configuration problem: the variable, what is wrong and
// how to fix it. It never quotes a secret value.
type ConfigError struct {
	Var     string
	Problem string
	Fix     string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: %s", e.Var, e.Problem)
}

// setting is one configuration variable: its env name, the flag that
// overrides it ("" for secrets, which are never taken from argv), its
// default and its help text.
type setting struct {
	env, flag, def, help string
	secret               bool
}

// settings lists every variable the gateway reads, in documentation order.
var settings = []setting{
	{env: "A1_LISTEN", flag: "listen", def: DefaultListen, help: "listen address host:port"},
	{env: "A1_SIGNING_KEY_HEX", help: "gateway Ed25519 seed, 64 hex", secret: true},
	{env: "A1_SIGNING_KEY", flag: "signing-key", help: "gateway signing key URI (file:, hex:, vault:, vault+http:, awskms:, gcpkms:, azurekv:)"},
	{env: "A1_RECEIPT_KEY_HEX", help: "receipt- and checkpoint-signing seed, used whenever set (meant for a remote signing key)", secret: true},
	{env: "A1_MAC_KEY_HEX", help: "VerifiedToken MAC key, 64 hex", secret: true},
	{env: "A1_MAC_KEYS_PREVIOUS_HEX", help: "comma list of previous MAC keys (verify only)", secret: true},
	{env: "A1_ADMIN_TOKEN", help: "bearer token of the admin routes (unset: admin routes disabled)", secret: true},
	{env: "A1_ADMIN_TOKENS_PREVIOUS", help: "comma list of previous admin tokens, still accepted during a rotation", secret: true},
	{env: "A1_STORE", flag: "store", help: "memory | bolt | postgres | redis (required when both A1_PG_URL and A1_REDIS_URL are set)"},
	{env: "A1_PG_URL", flag: "pg-url", help: "PostgreSQL URL", secret: true},
	{env: "A1_REDIS_URL", flag: "redis-url", help: "Redis URL", secret: true},
	{env: "A1_DATA_DIR", flag: "data-dir", def: DefaultDataDir, help: "directory of the embedded bbolt store"},
	{env: "A1_MIGRATE", flag: "migrate", def: "false", help: "apply PostgreSQL migrations at start"},
	{env: "A1_TENANT", flag: "tenant", help: "store tenant this gateway's state lives under"},
	{env: "A1_RATE_LIMIT_RPS", flag: "rate-limit-rps", def: strconv.Itoa(DefaultRateRPS), help: "per-client-IP requests/s (0 disables)"},
	{env: "A1_RATE_LIMIT_BURST", flag: "rate-limit-burst", help: "rate limit burst (default: the rate rounded up, at least 1)"},
	{env: "A1_TRUSTED_PROXY_MODE", flag: "trusted-proxy-mode", def: ProxyNone, help: "none | x-forwarded-for | x-real-ip"},
	{env: "A1_TRUSTED_PROXIES", flag: "trusted-proxies", help: "comma list of proxy CIDRs whose headers are believed"},
	{env: "A1_TRUSTED_ROOTS", flag: "trusted-roots", help: "comma list of trusted principal keys (hex) or @file"},
	{env: "A1_REQUIRE_POP", flag: "require-pop", def: "false", help: "reject authorize requests without proof of possession"},
	{env: "A1_NONCE_MODE", flag: "nonce-mode", def: "terminal", help: "terminal | all"},
	{env: "A1_DRIFT_SECS", flag: "drift-secs", def: strconv.Itoa(a1.DefaultDriftSecs), help: "clock drift tolerance, seconds"},
	{env: "A1_GATEWAY_ID", flag: "gateway-id", help: "gateway id and PoP audience (default: hex gateway public key)"},
	{env: "A1_LOG_FORMAT", flag: "log-format", def: "json", help: "json | text"},
	{env: "A1_LOG_LEVEL", flag: "log-level", def: "info", help: "debug | info | warn | error"},
	{env: "A1_OTEL_TRACES", flag: "otel-traces", def: "false", help: "export OpenTelemetry traces over OTLP/HTTP (endpoint and sampler from the standard OTEL_* variables)"},
	{env: "A1_AUDIT_SINKS", flag: "audit-sinks", def: "stdout", help: "audit sink specification"},
	{env: "A1_TLS_CERT_FILE", flag: "tls-cert-file", help: "PEM certificate chain: serve HTTPS only (with A1_TLS_KEY_FILE; re-read when the files change)"},
	{env: "A1_TLS_KEY_FILE", flag: "tls-key-file", help: "PEM private key of A1_TLS_CERT_FILE"},
	{env: "A1_MAX_BODY_BYTES", flag: "max-body-bytes", def: strconv.Itoa(DefaultMaxBodyBytes), help: "request body limit"},
	{env: "A1_MAX_BATCH", flag: "max-batch", def: strconv.Itoa(DefaultMaxBatch), help: "batch authorize / revoke size limit"},
	{env: "A1_MAX_TTL_SECS", flag: "max-ttl-secs", def: strconv.Itoa(DefaultMaxTTL), help: "largest ttl_seconds an issue request may ask"},
	{env: "A1_MAX_HEADER_BYTES", flag: "max-header-bytes", def: strconv.Itoa(DefaultMaxHeaderBytes), help: "request header limit"},
	{env: "A1_MAX_CONNS", flag: "max-conns", def: strconv.Itoa(DefaultMaxConns), help: "open client connections at most (at the cap, new ones wait in the listen backlog)"},
	{env: "A1_READ_HEADER_TIMEOUT", flag: "read-header-timeout", def: DefaultReadHeaderTO.String(), help: "HTTP read-header timeout"},
	{env: "A1_READ_TIMEOUT", flag: "read-timeout", def: DefaultReadTO.String(), help: "HTTP read timeout"},
	{env: "A1_WRITE_TIMEOUT", flag: "write-timeout", def: DefaultWriteTO.String(), help: "HTTP write timeout"},
	{env: "A1_IDLE_TIMEOUT", flag: "idle-timeout", def: DefaultIdleTO.String(), help: "HTTP keep-alive idle timeout"},
	{env: "A1_SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: DefaultShutdownTO.String(), help: "graceful shutdown: drain limit, then audit flush limit"},
	{env: "A1_STORAGE_TIMEOUT", flag: "storage-timeout", def: DefaultStorageTO.String(), help: "bound of one storage call"},
	{env: "A1_ROOTS_REFRESH", flag: "roots-refresh", def: DefaultRootsRefresh.String(), help: "how often registered roots are re-read from the store"},
	{env: "A1_TOKEN_MAX_AGE", flag: "token-max-age", help: "largest age of a VerifiedToken POST /v1/token/verify accepts (unset: no maximum, as the reference)"},
}

// newFlagSet is the gateway's flag set (one flag per setting that has a
// flag form, keyed by its variable), writing its usage to usage.
func newFlagSet(usage io.Writer) (*flag.FlagSet, map[string]*string) {
	fs := flag.NewFlagSet("a1 gateway", flag.ContinueOnError)
	fs.SetOutput(usage)
	flags := map[string]*string{}
	for _, s := range settings {
		if s.flag != "" {
			flags[s.env] = fs.String(s.flag, "", s.help+" (env "+s.env+")")
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(usage, "usage: a1 gateway [flags]\n\nEvery flag overrides an environment variable; secrets are read from the environment only:\n")
		for _, s := range settings {
			if s.flag == "" {
				fmt.Fprintf(usage, "  %-26s %s\n", s.env, s.help)
			}
		}
		fmt.Fprintln(usage)
		fs.PrintDefaults()
	}
	return fs, flags
}

// Usage writes `a1 gateway`'s usage (every setting, its flag and default)
// to w, as `a1 gateway -h` and `a1 help gateway` print it.
func Usage(w io.Writer) {
	fs, _ := newFlagSet(w)
	fs.Usage()
}

// LoadConfig reads the configuration from getenv, overridden by flags in
// args, and validates every value. Empty variables count as unset.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	fs, flags := newFlagSet(usage)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, &ConfigError{Var: "arguments", Problem: fmt.Sprintf("unexpected argument %q", fs.Arg(0)), Fix: "a1 gateway takes flags only; see a1 gateway -h"}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// A storage URL may be given as a flag, but not with its password:
	// the command line is visible to every local user (ps, /proc).
	for _, s := range settings {
		if s.secret && s.flag != "" && set[s.flag] {
			if u, err := url.Parse(strings.TrimSpace(*flags[s.env])); err != nil || hasPassword(u) {
				return nil, &ConfigError{Var: "-" + s.flag, Problem: "the URL on the command line carries a password (or does not parse); other local users can read it",
					Fix: "pass it in " + s.env + " (the environment), or leave the password out of the URL"}
			}
		}
	}
	val := func(env string) string {
		for _, s := range settings {
			if s.env != env {
				continue
			}
			// An empty flag counts as unset, like an empty variable: it
			// must not turn a setting off (an empty -rate-limit-rps read
			// as 0 disabled rate limiting).
			if s.flag != "" && set[s.flag] {
				if v := strings.TrimSpace(*flags[env]); v != "" {
					return v
				}
			}
			if v := strings.TrimSpace(getenv(env)); v != "" {
				return v
			}
			return s.def
		}
		panic("gateway: unknown setting " + env)
	}
	return parseConfig(val)
}

func cfgErr(v, problem, fix string) error { return &ConfigError{Var: v, Problem: problem, Fix: fix} }

func parseConfig(val func(string) string) (*Config, error) {
	c := &Config{}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	c.Listen = val("A1_LISTEN")
	if _, port, err := splitHostPort(c.Listen); err != nil || port == "" {
		add(cfgErr("A1_LISTEN", fmt.Sprintf("%q is not host:port", c.Listen), "set it like :8080 or 127.0.0.1:8080"))
	}

	c.TLSCertFile, c.TLSKeyFile = val("A1_TLS_CERT_FILE"), val("A1_TLS_KEY_FILE")
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		v := "A1_TLS_KEY_FILE"
		if c.TLSCertFile == "" {
			v = "A1_TLS_CERT_FILE"
		}
		add(cfgErr(v, "is unset while the other half of the TLS pair is set", "set both A1_TLS_CERT_FILE and A1_TLS_KEY_FILE, or neither"))
	}

	c.SigningKeyHex = val("A1_SIGNING_KEY_HEX")
	c.SigningKeyURI = val("A1_SIGNING_KEY")
	if c.SigningKeyHex != "" && c.SigningKeyURI != "" {
		add(cfgErr("A1_SIGNING_KEY_HEX", "both A1_SIGNING_KEY_HEX and A1_SIGNING_KEY are set",
			"set exactly one: a hex seed in A1_SIGNING_KEY_HEX or a signer URI in A1_SIGNING_KEY"))
	}
	if c.SigningKeyHex != "" {
		add(checkSeedHex("A1_SIGNING_KEY_HEX", c.SigningKeyHex))
	}
	c.ReceiptKeyHex = val("A1_RECEIPT_KEY_HEX")
	if c.ReceiptKeyHex != "" {
		add(checkSeedHex("A1_RECEIPT_KEY_HEX", c.ReceiptKeyHex))
	}
	c.MACKeyHex = val("A1_MAC_KEY_HEX")
	if c.MACKeyHex != "" {
		add(checkSeedHex("A1_MAC_KEY_HEX", c.MACKeyHex))
	}
	if prev := val("A1_MAC_KEYS_PREVIOUS_HEX"); prev != "" {
		if c.MACKeyHex == "" {
			add(cfgErr("A1_MAC_KEYS_PREVIOUS_HEX", "previous MAC keys are set but A1_MAC_KEY_HEX is not",
				"set A1_MAC_KEY_HEX to the current key"))
		}
		for i, k := range strings.Split(prev, ",") {
			k = strings.TrimSpace(k)
			if err := checkSeedHex("A1_MAC_KEYS_PREVIOUS_HEX", k); err != nil {
				add(cfgErr("A1_MAC_KEYS_PREVIOUS_HEX", fmt.Sprintf("entry %d is not 64 hex characters", i),
					"give a comma-separated list of 32-byte keys in hex"))
				continue
			}
			c.MACKeysPreviousHex = append(c.MACKeysPreviousHex, k)
		}
		if len(c.MACKeysPreviousHex) > MaxPreviousMACKeys {
			add(cfgErr("A1_MAC_KEYS_PREVIOUS_HEX", fmt.Sprintf("more than %d keys", MaxPreviousMACKeys), "drop keys older than your longest token lifetime"))
		}
	}
	c.AdminToken = val("A1_ADMIN_TOKEN")
	if c.AdminToken != "" && (len(c.AdminToken) < MinAdminTokenLen || len(c.AdminToken) > MaxAdminTokenLen) {
		add(cfgErr("A1_ADMIN_TOKEN", fmt.Sprintf("length must be %d..%d bytes", MinAdminTokenLen, MaxAdminTokenLen),
			"generate one with: openssl rand -hex 32"))
	}
	if prev := val("A1_ADMIN_TOKENS_PREVIOUS"); prev != "" {
		c.AdminTokensPrevious = splitList(prev)
		switch {
		case c.AdminToken == "":
			add(cfgErr("A1_ADMIN_TOKENS_PREVIOUS", "previous admin tokens are set but A1_ADMIN_TOKEN is not",
				"set A1_ADMIN_TOKEN to the new token; previous tokens only bridge a rotation"))
		case len(c.AdminTokensPrevious) > MaxPreviousAdminTokens:
			add(cfgErr("A1_ADMIN_TOKENS_PREVIOUS", fmt.Sprintf("more than %d tokens", MaxPreviousAdminTokens),
				"keep only the tokens clients may still send"))
		}
		for _, tok := range c.AdminTokensPrevious {
			if len(tok) < MinAdminTokenLen || len(tok) > MaxAdminTokenLen {
				add(cfgErr("A1_ADMIN_TOKENS_PREVIOUS", fmt.Sprintf("each token's length must be %d..%d bytes", MinAdminTokenLen, MaxAdminTokenLen),
					"list the previous tokens exactly as they were set in A1_ADMIN_TOKEN"))
				break
			}
		}
	}

	c.PGURL, c.RedisURL = val("A1_PG_URL"), val("A1_REDIS_URL")
	c.Store = val("A1_STORE")
	switch c.Store {
	case "":
		switch {
		case c.PGURL != "" && c.RedisURL != "":
			add(cfgErr("A1_STORE", "both A1_PG_URL and A1_REDIS_URL are set and A1_STORE is not",
				"set A1_STORE=postgres or A1_STORE=redis: one backend holds all authorization state (docs/gateway.md)"))
		case c.PGURL != "":
			c.Store = StorePostgres
		case c.RedisURL != "":
			c.Store = StoreRedis
		default:
			c.Store = StoreBolt
		}
	case StorePostgres:
		if c.PGURL == "" {
			add(cfgErr("A1_PG_URL", "A1_STORE=postgres but A1_PG_URL is not set", "set A1_PG_URL=postgres://user@host:5432/db"))
		}
	case StoreRedis:
		if c.RedisURL == "" {
			add(cfgErr("A1_REDIS_URL", "A1_STORE=redis but A1_REDIS_URL is not set", "set A1_REDIS_URL=redis://host:6379/0"))
		}
	case StoreBolt, StoreMemory:
	default:
		add(cfgErr("A1_STORE", fmt.Sprintf("unknown backend %q", c.Store), "use memory, bolt, postgres or redis"))
	}
	c.DataDir = val("A1_DATA_DIR")
	var err error
	c.Migrate, err = parseBool("A1_MIGRATE", val("A1_MIGRATE"))
	add(err)
	c.Tenant = val("A1_TENANT")
	if err := store.CheckTenant(c.Tenant); err != nil {
		add(cfgErr("A1_TENANT", err.Error(), fmt.Sprintf("use at most %d printable characters without braces", store.MaxTenantLen)))
	}
	c.Traces, err = parseBool("A1_OTEL_TRACES", val("A1_OTEL_TRACES"))
	add(err)

	if v := val("A1_RATE_LIMIT_RPS"); v != "" {
		c.RateRPS, err = strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(c.RateRPS) || c.RateRPS < 0 || (c.RateRPS > 0 && c.RateRPS < store.MinRatePerSec) || c.RateRPS > store.MaxRatePerSec {
			add(cfgErr("A1_RATE_LIMIT_RPS", fmt.Sprintf("%q is not a rate in [%v, %v] or 0", v, store.MinRatePerSec, store.MaxRatePerSec),
				"set a number of requests per second per client IP, or 0 to disable"))
		}
	}
	c.RateBurst = int(math.Ceil(c.RateRPS))
	if v := val("A1_RATE_LIMIT_BURST"); v != "" {
		c.RateBurst, err = strconv.Atoi(v)
		if err != nil || c.RateBurst < 1 || c.RateBurst > store.MaxRateBurst {
			add(cfgErr("A1_RATE_LIMIT_BURST", fmt.Sprintf("%q is not an integer in [1, %d]", v, store.MaxRateBurst), "set a positive burst size"))
		}
	}
	c.RateBurst = max(min(c.RateBurst, store.MaxRateBurst), 1)

	c.ProxyMode = strings.ToLower(val("A1_TRUSTED_PROXY_MODE"))
	switch c.ProxyMode {
	case ProxyNone, ProxyXForwardedFor, ProxyXRealIP:
	default:
		add(cfgErr("A1_TRUSTED_PROXY_MODE", fmt.Sprintf("unknown mode %q", c.ProxyMode), "use none, x-forwarded-for or x-real-ip"))
	}
	if v := val("A1_TRUSTED_PROXIES"); v != "" {
		for _, p := range splitList(v) {
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				if a, aerr := netip.ParseAddr(p); aerr == nil {
					pfx, err = a.Prefix(a.BitLen())
				}
			}
			if err != nil {
				add(cfgErr("A1_TRUSTED_PROXIES", fmt.Sprintf("%q is not a CIDR or IP", p), "give a comma list like 10.0.0.0/8,192.168.1.7"))
				continue
			}
			// Peers are compared in plain IPv4 form, so an IPv4-mapped
			// entry (::ffff:10.0.0.1) would never match: read it as the
			// IPv4 address or prefix it names.
			if pfx.Addr().Is4In6() {
				if pfx.Bits() < 96 {
					add(cfgErr("A1_TRUSTED_PROXIES", fmt.Sprintf("%q spans beyond the IPv4-mapped range ::ffff:0:0/96", p), "write IPv4 proxies in IPv4 form, like 10.0.0.0/8"))
					continue
				}
				pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
			}
			c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
		}
		if len(c.TrustedProxies) > MaxTrustedProxies {
			add(cfgErr("A1_TRUSTED_PROXIES", fmt.Sprintf("more than %d entries", MaxTrustedProxies), "aggregate the CIDRs"))
		}
	}
	if c.ProxyMode != ProxyNone && len(c.TrustedProxies) == 0 {
		add(cfgErr("A1_TRUSTED_PROXIES", "A1_TRUSTED_PROXY_MODE="+c.ProxyMode+" but no trusted proxies are listed",
			"list your load balancers' CIDRs in A1_TRUSTED_PROXIES; headers from other peers are ignored"))
	}

	if v := val("A1_TRUSTED_ROOTS"); v != "" {
		roots, err := parseTrustedRoots(v)
		add(err)
		c.TrustedRoots = roots
	}
	c.RequirePoP, err = parseBool("A1_REQUIRE_POP", val("A1_REQUIRE_POP"))
	add(err)
	c.NonceMode, err = a1.ParseNonceMode(val("A1_NONCE_MODE"))
	if err != nil {
		add(cfgErr("A1_NONCE_MODE", fmt.Sprintf("unknown mode %q", val("A1_NONCE_MODE")), "use terminal (default) or all"))
	}
	c.DriftSecs, err = strconv.ParseUint(val("A1_DRIFT_SECS"), 10, 64)
	if err != nil || c.DriftSecs > MaxDriftSecs {
		add(cfgErr("A1_DRIFT_SECS", fmt.Sprintf("%q is not an integer in [0, %d]", val("A1_DRIFT_SECS"), MaxDriftSecs), "set the clock drift tolerance in seconds (default 15)"))
	}
	c.GatewayID = val("A1_GATEWAY_ID")
	if len(c.GatewayID) > MaxGatewayIDLen || !printable(c.GatewayID) {
		add(cfgErr("A1_GATEWAY_ID", fmt.Sprintf("must be at most %d printable ASCII characters", MaxGatewayIDLen), "use a short name such as the gateway's public URL"))
	}
	c.LogFormat = strings.ToLower(val("A1_LOG_FORMAT"))
	if c.LogFormat != "json" && c.LogFormat != "text" {
		add(cfgErr("A1_LOG_FORMAT", fmt.Sprintf("unknown format %q", c.LogFormat), "use json or text"))
	}
	c.LogLevel = strings.ToLower(val("A1_LOG_LEVEL"))
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add(cfgErr("A1_LOG_LEVEL", fmt.Sprintf("unknown level %q", c.LogLevel), "use debug, info, warn or error"))
	}
	c.AuditSinks = val("A1_AUDIT_SINKS")

	var n int64
	n, err = parseIntIn("A1_MAX_BODY_BYTES", val("A1_MAX_BODY_BYTES"), MinMaxBodyBytes, MaxMaxBodyBytes)
	add(err)
	c.MaxBodyBytes = n
	n, err = parseIntIn("A1_MAX_BATCH", val("A1_MAX_BATCH"), 1, MaxMaxBatch)
	add(err)
	c.MaxBatch = int(n)
	n, err = parseIntIn("A1_MAX_TTL_SECS", val("A1_MAX_TTL_SECS"), 1, 10*DefaultMaxTTL)
	add(err)
	c.MaxTTL = uint64(n)
	n, err = parseIntIn("A1_MAX_HEADER_BYTES", val("A1_MAX_HEADER_BYTES"), 1<<10, 1<<20)
	add(err)
	c.MaxHeaderBytes = int(n)
	n, err = parseIntIn("A1_MAX_CONNS", val("A1_MAX_CONNS"), MinMaxConns, MaxMaxConns)
	add(err)
	c.MaxConns = int(n)
	for _, d := range []struct {
		env      string
		dst      *time.Duration
		min, max time.Duration
	}{
		{"A1_READ_HEADER_TIMEOUT", &c.ReadHeaderTimeout, 100 * time.Millisecond, time.Minute},
		{"A1_READ_TIMEOUT", &c.ReadTimeout, 100 * time.Millisecond, 5 * time.Minute},
		{"A1_WRITE_TIMEOUT", &c.WriteTimeout, 100 * time.Millisecond, 5 * time.Minute},
		{"A1_IDLE_TIMEOUT", &c.IdleTimeout, time.Second, time.Hour},
		{"A1_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, time.Second, 10 * time.Minute}, // 0 would cut requests in flight
		{"A1_STORAGE_TIMEOUT", &c.StorageTimeout, 10 * time.Millisecond, time.Minute},
		{"A1_ROOTS_REFRESH", &c.RootsRefresh, 100 * time.Millisecond, time.Hour},
	} {
		v := val(d.env)
		t, err := time.ParseDuration(v)
		if err != nil || t < d.min || t > d.max {
			add(cfgErr(d.env, fmt.Sprintf("%q is not a duration in [%v, %v]", v, d.min, d.max), "use Go duration syntax such as 500ms or 15s"))
			continue
		}
		*d.dst = t
	}
	// Unset is no maximum (the reference: tokens never expire), so it is
	// not in the table above, whose settings all have a default.
	if v := val("A1_TOKEN_MAX_AGE"); v != "" {
		t, err := time.ParseDuration(v)
		switch {
		case err != nil || t < MinTokenMaxAge || t > MaxTokenMaxAge:
			// 0 too: it would refuse every token older than the drift.
			add(cfgErr("A1_TOKEN_MAX_AGE", fmt.Sprintf("%q is not a duration in [%v, %v]", v, MinTokenMaxAge, MaxTokenMaxAge),
				"use Go duration syntax such as 5m or 24h, or leave it unset for no maximum"))
		case t%time.Second != 0:
			// verified_at_unix counts whole seconds.
			add(cfgErr("A1_TOKEN_MAX_AGE", fmt.Sprintf("%q is not a whole number of seconds", v),
				"round it to whole seconds, such as 90s or 5m"))
		default:
			c.TokenMaxAge = t
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func checkSeedHex(env, v string) error {
	if _, err := a1.ParsePublicKeyHex(v); err != nil {
		return cfgErr(env, "must be exactly 64 hex characters (32 bytes)", "generate one with: openssl rand -hex 32")
	}
	if strings.Trim(v, "0") == "" {
		return cfgErr(env, "is all zeros", "generate a random key with: openssl rand -hex 32")
	}
	return nil
}

func parseBool(env, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "", "0", "false", "no", "off":
		return false, nil
	}
	return false, cfgErr(env, fmt.Sprintf("%q is not a boolean", v), "use true or false")
}

func parseIntIn(env, v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return lo, cfgErr(env, fmt.Sprintf("%q is not an integer in [%d, %d]", v, lo, hi), "set a value inside the range")
	}
	return n, nil
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseTrustedRoots reads a comma/space list of hex keys, or @path to a file
// with one key per line (# starts a comment).
func parseTrustedRoots(v string) ([]a1.PublicKey, error) {
	const env = "A1_TRUSTED_ROOTS"
	text := v
	if path, ok := strings.CutPrefix(v, "@"); ok {
		f, err := os.Open(path)
		if err != nil {
			return nil, cfgErr(env, fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err)), "point @file at a readable file with one hex key per line")
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxTrustedRootsFileLen+1))
		if err != nil || len(b) > maxTrustedRootsFileLen {
			return nil, cfgErr(env, fmt.Sprintf("%s is unreadable or larger than %d bytes", path, maxTrustedRootsFileLen), "keep one hex key per line")
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if i := strings.IndexByte(l, '#'); i >= 0 {
				l = l[:i]
			}
			lines = append(lines, l)
		}
		text = strings.Join(lines, ",")
	}
	var out []a1.PublicKey
	for i, f := range splitList(text) {
		pk, err := a1.ParsePublicKeyHex(f)
		if err == nil {
			err = a1.CheckPublicKey(pk)
		}
		if err != nil {
			return nil, cfgErr(env, fmt.Sprintf("entry %d is not a valid Ed25519 public key in hex", i), "give 64-hex public keys, comma-separated, or @file")
		}
		out = append(out, pk)
	}
	if len(out) > MaxTrustedRoots {
		return nil, cfgErr(env, fmt.Sprintf("more than %d roots", MaxTrustedRoots), "register extra roots through the admin API")
	}
	return out, nil
}

func splitHostPort(s string) (host, port string, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", errors.New("missing port")
	}
	host, port = s[:i], s[i+1:]
	// Digits only: Atoi also takes "+80" and "-0" (a random port).
	if strings.Trim(port, "0123456789") != "" {
		return "", "", errors.New("bad port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", "", errors.New("bad port")
	}
	return host, port, nil
}

// hasPassword reports whether u carries a password (user:password@) or a
// password query parameter (Sentinel URLs name the master's credentials
// there).
func hasPassword(u *url.URL) bool {
	if _, ok := u.User.Password(); ok {
		return true
	}
	q := u.Query()
	return q.Has("password") || q.Has("sentinel_password")
}
