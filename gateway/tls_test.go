package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA issues server certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "a1 test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a server certificate with the given serial and its key to
// certFile and keyFile.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "a1 gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write the key first: a reader that sees the new certificate with the
	// old key keeps the old pair and retries.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// servedSerial opens a new TLS connection and returns the serial of the
// certificate the gateway presents.
func servedSerial(t *testing.T, addr string, pool *x509.CertPool) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLS: with A1_TLS_CERT_FILE/A1_TLS_KEY_FILE the gateway serves HTTPS
// only (TLS 1.2 or newer), answers a plain-HTTP request with 400 and
// serves nothing over it, and picks up a certificate rotated on disk
// without a restart.
func TestTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.issue(t, 100, certFile, keyFile)

	env := baseEnv(t)
	env["A1_TLS_CERT_FILE"], env["A1_TLS_KEY_FILE"] = certFile, keyFile
	g := tryStart(t, env)
	addr := strings.TrimPrefix(g.url, "http://")
	g.url = "https://" + addr
	g.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	waitFor(t, 20*time.Second, "/readyz over HTTPS", g.answers("/readyz", 200))
	if r := g.do("GET", "/healthz", nil, nil); r.status != 200 {
		t.Fatalf("healthz over HTTPS: %d %s", r.status, r.raw)
	}
	if !strings.Contains(g.stderr.String(), "tls=true") {
		t.Errorf("the start line does not say TLS is on: %.400s", g.stderr.String())
	}

	// Plain HTTP to the TLS port is not served.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), `"status"`) {
			t.Fatalf("plain HTTP on the TLS port: %d %s", resp.StatusCode, body)
		}
	}
	// TLS 1.1 is refused.
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}

	// Rotation on disk: new connections get the new certificate.
	if got := servedSerial(t, addr, ca.pool); got != 100 {
		t.Fatalf("served serial %d, want 100", got)
	}
	ca.issue(t, 200, certFile, keyFile)
	waitFor(t, 20*time.Second, "the rotated certificate", func() bool {
		return servedSerial(t, addr, ca.pool) == 200
	})
	// A broken pair on disk keeps the last good certificate.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the reload failure to be logged", func() bool {
		// Handshakes trigger the re-read; each must still get the last good pair.
		if got := servedSerial(t, addr, ca.pool); got != 200 {
			t.Fatalf("after a broken rotation the served serial is %d, want the last good 200", got)
		}
		return strings.Contains(g.stderr.String(), "TLS certificate not reloaded")
	})
	if r := g.do("GET", "/healthz", nil, nil); r.status != 200 {
		t.Fatalf("healthz after a broken rotation: %d", r.status)
	}
}

// TestTLSConfigErrors: half a pair, a missing file or a mismatched pair
// stops the gateway with exit code 2, naming the variable.
func TestTLSConfigErrors(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certA, keyA := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	certB, keyB := filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key")
	ca.issue(t, 1, certA, keyA)
	ca.issue(t, 2, certB, keyB)
	for _, c := range []struct {
		name, cert, key, wantVar string
	}{
		{"cert only", certA, "", "A1_TLS_KEY_FILE"},
		{"key only", "", keyA, "A1_TLS_CERT_FILE"},
		{"missing file", filepath.Join(dir, "absent.crt"), keyA, "A1_TLS_CERT_FILE"},
		{"mismatched pair", certA, keyB, "A1_TLS_CERT_FILE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := baseEnv(t)
			env["A1_TLS_CERT_FILE"], env["A1_TLS_KEY_FILE"] = c.cert, c.key
			g := tryStart(t, env)
			select {
			case <-g.done:
			case <-time.After(10 * time.Second):
				t.Fatal("gateway did not exit")
			}
			if code := g.cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			out := g.stderr.String()
			if !strings.Contains(out, "a1: error: "+c.wantVar) || !strings.Contains(out, "a1: hint: ") {
				t.Errorf("stderr does not name %s with a hint: %s", c.wantVar, out)
			}
			key, _ := os.ReadFile(keyB)
			if strings.Contains(out, string(key[40:80])) {
				t.Errorf("the private key appears in the error: %s", out)
			}
		})
	}
}
