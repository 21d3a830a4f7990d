package gateway_test

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// heldConn is a raw keep-alive client connection.
type heldConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialHeld(t *testing.T, addr string) *heldConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &heldConn{c: c, r: bufio.NewReader(c)}
}

// get sends GET /healthz and reads the response within wait.
func (h *heldConn) get(wait time.Duration) (int, error) {
	if _, err := h.c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: a1\r\n\r\n")); err != nil {
		return 0, err
	}
	return h.read(wait)
}

func (h *heldConn) read(wait time.Duration) (int, error) {
	h.c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestMaxConns: with A1_MAX_CONNS=8 and eight connections open, a ninth
// client is not served (it waits in the listen backlog, costing the
// gateway nothing); when one of the eight closes, the ninth is answered.
// /metrics reports the limit and the open connections.
func TestMaxConns(t *testing.T) {
	const limit = 8
	env := baseEnv(t)
	env["A1_MAX_CONNS"] = "8"
	g := startGateway(t, env)
	if got := g.discovery()["limits"].(map[string]any)["max_connections"]; got != float64(limit) {
		t.Fatalf("discovery max_connections = %v, want %d", got, limit)
	}
	if v := metricSum(t, g, "a1_http_max_connections", nil); v != limit {
		t.Fatalf("a1_http_max_connections = %v, want %d", v, limit)
	}
	g.client.CloseIdleConnections()
	addr := strings.TrimPrefix(g.url, "http://")

	held := make([]*heldConn, limit)
	for i := range held {
		held[i] = dialHeld(t, addr)
		// A slot freed by the closed client connections may take a moment:
		// the request waits in the backlog until then, hence the long wait.
		if code, err := held[i].get(10 * time.Second); err != nil || code != 200 {
			t.Fatalf("connection %d: %d %v", i, code, err)
		}
	}

	ninth := dialHeld(t, addr) // the kernel completes the handshake
	if _, err := ninth.c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: a1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if _, err := ninth.read(time.Second); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a ninth connection was served over the limit of %d (err %v)", limit, err)
	}
	// Still serving the connections it holds.
	if code, err := held[1].get(5 * time.Second); err != nil || code != 200 {
		t.Fatalf("held connection after the cap: %d %v", code, err)
	}

	held[0].c.Close()
	if code, err := ninth.read(10 * time.Second); err != nil || code != 200 {
		t.Fatalf("the waiting client was not served after a connection closed: %d %v", code, err)
	}

	// 6 held + the ninth + the metrics scrape's own connection = the limit.
	held[1].c.Close()
	waitFor(t, 10*time.Second, "a1_http_open_connections to reach the limit", func() bool {
		return metricSum(t, g, "a1_http_open_connections", nil) == limit
	})
	for _, h := range held[2:] {
		h.c.Close()
	}
	ninth.c.Close()
	waitFor(t, 10*time.Second, "closed connections to leave a1_http_open_connections", func() bool {
		return metricSum(t, g, "a1_http_open_connections", nil) == 1
	})
}
