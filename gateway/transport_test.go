//go:build unix

package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTLS starts a TLS gateway on a fresh CA-issued pair (key mode 0600)
// with extra env; it returns the gateway (g.url and g.client use HTTPS),
// its address, the CA and the two files.
func startTLS(t *testing.T, extra map[string]string) (*gw, string, *testCA) {
	t.Helper()
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.issue(t, 100, certFile, keyFile)
	env := baseEnv(t)
	env["A1_TLS_CERT_FILE"], env["A1_TLS_KEY_FILE"] = certFile, keyFile
	for k, v := range extra {
		env[k] = v
	}
	g := tryStart(t, env)
	addr := strings.TrimPrefix(g.url, "http://")
	g.url = "https://" + addr
	g.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	waitFor(t, 20*time.Second, "/readyz over HTTPS", g.answers("/readyz", 200))
	return g, addr, ca
}

// TestTLSWire: over the real listener, HTTP/2 is not spoken even
// when the client insists (ALPN or a prior-knowledge preface), a plain
// HTTP request gets a clear 400, a silent TLS client is cut off by the
// handshake timeout, and none of it panics or stops the gateway.
func TestTLSWire(t *testing.T) {
	g, addr, ca := startTLS(t, map[string]string{"A1_READ_HEADER_TIMEOUT": "500ms"})

	// ForceAttemptHTTP2 offers h2 in ALPN: the answer is HTTP/1.1.
	h2c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	resp, err := h2c.Get(g.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.StatusCode != 200 {
		t.Errorf("with h2 offered: %s %d", resp.Proto, resp.StatusCode)
	}

	// The HTTP/2 connection preface over TLS (prior knowledge) is refused.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if strings.Contains(line, " 200 ") {
		t.Errorf("HTTP/2 preface answered %q", line)
	}

	// Plain HTTP on the TLS port: a 400 that says why.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(raw, "GET /healthz HTTP/1.1\r\nHost: a1\r\n\r\n")
	body, _ := io.ReadAll(raw)
	raw.Close()
	if !strings.HasPrefix(string(body), "HTTP/1.0 400 ") || !strings.Contains(string(body), "HTTPS") {
		t.Errorf("plain HTTP on the TLS port: %q", body)
	}

	// A client that connects and never starts the handshake is closed.
	raw, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = raw.Read(make([]byte, 1))
	raw.Close()
	if el := time.Since(start); err == nil || el > 5*time.Second {
		t.Errorf("silent TLS client: read %v after %v, want the connection closed within the header timeout", err, el)
	}

	if r := g.do("GET", "/healthz", nil, nil); r.status != 200 {
		t.Fatalf("healthz after the probes: %d", r.status)
	}
	if s := g.stderr.String(); strings.Contains(s, "panic") {
		t.Fatalf("panic in the gateway log: %s", s)
	}
}

// TestTLSKeyFileChecks: the TLS private key gets the signing key
// file's rules (signer/local.go): group- or world-accessible, or not a
// regular file (a FIFO would block the start and, on reload, the shutdown),
// stops the start with exit 2 naming A1_TLS_KEY_FILE.
func TestTLSKeyFileChecks(t *testing.T) {
	ca := newTestCA(t)
	for _, c := range []struct {
		name string
		prep func(t *testing.T, keyFile string)
		ok   bool
	}{
		{"mode 0600", func(t *testing.T, kf string) {}, true},
		{"mode 0640", func(t *testing.T, kf string) { os.Chmod(kf, 0o640) }, true},
		{"mode 0644", func(t *testing.T, kf string) { os.Chmod(kf, 0o644) }, false},
		{"mode 0660", func(t *testing.T, kf string) { os.Chmod(kf, 0o660) }, false},
		{"fifo", func(t *testing.T, kf string) {
			os.Remove(kf)
			if err := syscall.Mkfifo(kf, 0o600); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			ca.issue(t, 1, certFile, keyFile)
			c.prep(t, keyFile)
			env := baseEnv(t)
			env["A1_TLS_CERT_FILE"], env["A1_TLS_KEY_FILE"] = certFile, keyFile
			g := tryStart(t, env)
			if c.ok {
				g.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
				g.url = "https://" + strings.TrimPrefix(g.url, "http://")
				waitFor(t, 20*time.Second, "/readyz over HTTPS", g.answers("/readyz", 200))
				return
			}
			select {
			case <-g.done:
			case <-time.After(10 * time.Second):
				g.cmd.Process.Kill()
				t.Fatalf("gateway neither started nor exited: %s", g.stderr.String())
			}
			out := g.stderr.String()
			if code := g.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(out, "a1: error: A1_TLS_KEY_FILE") {
				t.Errorf("exit %d, stderr %s", code, out)
			}
		})
	}
}

