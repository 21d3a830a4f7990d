package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func probeServer(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/livez" || r.URL.Path == "/readyz" {
			w.WriteHeader(status)
			w.Write([]byte(`{"status":"x"}`))
			return
		}
		http.NotFound(w, r)
	})
}

func writeCertPEM(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tls.crt")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// otherCertPEM writes a self-signed certificate that no test server uses
// (every httptest TLS server shares one built-in certificate).
func otherCertPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "other"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other.crt")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func portOf(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestHealthcheck(t *testing.T) {
	up := httptest.NewServer(probeServer(200))
	defer up.Close()
	down := httptest.NewServer(probeServer(503))
	defer down.Close()
	tlsUp := httptest.NewTLSServer(probeServer(200))
	defer tlsUp.Close()
	closed := httptest.NewServer(probeServer(200))
	closedURL := closed.URL
	closed.Close()

	for _, c := range []struct {
		name string
		vars map[string]string
		args []string
		want int
	}{
		{"url healthy", nil, []string{"--url", up.URL}, exitOK},
		{"url readyz", nil, []string{"--url", up.URL, "--path", "/readyz"}, exitOK},
		{"url 503", nil, []string{"--url", down.URL}, exitFail},
		{"unreachable", nil, []string{"--url", closedURL, "--timeout", "1s"}, exitFail},
		{"unknown path", nil, []string{"--url", up.URL, "--path", "/metrics"}, exitUsage},
		{"bad url", nil, []string{"--url", "ftp://x"}, exitUsage},
		{"local from A1_LISTEN", map[string]string{"A1_LISTEN": ":" + portOf(t, up)}, nil, exitOK},
		{"local 0.0.0.0", map[string]string{"A1_LISTEN": "0.0.0.0:" + portOf(t, up)}, nil, exitOK},
		{"local bad A1_LISTEN", map[string]string{"A1_LISTEN": "8080"}, nil, exitUsage},
		{"local TLS, own certificate", map[string]string{"A1_LISTEN": ":" + portOf(t, tlsUp), "A1_TLS_CERT_FILE": writeCertPEM(t, tlsUp)}, nil, exitOK},
		{"local TLS, another certificate", map[string]string{"A1_LISTEN": ":" + portOf(t, tlsUp), "A1_TLS_CERT_FILE": otherCertPEM(t)}, nil, exitFail},
		{"local TLS, no certificate file", map[string]string{"A1_LISTEN": ":" + portOf(t, tlsUp), "A1_TLS_CERT_FILE": "/nonexistent/tls.crt"}, nil, exitFail},
		{"local plain HTTP against TLS", map[string]string{"A1_LISTEN": ":" + portOf(t, tlsUp)}, nil, exitFail},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stderr := runWith(t, c.vars, append([]string{"healthcheck"}, c.args...)...)
			if code != c.want {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.want, stderr)
			}
		})
	}
}
