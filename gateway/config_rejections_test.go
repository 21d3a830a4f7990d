package gateway_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/gateway"
	"github.com/a1-go/a1/store"
)

// configErrors flattens a LoadConfig error (an errors.Join of
// *ConfigError) into its ConfigErrors; any other leaf is returned in other.
func configErrors(err error) (ces []*gateway.ConfigError, other []error) {
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *gateway.ConfigError
		if errors.As(e, &ce) {
			ces = append(ces, ce)
			return
		}
		other = append(other, e)
	}
	walk(err)
	return ces, other
}

// TestConfigRejections: every rejection branch of LoadConfig, in process.
// A rejected row must fail with ConfigErrors that all name the row's
// variable (so it fails for the reason under test, not another), one of
// which carries the expected fix; it must not echo secret values. An
// accepted row proves the other side of the bound.
func TestConfigRejections(t *testing.T) {
	seed := func(b byte) string { return strings.Repeat(hex.EncodeToString([]byte{b}), 32) }
	root := hex.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	// The identity point: a valid encoding but a small-order (weak) key.
	weakRoot := "01" + strings.Repeat("00", 31)
	tok := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	repeat := func(s string, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = s
		}
		return strings.Join(parts, ",")
	}
	proxies := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}).String()
		}
		return strings.Join(parts, ",")
	}

	dir := t.TempDir()
	writeFile := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rootsFile := writeFile("roots", "# trusted roots\n"+root+" # the zero-seed key\n\n"+root+"\n")
	badRootsFile := writeFile("badroots", "# one bad line\n"+root+"\nnot-a-key\n")
	bigRootsFile := writeFile("bigroots", strings.Repeat("#", 1<<20+1))

	type row struct {
		name string
		args []string
		env  map[string]string
		// wantVar is the variable every ConfigError must name; "" means
		// the configuration is accepted (then check, if set, runs).
		wantVar string
		fix     string // fragment of the ConfigError's Fix
		// secret must not appear in the error text.
		secret string
		// plainErr: the error is not a ConfigError (a flag syntax error).
		plainErr bool
		check    func(*gateway.Config) error
	}
	// want reports what differs when ok is false.
	want := func(ok bool, what string, got ...any) error {
		if ok {
			return nil
		}
		return fmt.Errorf("%s: got %v", what, got)
	}
	rows := []row{
		// Command line.
		{name: "positional argument", args: []string{"serve"}, wantVar: "arguments", fix: "flags only"},
		{name: "unknown flag", args: []string{"-no-such-flag"}, plainErr: true},
		{name: "pg url flag with password", args: []string{"-pg-url", "postgres://u:hunter2hunter2@h/db"}, wantVar: "-pg-url", fix: "A1_PG_URL", secret: "hunter2hunter2"},
		{name: "redis url flag with password query", args: []string{"-redis-url", "redis://h:6379/0?password=hunter2hunter2"}, wantVar: "-redis-url", fix: "A1_REDIS_URL", secret: "hunter2hunter2"},
		{name: "redis url flag with sentinel password", args: []string{"-redis-url", "redis://h:6379/0?sentinel_password=hunter2hunter2"}, wantVar: "-redis-url", fix: "A1_REDIS_URL", secret: "hunter2hunter2"},
		{name: "pg url flag unparsable", args: []string{"-pg-url", "postgres://h:bad port/db"}, wantVar: "-pg-url", fix: "environment"},
		{name: "pg url flag without password", args: []string{"-pg-url", "postgres://u@h/db"},
			check: func(c *gateway.Config) error {
				return want(c.Store == gateway.StorePostgres && c.PGURL == "postgres://u@h/db", "store", c.Store)
			}},
		{name: "flag overrides env", args: []string{"-log-level", "debug"}, env: map[string]string{"A1_LOG_LEVEL": "bogus"},
			check: func(c *gateway.Config) error { return want(c.LogLevel == "debug", "log level", c.LogLevel) }},

		// Listen address.
		{name: "listen without port", env: map[string]string{"A1_LISTEN": "localhost"}, wantVar: "A1_LISTEN", fix: "127.0.0.1:8080"},
		{name: "listen empty port", env: map[string]string{"A1_LISTEN": "localhost:"}, wantVar: "A1_LISTEN", fix: ":8080"},
		{name: "listen signed port", env: map[string]string{"A1_LISTEN": ":+80"}, wantVar: "A1_LISTEN", fix: ":8080"},
		{name: "listen port too large", env: map[string]string{"A1_LISTEN": ":65536"}, wantVar: "A1_LISTEN", fix: ":8080"},
		{name: "listen port max", env: map[string]string{"A1_LISTEN": "[::1]:65535"},
			check: func(c *gateway.Config) error { return want(c.Listen == "[::1]:65535", "listen", c.Listen) }},

		// TLS pair.
		{name: "tls cert without key", env: map[string]string{"A1_TLS_CERT_FILE": "/c.pem"}, wantVar: "A1_TLS_KEY_FILE", fix: "set both"},
		{name: "tls key without cert", env: map[string]string{"A1_TLS_KEY_FILE": "/k.pem"}, wantVar: "A1_TLS_CERT_FILE", fix: "set both"},

		// Signing, receipt and MAC keys.
		{name: "both signing keys", env: map[string]string{"A1_SIGNING_KEY_HEX": seed(1), "A1_SIGNING_KEY": "file:/k"}, wantVar: "A1_SIGNING_KEY_HEX", fix: "set exactly one", secret: seed(1)},
		{name: "signing key short", env: map[string]string{"A1_SIGNING_KEY_HEX": seed(1)[:62]}, wantVar: "A1_SIGNING_KEY_HEX", fix: "openssl rand -hex 32", secret: seed(1)[:62]},
		{name: "signing key long", env: map[string]string{"A1_SIGNING_KEY_HEX": seed(1) + "01"}, wantVar: "A1_SIGNING_KEY_HEX", fix: "openssl rand -hex 32"},
		{name: "signing key not hex", env: map[string]string{"A1_SIGNING_KEY_HEX": "zz" + seed(1)[2:]}, wantVar: "A1_SIGNING_KEY_HEX", fix: "openssl rand -hex 32"},
		{name: "receipt key bad", env: map[string]string{"A1_RECEIPT_KEY_HEX": "abcd"}, wantVar: "A1_RECEIPT_KEY_HEX", fix: "openssl rand -hex 32"},
		{name: "receipt key zero", env: map[string]string{"A1_RECEIPT_KEY_HEX": seed(0)}, wantVar: "A1_RECEIPT_KEY_HEX", fix: "random key"},
		{name: "mac key zero", env: map[string]string{"A1_MAC_KEY_HEX": seed(0)}, wantVar: "A1_MAC_KEY_HEX", fix: "random key"},
		{name: "signing, receipt and mac keys valid", env: map[string]string{"A1_SIGNING_KEY_HEX": strings.ToUpper(seed(0xab)), "A1_RECEIPT_KEY_HEX": seed(2), "A1_MAC_KEY_HEX": seed(3)},
			check: func(c *gateway.Config) error {
				return want(c.MACKeyHex == seed(3) && c.ReceiptKeyHex == seed(2), "keys not kept")
			}},
		{name: "previous mac keys without current", env: map[string]string{"A1_MAC_KEYS_PREVIOUS_HEX": seed(4)}, wantVar: "A1_MAC_KEYS_PREVIOUS_HEX", fix: "A1_MAC_KEY_HEX", secret: seed(4)},
		{name: "previous mac key malformed", env: map[string]string{"A1_MAC_KEY_HEX": seed(3), "A1_MAC_KEYS_PREVIOUS_HEX": seed(4) + ",abcd"}, wantVar: "A1_MAC_KEYS_PREVIOUS_HEX", fix: "comma-separated list of 32-byte keys", secret: seed(4)},
		{name: "previous mac key empty entry", env: map[string]string{"A1_MAC_KEY_HEX": seed(3), "A1_MAC_KEYS_PREVIOUS_HEX": seed(4) + ",," + seed(5)}, wantVar: "A1_MAC_KEYS_PREVIOUS_HEX", fix: "comma-separated"},
		{name: "previous mac key zero", env: map[string]string{"A1_MAC_KEY_HEX": seed(3), "A1_MAC_KEYS_PREVIOUS_HEX": seed(0)}, wantVar: "A1_MAC_KEYS_PREVIOUS_HEX", fix: "comma-separated"},
		{name: "previous mac keys too many", env: map[string]string{"A1_MAC_KEY_HEX": seed(3), "A1_MAC_KEYS_PREVIOUS_HEX": repeat(seed(4), gateway.MaxPreviousMACKeys+1)}, wantVar: "A1_MAC_KEYS_PREVIOUS_HEX", fix: "drop keys older"},
		{name: "previous mac keys at limit", env: map[string]string{"A1_MAC_KEY_HEX": seed(3), "A1_MAC_KEYS_PREVIOUS_HEX": " " + repeat(seed(4)+" ", gateway.MaxPreviousMACKeys)},
			check: func(c *gateway.Config) error {
				return want(len(c.MACKeysPreviousHex) == gateway.MaxPreviousMACKeys && c.MACKeysPreviousHex[0] == seed(4), "previous keys", len(c.MACKeysPreviousHex))
			}},

		// Admin tokens.
		{name: "admin token too short", env: map[string]string{"A1_ADMIN_TOKEN": tok('a', gateway.MinAdminTokenLen-1)}, wantVar: "A1_ADMIN_TOKEN", fix: "openssl rand", secret: tok('a', gateway.MinAdminTokenLen-1)},
		{name: "admin token too long", env: map[string]string{"A1_ADMIN_TOKEN": tok('a', gateway.MaxAdminTokenLen+1)}, wantVar: "A1_ADMIN_TOKEN", fix: "openssl rand"},
		{name: "admin token bounds", env: map[string]string{"A1_ADMIN_TOKEN": tok('a', gateway.MaxAdminTokenLen), "A1_ADMIN_TOKENS_PREVIOUS": tok('b', gateway.MinAdminTokenLen) + ", " + tok('c', gateway.MaxAdminTokenLen) + "," + tok('d', 20) + "\n" + tok('e', 20)},
			check: func(c *gateway.Config) error {
				return want(len(c.AdminTokensPrevious) == gateway.MaxPreviousAdminTokens && c.AdminTokensPrevious[0] == tok('b', gateway.MinAdminTokenLen), "previous tokens", len(c.AdminTokensPrevious))
			}},
		{name: "previous admin tokens without current", env: map[string]string{"A1_ADMIN_TOKENS_PREVIOUS": tok('b', 32)}, wantVar: "A1_ADMIN_TOKENS_PREVIOUS", fix: "set A1_ADMIN_TOKEN", secret: tok('b', 32)},
		{name: "previous admin tokens too many", env: map[string]string{"A1_ADMIN_TOKEN": tok('a', 32), "A1_ADMIN_TOKENS_PREVIOUS": repeat(tok('b', 32), gateway.MaxPreviousAdminTokens+1)}, wantVar: "A1_ADMIN_TOKENS_PREVIOUS", fix: "keep only", secret: tok('b', 32)},
		{name: "previous admin token too short", env: map[string]string{"A1_ADMIN_TOKEN": tok('a', 32), "A1_ADMIN_TOKENS_PREVIOUS": tok('b', 32) + "," + tok('c', gateway.MinAdminTokenLen-1)}, wantVar: "A1_ADMIN_TOKENS_PREVIOUS", fix: "exactly as they were set", secret: tok('c', gateway.MinAdminTokenLen-1)},
		{name: "previous admin token too long", env: map[string]string{"A1_ADMIN_TOKEN": tok('a', 32), "A1_ADMIN_TOKENS_PREVIOUS": tok('c', gateway.MaxAdminTokenLen+1)}, wantVar: "A1_ADMIN_TOKENS_PREVIOUS", fix: "exactly as they were set"},

		// Store selection.
		{name: "postgres store without url", env: map[string]string{"A1_STORE": "postgres", "A1_REDIS_URL": "redis://h:6379/0"}, wantVar: "A1_PG_URL", fix: "A1_PG_URL=postgres://"},
		{name: "redis store without url", env: map[string]string{"A1_STORE": "redis", "A1_PG_URL": "postgres://h/db"}, wantVar: "A1_REDIS_URL", fix: "A1_REDIS_URL=redis://"},
		{name: "store case matters", env: map[string]string{"A1_STORE": "Postgres", "A1_PG_URL": "postgres://h/db"}, wantVar: "A1_STORE", fix: "memory, bolt, postgres or redis"},
		{name: "store inferred from redis url", env: map[string]string{"A1_REDIS_URL": "redis://h:6379/0"},
			check: func(c *gateway.Config) error { return want(c.Store == gateway.StoreRedis, "store", c.Store) }},
		{name: "store explicit with both urls", env: map[string]string{"A1_STORE": "redis", "A1_REDIS_URL": "redis://h:6379/0", "A1_PG_URL": "postgres://h/db"},
			check: func(c *gateway.Config) error { return want(c.Store == gateway.StoreRedis, "store", c.Store) }},
		{name: "store default bolt", env: map[string]string{},
			check: func(c *gateway.Config) error {
				return want(c.Store == gateway.StoreBolt && c.DataDir == gateway.DefaultDataDir && c.TokenMaxAge == 0, "defaults", c.Store, c.DataDir)
			}},
		{name: "migrate not boolean", env: map[string]string{"A1_MIGRATE": "maybe"}, wantVar: "A1_MIGRATE", fix: "true or false"},
		{name: "otel traces not boolean", env: map[string]string{"A1_OTEL_TRACES": "2"}, wantVar: "A1_OTEL_TRACES", fix: "true or false"},
		{name: "booleans accepted", env: map[string]string{"A1_MIGRATE": "YES", "A1_OTEL_TRACES": "on", "A1_REQUIRE_POP": "1"},
			check: func(c *gateway.Config) error {
				return want(c.Migrate && c.Traces && c.RequirePoP, "booleans", c.Migrate, c.Traces, c.RequirePoP)
			}},

		// Tenant.
		{name: "tenant too long", env: map[string]string{"A1_TENANT": tok('t', store.MaxTenantLen+1)}, wantVar: "A1_TENANT", fix: "printable characters without braces"},
		{name: "tenant brace", env: map[string]string{"A1_TENANT": "acme{x}"}, wantVar: "A1_TENANT", fix: "without braces"},
		{name: "tenant control character", env: map[string]string{"A1_TENANT": "ac\x01me"}, wantVar: "A1_TENANT", fix: "printable"},
		{name: "tenant DEL", env: map[string]string{"A1_TENANT": "ac\x7fme"}, wantVar: "A1_TENANT", fix: "printable"},
		{name: "tenant invalid utf-8", env: map[string]string{"A1_TENANT": "ac\xffme"}, wantVar: "A1_TENANT", fix: "printable"},
		{name: "tenant at limit, non-ASCII", env: map[string]string{"A1_TENANT": "é" + tok('t', store.MaxTenantLen-2)},
			check: func(c *gateway.Config) error {
				return want(len(c.Tenant) == store.MaxTenantLen, "tenant", len(c.Tenant))
			}},

		// Rate limit.
		{name: "rate not a number", env: map[string]string{"A1_RATE_LIMIT_RPS": "fast"}, wantVar: "A1_RATE_LIMIT_RPS", fix: "0 to disable"},
		{name: "rate NaN", env: map[string]string{"A1_RATE_LIMIT_RPS": "NaN"}, wantVar: "A1_RATE_LIMIT_RPS", fix: "0 to disable"},
		{name: "rate infinite", env: map[string]string{"A1_RATE_LIMIT_RPS": "+Inf"}, wantVar: "A1_RATE_LIMIT_RPS", fix: "0 to disable"},
		{name: "rate below minimum", env: map[string]string{"A1_RATE_LIMIT_RPS": "0.0009"}, wantVar: "A1_RATE_LIMIT_RPS", fix: "0 to disable"},
		{name: "rate above maximum", env: map[string]string{"A1_RATE_LIMIT_RPS": "1.1e9"}, wantVar: "A1_RATE_LIMIT_RPS", fix: "0 to disable"},
		{name: "rate at minimum: burst 1", env: map[string]string{"A1_RATE_LIMIT_RPS": "0.001"},
			check: func(c *gateway.Config) error {
				return want(c.RateRPS == 0.001 && c.RateBurst == 1, "rate", c.RateRPS, c.RateBurst)
			}},
		{name: "rate at maximum: burst capped", env: map[string]string{"A1_RATE_LIMIT_RPS": "1e9"},
			check: func(c *gateway.Config) error {
				return want(c.RateRPS == 1e9 && c.RateBurst == store.MaxRateBurst, "rate", c.RateRPS, c.RateBurst)
			}},
		{name: "rate 0 disables", env: map[string]string{"A1_RATE_LIMIT_RPS": "0"},
			check: func(c *gateway.Config) error {
				return want(c.RateRPS == 0 && c.RateBurst == 1, "rate", c.RateRPS, c.RateBurst)
			}},
		{name: "burst zero", env: map[string]string{"A1_RATE_LIMIT_BURST": "0"}, wantVar: "A1_RATE_LIMIT_BURST", fix: "positive burst"},
		{name: "burst negative", env: map[string]string{"A1_RATE_LIMIT_BURST": "-3"}, wantVar: "A1_RATE_LIMIT_BURST", fix: "positive burst"},
		{name: "burst above maximum", env: map[string]string{"A1_RATE_LIMIT_BURST": strconv.Itoa(store.MaxRateBurst + 1)}, wantVar: "A1_RATE_LIMIT_BURST", fix: "positive burst"},
		{name: "burst not integer", env: map[string]string{"A1_RATE_LIMIT_BURST": "1.5"}, wantVar: "A1_RATE_LIMIT_BURST", fix: "positive burst"},
		{name: "burst bounds", env: map[string]string{"A1_RATE_LIMIT_BURST": strconv.Itoa(store.MaxRateBurst)},
			check: func(c *gateway.Config) error { return want(c.RateBurst == store.MaxRateBurst, "burst", c.RateBurst) }},
		{name: "burst one", env: map[string]string{"A1_RATE_LIMIT_BURST": "1"},
			check: func(c *gateway.Config) error { return want(c.RateBurst == 1, "burst", c.RateBurst) }},

		// Trusted proxies.
		{name: "proxy mode unknown", env: map[string]string{"A1_TRUSTED_PROXY_MODE": "cf-connecting-ip", "A1_TRUSTED_PROXIES": "10.0.0.0/8"}, wantVar: "A1_TRUSTED_PROXY_MODE", fix: "x-forwarded-for or x-real-ip"},
		{name: "proxy mode without proxies", env: map[string]string{"A1_TRUSTED_PROXY_MODE": "x-forwarded-for"}, wantVar: "A1_TRUSTED_PROXIES", fix: "load balancers"},
		{name: "proxy mapped prefix too wide", env: map[string]string{"A1_TRUSTED_PROXIES": "::ffff:0.0.0.0/95"}, wantVar: "A1_TRUSTED_PROXIES", fix: "IPv4 form"},
		{name: "proxy garbage", env: map[string]string{"A1_TRUSTED_PROXIES": "10.0.0.1,proxy.local"}, wantVar: "A1_TRUSTED_PROXIES", fix: "comma list"},
		{name: "proxies too many", env: map[string]string{"A1_TRUSTED_PROXIES": proxies(gateway.MaxTrustedProxies + 1)}, wantVar: "A1_TRUSTED_PROXIES", fix: "aggregate"},
		{name: "proxies at limit, mapped and bare", env: map[string]string{"A1_TRUSTED_PROXY_MODE": "X-Real-IP", "A1_TRUSTED_PROXIES": "::ffff:10.1.2.3/104 " + proxies(gateway.MaxTrustedProxies-1)},
			check: func(c *gateway.Config) error {
				return want(len(c.TrustedProxies) == gateway.MaxTrustedProxies && c.ProxyMode == gateway.ProxyXRealIP &&
					c.TrustedProxies[0] == netip.MustParsePrefix("10.0.0.0/8") && c.TrustedProxies[1] == netip.MustParsePrefix("10.0.0.1/32"),
					"proxies", c.ProxyMode, len(c.TrustedProxies))
			}},

		// Trusted roots.
		{name: "roots entry not hex", env: map[string]string{"A1_TRUSTED_ROOTS": root + ",xyz"}, wantVar: "A1_TRUSTED_ROOTS", fix: "64-hex public keys"},
		{name: "roots entry weak key", env: map[string]string{"A1_TRUSTED_ROOTS": weakRoot}, wantVar: "A1_TRUSTED_ROOTS", fix: "64-hex public keys"},
		{name: "roots entry not a point", env: map[string]string{"A1_TRUSTED_ROOTS": "02" + strings.Repeat("00", 31)}, wantVar: "A1_TRUSTED_ROOTS", fix: "64-hex public keys"},
		{name: "roots too many", env: map[string]string{"A1_TRUSTED_ROOTS": repeat(root, gateway.MaxTrustedRoots+1)}, wantVar: "A1_TRUSTED_ROOTS", fix: "admin API"},
		{name: "roots file missing", env: map[string]string{"A1_TRUSTED_ROOTS": "@" + filepath.Join(dir, "absent")}, wantVar: "A1_TRUSTED_ROOTS", fix: "readable file"},
		{name: "roots file is a directory", env: map[string]string{"A1_TRUSTED_ROOTS": "@" + dir}, wantVar: "A1_TRUSTED_ROOTS", fix: "one hex key per line"},
		{name: "roots file too large", env: map[string]string{"A1_TRUSTED_ROOTS": "@" + bigRootsFile}, wantVar: "A1_TRUSTED_ROOTS", fix: "one hex key per line"},
		{name: "roots file bad line", env: map[string]string{"A1_TRUSTED_ROOTS": "@" + badRootsFile}, wantVar: "A1_TRUSTED_ROOTS", fix: "@file"},
		{name: "roots file with comments", env: map[string]string{"A1_TRUSTED_ROOTS": "@" + rootsFile},
			check: func(c *gateway.Config) error {
				return want(len(c.TrustedRoots) == 2 && hex.EncodeToString(c.TrustedRoots[0][:]) == root, "roots", len(c.TrustedRoots))
			}},
		{name: "roots at limit", env: map[string]string{"A1_TRUSTED_ROOTS": repeat(root, gateway.MaxTrustedRoots)},
			check: func(c *gateway.Config) error {
				return want(len(c.TrustedRoots) == gateway.MaxTrustedRoots, "roots", len(c.TrustedRoots))
			}},

		// Nonce mode, drift, gateway id, logs.
		{name: "require pop not boolean", env: map[string]string{"A1_REQUIRE_POP": "maybe"}, wantVar: "A1_REQUIRE_POP", fix: "true or false"},
		{name: "nonce mode unknown", env: map[string]string{"A1_NONCE_MODE": "some"}, wantVar: "A1_NONCE_MODE", fix: "terminal (default) or all"},
		{name: "drift above maximum", env: map[string]string{"A1_DRIFT_SECS": strconv.Itoa(gateway.MaxDriftSecs + 1)}, wantVar: "A1_DRIFT_SECS", fix: "clock drift tolerance"},
		{name: "drift negative", env: map[string]string{"A1_DRIFT_SECS": "-1"}, wantVar: "A1_DRIFT_SECS", fix: "clock drift tolerance"},
		{name: "drift bounds", env: map[string]string{"A1_DRIFT_SECS": strconv.Itoa(gateway.MaxDriftSecs), "A1_NONCE_MODE": "all"},
			check: func(c *gateway.Config) error {
				return want(c.DriftSecs == gateway.MaxDriftSecs && c.NonceMode == a1.NonceAll, "drift", c.DriftSecs)
			}},
		{name: "drift zero", env: map[string]string{"A1_DRIFT_SECS": "0"},
			check: func(c *gateway.Config) error { return want(c.DriftSecs == 0, "drift", c.DriftSecs) }},
		{name: "gateway id too long", env: map[string]string{"A1_GATEWAY_ID": tok('g', gateway.MaxGatewayIDLen+1)}, wantVar: "A1_GATEWAY_ID", fix: "short name"},
		{name: "gateway id inner space", env: map[string]string{"A1_GATEWAY_ID": "gw one"}, wantVar: "A1_GATEWAY_ID", fix: "short name"},
		{name: "gateway id control", env: map[string]string{"A1_GATEWAY_ID": "gw\x01"}, wantVar: "A1_GATEWAY_ID", fix: "short name"},
		{name: "gateway id non-ASCII", env: map[string]string{"A1_GATEWAY_ID": "gé"}, wantVar: "A1_GATEWAY_ID", fix: "short name"},
		{name: "gateway id DEL", env: map[string]string{"A1_GATEWAY_ID": "gw\x7f"}, wantVar: "A1_GATEWAY_ID", fix: "short name"},
		{name: "gateway id at limit", env: map[string]string{"A1_GATEWAY_ID": "~" + tok('g', gateway.MaxGatewayIDLen-2) + "!"},
			check: func(c *gateway.Config) error {
				return want(len(c.GatewayID) == gateway.MaxGatewayIDLen, "gateway id", len(c.GatewayID))
			}},
		{name: "log level unknown", env: map[string]string{"A1_LOG_LEVEL": "trace"}, wantVar: "A1_LOG_LEVEL", fix: "debug, info, warn or error"},
		{name: "log format unknown", env: map[string]string{"A1_LOG_FORMAT": "xml"}, wantVar: "A1_LOG_FORMAT", fix: "json or text"},
		{name: "log level and format case-insensitive", env: map[string]string{"A1_LOG_LEVEL": "WARN", "A1_LOG_FORMAT": "Text"},
			check: func(c *gateway.Config) error {
				return want(c.LogLevel == "warn" && c.LogFormat == "text", "logs", c.LogLevel, c.LogFormat)
			}},

		// Integer limits.
		{name: "max body below minimum", env: map[string]string{"A1_MAX_BODY_BYTES": strconv.Itoa(gateway.MinMaxBodyBytes - 1)}, wantVar: "A1_MAX_BODY_BYTES", fix: "inside the range"},
		{name: "max body above maximum", env: map[string]string{"A1_MAX_BODY_BYTES": strconv.Itoa(gateway.MaxMaxBodyBytes + 1)}, wantVar: "A1_MAX_BODY_BYTES", fix: "inside the range"},
		{name: "max batch zero", env: map[string]string{"A1_MAX_BATCH": "0"}, wantVar: "A1_MAX_BATCH", fix: "inside the range"},
		{name: "max ttl zero", env: map[string]string{"A1_MAX_TTL_SECS": "0"}, wantVar: "A1_MAX_TTL_SECS", fix: "inside the range"},
		{name: "max ttl above ten years", env: map[string]string{"A1_MAX_TTL_SECS": strconv.Itoa(10*gateway.DefaultMaxTTL + 1)}, wantVar: "A1_MAX_TTL_SECS", fix: "inside the range"},
		{name: "max header below minimum", env: map[string]string{"A1_MAX_HEADER_BYTES": "1023"}, wantVar: "A1_MAX_HEADER_BYTES", fix: "inside the range"},
		{name: "max header above maximum", env: map[string]string{"A1_MAX_HEADER_BYTES": strconv.Itoa(1<<20 + 1)}, wantVar: "A1_MAX_HEADER_BYTES", fix: "inside the range"},
		{name: "max conns above maximum", env: map[string]string{"A1_MAX_CONNS": strconv.Itoa(gateway.MaxMaxConns + 1)}, wantVar: "A1_MAX_CONNS", fix: "inside the range"},
		{name: "max conns overflow", env: map[string]string{"A1_MAX_CONNS": "99999999999999999999"}, wantVar: "A1_MAX_CONNS", fix: "inside the range"},
		{name: "integer limits at lower bounds", env: map[string]string{"A1_MAX_BODY_BYTES": strconv.Itoa(gateway.MinMaxBodyBytes), "A1_MAX_BATCH": "1", "A1_MAX_TTL_SECS": "1", "A1_MAX_HEADER_BYTES": "1024", "A1_MAX_CONNS": strconv.Itoa(gateway.MinMaxConns)},
			check: func(c *gateway.Config) error {
				return want(c.MaxBodyBytes == gateway.MinMaxBodyBytes && c.MaxBatch == 1 && c.MaxTTL == 1 && c.MaxHeaderBytes == 1024 && c.MaxConns == gateway.MinMaxConns, "lower bounds")
			}},
		{name: "integer limits at upper bounds", env: map[string]string{"A1_MAX_BODY_BYTES": strconv.Itoa(gateway.MaxMaxBodyBytes), "A1_MAX_BATCH": strconv.Itoa(gateway.MaxMaxBatch), "A1_MAX_TTL_SECS": strconv.Itoa(10 * gateway.DefaultMaxTTL), "A1_MAX_HEADER_BYTES": strconv.Itoa(1 << 20), "A1_MAX_CONNS": strconv.Itoa(gateway.MaxMaxConns)},
			check: func(c *gateway.Config) error {
				return want(c.MaxBodyBytes == gateway.MaxMaxBodyBytes && c.MaxBatch == gateway.MaxMaxBatch && c.MaxTTL == 10*gateway.DefaultMaxTTL && c.MaxHeaderBytes == 1<<20 && c.MaxConns == gateway.MaxMaxConns, "upper bounds")
			}},

		// Durations.
		{name: "read header timeout not a duration", env: map[string]string{"A1_READ_HEADER_TIMEOUT": "5"}, wantVar: "A1_READ_HEADER_TIMEOUT", fix: "Go duration syntax"},
		{name: "read header timeout below minimum", env: map[string]string{"A1_READ_HEADER_TIMEOUT": "99ms"}, wantVar: "A1_READ_HEADER_TIMEOUT", fix: "Go duration syntax"},
		{name: "read timeout above maximum", env: map[string]string{"A1_READ_TIMEOUT": "5m1s"}, wantVar: "A1_READ_TIMEOUT", fix: "Go duration syntax"},
		{name: "write timeout negative", env: map[string]string{"A1_WRITE_TIMEOUT": "-1s"}, wantVar: "A1_WRITE_TIMEOUT", fix: "Go duration syntax"},
		{name: "idle timeout below minimum", env: map[string]string{"A1_IDLE_TIMEOUT": "999ms"}, wantVar: "A1_IDLE_TIMEOUT", fix: "Go duration syntax"},
		{name: "shutdown timeout above maximum", env: map[string]string{"A1_SHUTDOWN_TIMEOUT": "11m"}, wantVar: "A1_SHUTDOWN_TIMEOUT", fix: "Go duration syntax"},
		{name: "storage timeout below minimum", env: map[string]string{"A1_STORAGE_TIMEOUT": "9ms"}, wantVar: "A1_STORAGE_TIMEOUT", fix: "Go duration syntax"},
		{name: "roots refresh above maximum", env: map[string]string{"A1_ROOTS_REFRESH": "61m"}, wantVar: "A1_ROOTS_REFRESH", fix: "Go duration syntax"},
		{name: "durations at bounds", env: map[string]string{"A1_READ_HEADER_TIMEOUT": "100ms", "A1_READ_TIMEOUT": "5m", "A1_WRITE_TIMEOUT": "100ms", "A1_IDLE_TIMEOUT": "1h", "A1_SHUTDOWN_TIMEOUT": "1s", "A1_STORAGE_TIMEOUT": "10ms", "A1_ROOTS_REFRESH": "1h", "A1_TOKEN_MAX_AGE": "1s"},
			check: func(c *gateway.Config) error {
				return want(c.ReadHeaderTimeout == 100*time.Millisecond && c.ReadTimeout == 5*time.Minute && c.IdleTimeout == time.Hour &&
					c.ShutdownTimeout == time.Second && c.StorageTimeout == 10*time.Millisecond && c.RootsRefresh == time.Hour && c.TokenMaxAge == time.Second, "durations")
			}},
		{name: "token max age fraction", env: map[string]string{"A1_TOKEN_MAX_AGE": "1500ms"}, wantVar: "A1_TOKEN_MAX_AGE", fix: "whole seconds"},
		{name: "token max age at maximum", env: map[string]string{"A1_TOKEN_MAX_AGE": gateway.MaxTokenMaxAge.String()},
			check: func(c *gateway.Config) error {
				return want(c.TokenMaxAge == gateway.MaxTokenMaxAge, "token max age", c.TokenMaxAge)
			}},
	}

	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			cfg, err := gateway.LoadConfig(r.args, func(k string) string { return r.env[k] }, io.Discard)
			if r.plainErr {
				var ce *gateway.ConfigError
				if err == nil || errors.As(err, &ce) {
					t.Fatalf("want a flag syntax error, got %v", err)
				}
				return
			}
			if r.wantVar == "" {
				if err != nil {
					t.Fatalf("rejected a valid configuration: %v", err)
				}
				if r.check != nil {
					if err := r.check(cfg); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want a ConfigError naming %s", r.wantVar)
			}
			if cfg != nil {
				t.Errorf("returned a Config along with the error")
			}
			var first *gateway.ConfigError
			if !errors.As(err, &first) {
				t.Fatalf("error is not a *ConfigError: %v", err)
			}
			ces, other := configErrors(err)
			if len(other) > 0 {
				t.Errorf("non-ConfigError leaves: %v", other)
			}
			fixFound := false
			for _, ce := range ces {
				if ce.Var != r.wantVar {
					t.Errorf("error names %s (%s), want only %s", ce.Var, ce.Problem, r.wantVar)
				}
				if ce.Problem == "" || ce.Fix == "" {
					t.Errorf("%s: empty problem or fix: %+v", ce.Var, ce)
				}
				if strings.Contains(ce.Fix, r.fix) {
					fixFound = true
				}
				if r.secret != "" && (strings.Contains(ce.Problem, r.secret) || strings.Contains(ce.Fix, r.secret)) {
					t.Errorf("%s: secret value echoed", ce.Var)
				}
			}
			if !fixFound {
				t.Errorf("no fix mentions %q: %v", r.fix, ces)
			}
			if r.secret != "" && strings.Contains(err.Error(), r.secret) {
				t.Errorf("secret value echoed: %v", err)
			}
		})
	}
}
