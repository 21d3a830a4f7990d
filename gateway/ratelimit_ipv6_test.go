package gateway_test

import (
	"fmt"
	"strconv"
	"testing"
)

// TestOpsRateLimitIPv6Rotation: behind a trusted proxy, one IPv6 client
// rotating through the addresses of its /64 (2^64 of them) shares one
// bucket; Retry-After is a whole number of seconds, at least 1. A client
// in another /64, and an IPv4 client sent as "ip:port" (Azure Application
// Gateway's form), each get a bucket of their own rather than the proxy's.
func TestOpsRateLimitIPv6Rotation(t *testing.T) {
	env := baseEnv(t)
	env["A1_RATE_LIMIT_RPS"] = "0.01"
	env["A1_RATE_LIMIT_BURST"] = "2"
	env["A1_TRUSTED_PROXY_MODE"] = "x-forwarded-for"
	env["A1_TRUSTED_PROXIES"] = "127.0.0.1"
	g := startGateway(t, env)
	get := func(xff string) reply {
		return g.do("GET", "/openapi.json", nil, map[string]string{"X-Forwarded-For": xff})
	}
	for i := 1; i <= 6; i++ {
		r := get(fmt.Sprintf("2001:db8:1:2::%x", i))
		switch {
		case i <= 2 && r.status != 200:
			t.Errorf("request %d of the /64: %d", i, r.status)
		case i > 2 && r.status != 429:
			t.Errorf("request %d of the /64 from a fresh address: %d, want 429 (one bucket per /64)", i, r.status)
		case i > 2:
			if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
				t.Errorf("Retry-After %q, want an integer >= 1", r.header.Get("Retry-After"))
			}
		}
	}
	if r := get("2001:db8:1:3::1"); r.status != 200 {
		t.Errorf("another /64: %d", r.status)
	}
	for i := 1; i <= 3; i++ {
		r := get(fmt.Sprintf("198.51.100.%d:%d", i, 40000+i))
		if r.status != 200 {
			t.Errorf("IPv4 client %d in ip:port form: %d (shared the proxy's bucket?)", i, r.status)
		}
	}
}
