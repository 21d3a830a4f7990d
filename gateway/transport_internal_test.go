package gateway

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reviewPair writes a self-signed server certificate (serial) for 127.0.0.1
// and its key (mode keyMode) and returns the certificate pool trusting it.
func reviewPair(t *testing.T, rsaKey bool, serial int64, certFile, keyFile string, keyMode os.FileMode) *x509.CertPool {
	t.Helper()
	var priv crypto.Signer
	var err error
	if rsaKey {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "a1 review"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), keyMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, keyMode); err != nil { // WriteFile keeps an existing file's mode
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

// handshake runs a TLS handshake between the gateway's listener config and
// a client config over an in-memory pipe.
func handshake(t *testing.T, srv, cli *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s := tls.Server(a, srv)
	done := make(chan error, 1)
	go func() { done <- s.Handshake(); a.Close() }()
	c := tls.Client(b, cli)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	err := c.Handshake()
	b.Close()
	<-done
	return c.ConnectionState(), err
}

func newReviewReloader(t *testing.T, rsaKey bool) (*certReloader, *x509.CertPool, string, string, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	pool := reviewPair(t, rsaKey, 1, cf, kf, 0o600)
	var logs bytes.Buffer
	r, err := newCertReloader(cf, kf, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return r, pool, cf, kf, &logs
}

// aeadECDHE are the TLS 1.2 suites the listener may negotiate: forward
// secret key exchange and an AEAD.
var aeadECDHE = map[uint16]bool{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       true,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         true,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       true,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         true,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: true,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   true,
}

// TestTLSHandshakePolicy: TLS 1.3 by default, TLS 1.2 only with
// ECDHE + AEAD suites (no CBC, RSA key exchange or 3DES, even when GODEBUG
// re-enables them process-wide), nothing below 1.2, no HTTP/2 in ALPN,
// and no client certificate request.
func TestTLSHandshakePolicy(t *testing.T) {
	t.Setenv("GODEBUG", "tlsrsakex=1,tls3des=1")
	for _, rsaKey := range []bool{false, true} {
		name := "ecdsa"
		if rsaKey {
			name = "rsa"
		}
		t.Run(name, func(t *testing.T) {
			r, pool, _, _, _ := newReviewReloader(t, rsaKey)
			srv := r.tlsConfig()
			base := func() *tls.Config { return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"} }

			// Default client: TLS 1.3, no ALPN protocol but http/1.1.
			cli := base()
			asked := false
			cli.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				asked = true
				return &tls.Certificate{}, nil
			}
			cli.NextProtos = []string{"h2", "http/1.1"}
			st, err := handshake(t, srv, cli)
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != tls.VersionTLS13 {
				t.Errorf("default client negotiated %s, want TLS 1.3", tls.VersionName(st.Version))
			}
			if st.NegotiatedProtocol != "http/1.1" {
				t.Errorf("ALPN %q, want http/1.1 (no h2)", st.NegotiatedProtocol)
			}
			if asked {
				t.Error("the server requested a client certificate")
			}
			// h2 only: no ALPN agreement (the server does not speak h2).
			cli = base()
			cli.NextProtos = []string{"h2"}
			if st, err := handshake(t, srv, cli); err == nil && st.NegotiatedProtocol == "h2" {
				t.Error("h2 negotiated")
			}

			// TLS 1.2 with Go's client defaults: an ECDHE AEAD suite.
			cli = base()
			cli.MaxVersion = tls.VersionTLS12
			st, err = handshake(t, srv, cli)
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != tls.VersionTLS12 || !aeadECDHE[st.CipherSuite] {
				t.Errorf("TLS 1.2 negotiated %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
			}
			// Every other TLS 1.2 suite, offered alone, is refused.
			for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
				if aeadECDHE[cs.ID] || !supports12(cs) {
					continue
				}
				cli := base()
				cli.MaxVersion = tls.VersionTLS12
				cli.CipherSuites = []uint16{cs.ID}
				if st, err := handshake(t, srv, cli); err == nil {
					t.Errorf("TLS 1.2 handshake with %s succeeded", tls.CipherSuiteName(st.CipherSuite))
				}
			}
			// Below 1.2: refused.
			for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
				cli := base()
				cli.MinVersion, cli.MaxVersion = v, v
				if _, err := handshake(t, srv, cli); err == nil {
					t.Errorf("%s handshake succeeded", tls.VersionName(v))
				}
			}
		})
	}
}

func supports12(cs *tls.CipherSuite) bool {
	for _, v := range cs.SupportedVersions {
		if v == tls.VersionTLS12 {
			return true
		}
	}
	return false
}

// TestTLSReloadBrokenStates: every broken or half-written state of
// the pair on disk keeps the last good certificate and is logged; the next
// complete pair is picked up.
func TestTLSReloadBrokenStates(t *testing.T) {
	r, _, cf, kf, logs := newReviewReloader(t, false)
	serial := func() int64 {
		c, _ := r.getCertificate(nil)
		return c.Leaf.SerialNumber.Int64()
	}
	good := func() (c, k []byte) {
		c, _ = os.ReadFile(cf)
		k, _ = os.ReadFile(kf)
		return
	}
	dir := t.TempDir()
	nc, nk := filepath.Join(dir, "n.crt"), filepath.Join(dir, "n.key")
	reviewPair(t, false, 2, nc, nk, 0o600)
	newCert, _ := os.ReadFile(nc)
	newKey, _ := os.ReadFile(nk)
	oldCert, oldKey := good()

	states := []struct {
		name       string
		cert, key  []byte
		removeCert bool
	}{
		{"new cert, old key", newCert, oldKey, false},
		{"old cert, new key", oldCert, newKey, false},
		{"half-written key", newCert, newKey[:len(newKey)/2], false},
		{"half-written cert", newCert[:len(newCert)/2], newKey, false},
		{"empty cert", nil, newKey, false},
		{"cert missing", nil, newKey, true},
	}
	for _, s := range states {
		logs.Reset()
		if err := os.WriteFile(kf, s.key, 0o600); err != nil {
			t.Fatal(err)
		}
		if s.removeCert {
			os.Remove(cf)
		} else if err := os.WriteFile(cf, s.cert, 0o644); err != nil {
			t.Fatal(err)
		}
		r.reload()
		if got := serial(); got != 1 {
			t.Errorf("%s: serving serial %d, want the last good 1", s.name, got)
		}
		if !strings.Contains(logs.String(), "TLS certificate not reloaded") {
			t.Errorf("%s: not logged: %q", s.name, logs.String())
		}
	}
	os.WriteFile(kf, newKey, 0o600)
	os.WriteFile(cf, newCert, 0o644)
	r.reload()
	if got := serial(); got != 2 {
		t.Fatalf("complete new pair: serving serial %d, want 2", got)
	}
}

// TestTLSReloadKeyFileChecks: on reload, a key file that became
// group/world accessible or a FIFO is not read (a FIFO would block the
// reload loop forever, and Close waits for that loop): the last good pair
// stays and the problem is logged.
func TestTLSReloadKeyFileChecks(t *testing.T) {
	r, _, cf, kf, logs := newReviewReloader(t, false)
	dir := t.TempDir()
	nc, nk := filepath.Join(dir, "n.crt"), filepath.Join(dir, "n.key")
	reviewPair(t, false, 2, nc, nk, 0o644)
	newCert, _ := os.ReadFile(nc)
	newKey, _ := os.ReadFile(nk)
	serial := func() int64 { c, _ := r.getCertificate(nil); return c.Leaf.SerialNumber.Int64() }

	// World-readable key.
	os.WriteFile(cf, newCert, 0o644)
	os.WriteFile(kf, newKey, 0o600)
	os.Chmod(kf, 0o644)
	r.reload()
	if serial() != 1 || !strings.Contains(logs.String(), "chmod 600") {
		t.Errorf("world-readable key: serial %d, log %q", serial(), logs.String())
	}
	// FIFO key: the reload returns.
	os.Remove(kf)
	if err := mkfifo(kf); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan struct{})
	go func() { r.reload(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		// Unblock the open so the goroutine ends.
		if f, err := os.OpenFile(kf, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("reload blocked on a FIFO key file")
	}
	if serial() != 1 {
		t.Errorf("FIFO key: serial %d, want 1", serial())
	}
}
