package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
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

// readPEMFile reads a PEM file of at most maxPEMFileLen bytes.
func readPEMFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFileLen+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFileLen {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxPEMFileLen)
	}
	return b, nil
}

type pemPair struct{ cert, key []byte }

// readPair reads a PEM certificate chain and its private key.
func readPair(certFile, keyFile string) (pemPair, error) {
	c, err := readPEMFile(certFile)
	if err != nil {
		return pemPair{}, fmt.Errorf("reading the certificate: %w", err)
	}
	k, err := readPEMFile(keyFile)
	if err != nil {
		// The error names the path, never the key's contents.
		return pemPair{}, fmt.Errorf("reading the private key: %w", err)
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

// tlsConfig is the listener's configuration: TLS 1.2 or newer, HTTP/1.1,
// Go's default cipher suites and curves.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: r.getCertificate,
	}
}
