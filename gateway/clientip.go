package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries are examined.
const maxForwardedHops = 32

// clientIP resolves the client address of r under the trusted-proxy mode.
// Headers are believed only when the TCP peer is a trusted proxy; a header
// sent by any other peer is ignored, so it cannot be spoofed.
//
// x-forwarded-for: walking from the right, the first address that is not a
// trusted proxy is the client (each trusted proxy appends the address it
// saw); empty list elements are skipped. x-real-ip: the address of the
// header's last field (a proxy that adds the field rather than replacing
// it puts its own after any the client sent). Either accepts an address
// with a port ("203.0.113.7:4711", "[2001:db8::7]:443"), as some proxies
// write it. Addresses are returned unmapped and without zone.
func clientIP(r *http.Request, mode string, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if mode == ProxyNone || !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	switch mode {
	case ProxyXRealIP:
		vals := r.Header.Values("X-Real-Ip")
		if len(vals) == 0 {
			return peer
		}
		if a, ok := parseHop(vals[len(vals)-1]); ok {
			return a
		}
		return peer
	case ProxyXForwardedFor:
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		client := peer
		for i, seen := len(hops)-1, 0; i >= 0 && seen < maxForwardedHops; i, seen = i-1, seen+1 {
			h := strings.TrimSpace(hops[i])
			if h == "" {
				continue // an empty list element (RFC 9110 §5.6.1)
			}
			a, ok := parseHop(h)
			if !ok {
				// A trusted proxy forwarded garbage: keep the last
				// address a trusted hop vouched for.
				return client
			}
			client = a
			if !inPrefixes(a, trusted) {
				return a
			}
		}
		return client
	}
	return peer
}

// parseHop reads one forwarded address: an IP, or an IP with a port
// ("1.2.3.4:80", "[::1]:80"), unmapped and without zone.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rateKey is the rate-limit bucket of a client address: an IPv4 address,
// or the /64 of an IPv6 one. A /64 is the smallest prefix a subscriber or
// host is given (SLAAC, privacy addresses), so a single IPv6 client can
// rotate through 2^64 addresses: keyed by address, it would get a fresh
// bucket per request. Keying by /64 makes it one client, at the cost of
// sharing a bucket among hosts of one /64.
func rateKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}
