package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// Bounds of the TLS listener.
const (
	// tlsReloadCheck is how often the certificate files are re-read to
	// pick up a rotated pair.
	tlsReloadCheck = 5 * time.Second
	// maxPEMFileLen bounds each of the two PEM files.
	maxPEMFileLen = 1 << 20
)

// readPEMFile reads a PEM file of at most maxPEMFileLen bytes. It must be
// a regular file (opening a FIFO would block the start, or the reload loop
// and with it the shutdown). A private key (key true) gets the signing
// key file's rule (signer/local.go): no access for others, no write for
// the group.
func readPEMFile(path string, key bool) ([]byte, error) {
	pre, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !pre.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || !os.SameFile(pre, st) {
		return nil, fmt.Errorf("%s is not a regular file (or was replaced while opening)", path)
	}
	if key && runtime.GOOS != "windows" && insecureKeyMode(st.Mode()) {
		return nil, fmt.Errorf("%s has mode %v; chmod 600 (or 640) it", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFileLen+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFileLen {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxPEMFileLen)
	}
	return b, nil
}

// insecureKeyMode: any permission for others, or write for the group (the
// signer package's rule for key files).
func insecureKeyMode(m fs.FileMode) bool { return m.Perm()&0o027 != 0 }

type pemPair struct{ cert, key []byte }

// keyFileError is a problem with the private key file itself.
type keyFileError struct{ error }

func (e keyFileError) Unwrap() error { return e.error }

// tlsStartError is the configuration error of a pair that does not load
// at start, naming the variable at fault.
func tlsStartError(err error) error {
	if errors.As(err, new(keyFileError)) {
		return cfgErr("A1_TLS_KEY_FILE", err.Error(), "point A1_TLS_KEY_FILE at a regular file holding the PEM private key, readable by the gateway's user only (chmod 600, or 640)")
	}
	return cfgErr("A1_TLS_CERT_FILE", err.Error(), "point A1_TLS_CERT_FILE and A1_TLS_KEY_FILE at a readable PEM certificate chain and its private key")
}

// readPair reads a PEM certificate chain and its private key.
func readPair(certFile, keyFile string) (pemPair, error) {
	c, err := readPEMFile(certFile, false)
	if err != nil {
		return pemPair{}, fmt.Errorf("reading the certificate: %w", err)
	}
	k, err := readPEMFile(keyFile, true)
	if err != nil {
		// The error names the path, never the key's contents.
		return pemPair{}, keyFileError{fmt.Errorf("reading the private key: %w", err)}
	}
	return pemPair{c, k}, nil
}

func (p pemPair) parse() (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(p.cert, p.key)
	if err != nil {
		// crypto/tls's messages describe the PEM blocks, not the key bytes.
		return nil, fmt.Errorf("certificate and key do not form a usable pair: %w", err)
	}
	return &cert, nil
}

// certReloader hands the TLS stack the current certificate. A background
// loop re-reads the two files every tlsReloadCheck, so a pair rotated on
// disk (cert-manager, a Vault agent, a mounted Secret's symlink swap) is
// served without a restart; a pair that fails to load is logged and the
// last good one stays in use. Handshakes never touch the filesystem.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	cur    atomic.Pointer[tls.Certificate]
	loaded pemPair // the files behind cur; only the loop touches it
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	p, err := readPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := p.parse()
	if err != nil {
		return nil, err
	}
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, loaded: p}
	r.cur.Store(cert)
	return r, nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// loop re-reads the pair every tlsReloadCheck until ctx ends.
func (r *certReloader) loop(ctx context.Context) { runEvery(ctx, tlsReloadCheck, r.reload) }

func (r *certReloader) reload() {
	p, err := readPair(r.certFile, r.keyFile)
	if err != nil {
		r.log.Warn("TLS certificate not reloaded: keeping the previous one", "err", err)
		return
	}
	if bytes.Equal(p.cert, r.loaded.cert) && bytes.Equal(p.key, r.loaded.key) {
		return
	}
	cert, err := p.parse()
	if err != nil {
		// Mid-rotation (certificate written, key not yet): try again later.
		r.log.Warn("TLS certificate not reloaded: keeping the previous one", "err", err)
		return
	}
	r.cur.Store(cert)
	r.loaded = p
	r.log.Info("TLS certificate reloaded", "cert_file", r.certFile)
}

// tlsSuites12 are the TLS 1.2 cipher suites: ECDHE key exchange with an
// AEAD only. Go's defaults also offer the CBC-SHA1 suites, and GODEBUG
// (tlsrsakex, tls3des) can re-enable RSA key exchange and 3DES; listing
// the suites keeps both out. TLS 1.3's suites are not configurable (all
// AEAD).
var tlsSuites12 = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsConfig is the listener's configuration: TLS 1.2 or newer (1.3 when
// the client has it), ECDHE+AEAD suites for 1.2, HTTP/1.1 only, Go's
// default curves, no client certificate request.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   tlsSuites12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: r.getCertificate,
	}
}
