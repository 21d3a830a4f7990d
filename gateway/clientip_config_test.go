package gateway

import (
	"errors"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestOpsClientIPForms: the forms a trusted proxy may write are read as
// the address they name, and a client cannot choose its bucket through a
// header field the proxy appended after its own.
func TestOpsClientIPForms(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name, mode string
		hdr        map[string][]string
		want       string
	}{
		// Azure Application Gateway and others append "ip:port": without
		// the port read, every client fell into the proxy's own bucket.
		{"xff ipv4:port", ProxyXForwardedFor, map[string][]string{"X-Forwarded-For": {"203.0.113.7:4711"}}, "203.0.113.7"},
		{"xff [ipv6]:port", ProxyXForwardedFor, map[string][]string{"X-Forwarded-For": {"[2001:db8::7]:443"}}, "2001:db8::7"},
		{"xff mapped", ProxyXForwardedFor, map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.7"}}, "203.0.113.7"},
		{"xff zone dropped", ProxyXForwardedFor, map[string][]string{"X-Forwarded-For": {"fe80::7%eth0"}}, "fe80::7"},
		// RFC 9110 §5.6.1: empty list elements are ignored.
		{"xff empty elements", ProxyXForwardedFor, map[string][]string{"X-Forwarded-For": {"203.0.113.7, ,10.0.0.9,"}}, "203.0.113.7"},
		{"xff several fields", ProxyXForwardedFor, map[string][]string{"X-Forwarded-For": {"198.51.100.1", "203.0.113.7, 10.0.0.9"}}, "203.0.113.7"},
		{"xff garbage keeps the trusted hop", ProxyXForwardedFor, map[string][]string{"X-Forwarded-For": {"bogus, 10.0.0.9"}}, "10.0.0.9"},
		// A proxy that adds X-Real-IP (HAProxy add-header) rather than
		// replacing it puts its field after the client's forged one.
		{"x-real-ip last field", ProxyXRealIP, map[string][]string{"X-Real-Ip": {"203.0.113.66", "198.51.100.9"}}, "198.51.100.9"},
		{"x-real-ip port", ProxyXRealIP, map[string][]string{"X-Real-Ip": {"198.51.100.9:5000"}}, "198.51.100.9"},
		{"x-real-ip garbage", ProxyXRealIP, map[string][]string{"X-Real-Ip": {"nope"}}, "10.1.2.3"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.1.2.3:5555"
		for k, vs := range c.hdr {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
		if got := clientIP(r, c.mode, trusted); got.String() != c.want {
			t.Errorf("%s: client %v, want %s", c.name, got, c.want)
		}
		// From an untrusted peer no header is believed.
		r.RemoteAddr = "192.0.2.1:5555"
		if got := clientIP(r, c.mode, trusted); got.String() != "192.0.2.1" {
			t.Errorf("%s from an untrusted peer: client %v", c.name, got)
		}
	}
}

// TestOpsRateKeyIPv6Per64: an IPv6 client is one /64 (the smallest
// allocation a subscriber gets), so rotating addresses inside it does not
// buy fresh buckets; IPv4 clients stay per address.
func TestOpsRateKeyIPv6Per64(t *testing.T) {
	k := func(s string) string { return rateKey(netip.MustParseAddr(s)) }
	if a, b := k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff:eeee:dddd:cccc"); a != b {
		t.Errorf("same /64, different buckets: %s %s", a, b)
	}
	if a, b := k("2001:db8:1:2::1"), k("2001:db8:1:3::1"); a == b {
		t.Errorf("different /64s share a bucket: %s", a)
	}
	if a, b := k("203.0.113.1"), k("203.0.113.2"); a == b {
		t.Errorf("IPv4 addresses share a bucket: %s", a)
	}
	if a, b := k("::ffff:203.0.113.1"), k("203.0.113.1"); a != b {
		t.Errorf("IPv4-mapped form has a bucket of its own: %s %s", a, b)
	}
	if got := rateKey(netip.Addr{}); got == "" {
		t.Errorf("an unknown peer has an empty key")
	}
}

// TestOpsEmptyFlagIsUnset: "empty values count as unset" holds for flags
// too. An empty -rate-limit-rps used to disable rate limiting, and an
// empty -store to override A1_STORE with the bolt default.
func TestOpsEmptyFlagIsUnset(t *testing.T) {
	env := map[string]string{"A1_STORE": "memory", "A1_RATE_LIMIT_RPS": "50"}
	cfg, err := LoadConfig([]string{"-rate-limit-rps", " ", "-store", ""}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateRPS != 50 || cfg.Store != StoreMemory {
		t.Errorf("empty flags: rps %v store %s, want 50 and memory (the environment's)", cfg.RateRPS, cfg.Store)
	}
	cfg, err = LoadConfig([]string{"-rate-limit-rps", ""}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateRPS != DefaultRateRPS {
		t.Errorf("empty -rate-limit-rps: %v, want the default %d", cfg.RateRPS, DefaultRateRPS)
	}
}

// TestOpsTrustedProxiesMapped: a proxy listed in IPv4-mapped IPv6 form
// (::ffff:10.0.0.1, ::ffff:10.0.0.0/104) never matched, since peers are
// compared in plain IPv4 form: its headers were silently ignored. It is
// now read as the IPv4 address or prefix it names.
func TestOpsTrustedProxiesMapped(t *testing.T) {
	env := map[string]string{"A1_TRUSTED_PROXY_MODE": "x-forwarded-for", "A1_TRUSTED_PROXIES": "::ffff:10.0.0.1, ::ffff:192.168.0.0/112"}
	cfg, err := LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"10.0.0.1", "192.168.3.4"} {
		if !inPrefixes(netip.MustParseAddr(a), cfg.TrustedProxies) {
			t.Errorf("%s not trusted by %v", a, cfg.TrustedProxies)
		}
	}
	env["A1_TRUSTED_PROXIES"] = "::ffff:10.0.0.0/90" // covers more than the mapped range
	if _, err := LoadConfig(nil, func(k string) string { return env[k] }, io.Discard); err == nil {
		t.Errorf("::ffff:10.0.0.0/90 accepted")
	}
}

// TestOpsListenPort: the port of A1_LISTEN is digits only; "+80" and "-0"
// (which listened on a random port) used to pass.
func TestOpsListenPort(t *testing.T) {
	for _, v := range []string{":+80", ":-0", "127.0.0.1: 80", ":0x50"} {
		env := map[string]string{"A1_LISTEN": v}
		if _, err := LoadConfig(nil, func(k string) string { return env[k] }, io.Discard); err == nil {
			t.Errorf("A1_LISTEN=%q accepted", v)
		}
	}
	for _, v := range []string{":8080", "127.0.0.1:0", "[::1]:443"} {
		env := map[string]string{"A1_LISTEN": v}
		if _, err := LoadConfig(nil, func(k string) string { return env[k] }, io.Discard); err != nil {
			t.Errorf("A1_LISTEN=%q: %v", v, err)
		}
	}
}

// TestURLFlagWithPassword: a storage URL given as a flag must not carry a
// password (the command line is visible to other local users); the error
// names the flag and never repeats the URL.
func TestURLFlagWithPassword(t *testing.T) {
	env := func(string) string { return "" }
	for _, args := range [][]string{
		{"-pg-url", "postgres://a1:hunter2@db/a1"},
		{"-redis-url", "redis://:hunter2@cache:6379/0"},
		{"-redis-url", "redis+sentinel://s1:26379/mymaster?password=hunter2"},
		{"-pg-url", "postgres://a1:hunter2@db:bad port/a1"},
	} {
		_, err := LoadConfig(args, env, io.Discard)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Var != args[0] {
			t.Errorf("%v: %v, want a ConfigError naming %s", args, err, args[0])
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: the error repeats the password: %v", args, err)
		}
	}
	for _, args := range [][]string{{"-pg-url", "postgres://a1@db/a1?sslmode=verify-full"}, {"-redis-url", "redis://cache:6379/0"}} {
		if _, err := LoadConfig(args, env, io.Discard); err != nil {
			t.Errorf("%v (no password): %v", args, err)
		}
	}
}
