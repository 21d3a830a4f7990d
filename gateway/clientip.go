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
// saw). x-real-ip: the header's single address.
func clientIP(r *http.Request, mode string, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if mode == ProxyNone || !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	switch mode {
	case ProxyXRealIP:
		if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-Ip"))); err == nil {
			return a.Unmap()
		}
		return peer
	case ProxyXForwardedFor:
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		client := peer
		for i, seen := len(hops)-1, 0; i >= 0 && seen < maxForwardedHops; i, seen = i-1, seen+1 {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				// A trusted proxy forwarded garbage: keep the last
				// address a trusted hop vouched for.
				return client
			}
			a = a.Unmap()
			client = a
			if !inPrefixes(a, trusted) {
				return a
			}
		}
		return client
	}
	return peer
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
	return a.Unmap()
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