// TestSlowClients: the read-header, read and write timeouts cut off
// a slow header, a trickled body and a client that never reads its
// responses; the gateway keeps serving others.
func TestSlowClients(t *testing.T) {
	env := baseEnv(t)
	env["A1_READ_HEADER_TIMEOUT"] = "500ms"
	env["A1_READ_TIMEOUT"] = "1s"
	env["A1_WRITE_TIMEOUT"] = "1s"
	g := startGateway(t, env)
	addr := strings.TrimPrefix(g.url, "http://")

	closedWithin := func(c net.Conn, d time.Duration) (string, time.Duration) {
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(d))
		b, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return string(b), -1
		}
		return string(b), time.Since(start)
	}

	t.Run("slow header", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		trickleHeader(t, c)
		if out, el := closedWithin(c, 10*time.Second); el < 0 || el > 3*time.Second || strings.Contains(out, " 200 ") {
			t.Errorf("slow header: closed after %v with %q", el, out)
		}
	})

	t.Run("trickled body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/authorize HTTP/1.1\r\nHost: a1\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
		stop := make(chan struct{})
		defer close(stop)
		go func() { // 60 KB at 100 B per 100ms would take a minute
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := io.WriteString(c, strings.Repeat(" ", 100)); err != nil {
					return
				}
			}
		}()
		out, el := closedWithin(c, 15*time.Second)
		if el < 0 || el > 4*time.Second {
			t.Errorf("trickled body: connection still open after %v (%q)", el, out)
		}
		t.Logf("trickled body: %v, %.80q", el, out)
	})

	t.Run("unread responses", func(t *testing.T) {
		// Only the scrape's own connection is open.
		waitFor(t, 10*time.Second, "earlier connections to close", func() bool {
			return metricSum(t, g, "a1_http_open_connections", nil) == 1
		})
		const base = 1
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Pipeline requests for a 60 KB document and never read.
		go func() {
			req := "GET /openapi.json HTTP/1.1\r\nHost: a1\r\n\r\n"
			for range 400 {
				c.SetWriteDeadline(time.Now().Add(20 * time.Second))
				if _, err := io.WriteString(c, req); err != nil {
					return
				}
			}
		}()
		time.Sleep(300 * time.Millisecond)
		if v := metricSum(t, g, "a1_http_open_connections", nil); v < base+1 {
			t.Fatalf("the non-reading connection is not open (%v, base %v)", v, base)
		}
		waitFor(t, 15*time.Second, "the write timeout to close the non-reading connection", func() bool {
			return metricSum(t, g, "a1_http_open_connections", nil) <= base
		})
	})

	if r := g.do("GET", "/healthz", nil, nil); r.status != 200 {
		t.Fatalf("healthz after slow clients: %d", r.status)
	}
}

// TestIdleCountsAgainstMaxConns: idle keep-alive connections hold
// A1_MAX_CONNS slots (a waiting client is not served while they are held)
// until A1_IDLE_TIMEOUT closes them, as docs/gateway.md says.
func TestIdleCountsAgainstMaxConns(t *testing.T) {
	const limit = 8
	env := baseEnv(t)
	env["A1_MAX_CONNS"] = "8"
	env["A1_IDLE_TIMEOUT"] = "2s"
	g := startGateway(t, env)
	g.client.CloseIdleConnections()
	addr := strings.TrimPrefix(g.url, "http://")
	held := make([]*heldConn, limit)
	for i := range held {
		held[i] = dialHeld(t, addr)
		if code, err := held[i].get(10 * time.Second); err != nil || code != 200 {
			t.Fatalf("connection %d: %d %v", i, code, err)
		}
	}
	// All eight are now idle keep-alives.
	ninth := dialHeld(t, addr)
	start := time.Now()
	if _, err := ninth.c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: a1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := ninth.read(time.Second); err == nil {
		t.Fatal("a ninth client was served while eight idle keep-alives held the cap")
	}
	if code, err := ninth.read(10 * time.Second); err != nil || code != 200 {
		t.Fatalf("the ninth client was not served after the idle timeout: %d %v", code, err)
	}
	if el := time.Since(start); el < 1500*time.Millisecond || el > 6*time.Second {
		t.Errorf("ninth client served after %v, want about A1_IDLE_TIMEOUT (2s)", el)
	}
	// The idle ones were closed by the server (EOF, not a read timeout).
	for i, h := range held {
		h.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if n, err := h.r.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("idle connection %d outlived A1_IDLE_TIMEOUT: read %d, %v", i, n, err)
		}
	}
}

// trickleHeader starts a request on c whose header never ends: one more
// header byte every 100ms until the test ends or the connection closes.
func trickleHeader(t *testing.T, c net.Conn) {
	t.Helper()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: a1\r\n")
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := io.WriteString(c, "X"); err != nil {
				return
			}
		}
	}()
}
