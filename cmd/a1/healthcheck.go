package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func init() {
	register(&command{name: "healthcheck", run: cmdHealthcheck, usage: `Usage: a1 healthcheck [--url URL] [--path PATH] [--timeout DUR]

Probes a gateway and exits 0 when it answers 200: the container health check
of the distroless image, which has no shell or curl. Without --url it probes
the gateway of this container: 127.0.0.1 (or ::1) on the port of A1_LISTEN
(default :8080), over HTTPS when A1_TLS_CERT_FILE is set, where it accepts
only the certificate in that file (so it fails for up to 5 s after a
rotation, until the gateway serves the new one).

  --url URL      the gateway's base URL instead (http or https, system roots)
  --path PATH    /livez (default: the process answers), /readyz (keys loaded,
                 schema migrated, not draining) or /healthz (also pings storage)
  --timeout DUR  default 3s

Exit status: 0 healthy, 1 unhealthy or unreachable, 2 usage error.

Example (Dockerfile):
  HEALTHCHECK CMD ["/usr/local/bin/a1", "healthcheck"]
`})
}

// healthPaths are the probes a health check may ask.
var healthPaths = map[string]bool{"/livez": true, "/readyz": true, "/healthz": true, "/health": true}

func cmdHealthcheck(e *env, args []string) error {
	fs := flagSet("healthcheck")
	var url, path string
	var timeout time.Duration
	fs.StringVar(&url, "url", "", "")
	fs.StringVar(&path, "path", "/livez", "")
	fs.DurationVar(&timeout, "timeout", 3*time.Second, "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if !healthPaths[path] {
		return usagef("use /livez, /readyz or /healthz", "healthcheck: unknown --path %q", path)
	}
	if timeout <= 0 || timeout > time.Minute {
		return usagef("use a duration between 1ms and 1m", "healthcheck: --timeout out of range")
	}
	hc := &http.Client{Timeout: timeout}
	if url == "" {
		var err error
		if url, hc.Transport, err = localGateway(e.getenv); err != nil {
			return err
		}
	} else if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return usagef("--url is http(s)://host[:port]", "healthcheck: invalid --url")
	}
	target := strings.TrimSuffix(url, "/") + path
	resp, err := hc.Get(target)
	if err != nil {
		return failErr(fmt.Errorf("healthcheck: %w", err), "is the gateway running on that address?")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return failErr(fmt.Errorf("healthcheck: %s answered %d: %s", path, resp.StatusCode, bytes.TrimSpace(body)))
	}
	fmt.Fprintf(e.stdout, "healthy: %s %d\n", path, resp.StatusCode)
	return nil
}

// localGateway is the URL (and, with TLS, the transport) of the gateway
// this container runs, from the same variables the gateway reads.
func localGateway(getenv func(string) string) (string, http.RoundTripper, error) {
	listen := getenv("A1_LISTEN")
	if listen == "" {
		listen = ":8080"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return "", nil, usagef("set A1_LISTEN like :8080", "healthcheck: A1_LISTEN %q is not host:port", listen)
	}
	switch ip := net.ParseIP(host); {
	case host == "" || (ip != nil && ip.IsUnspecified() && ip.To4() != nil):
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	addr := net.JoinHostPort(host, port)
	certFile := getenv("A1_TLS_CERT_FILE")
	if certFile == "" {
		return "http://" + addr, nil, nil
	}
	want, err := firstCertificate(certFile)
	if err != nil {
		return "", nil, failErr(fmt.Errorf("healthcheck: A1_TLS_CERT_FILE: %w", err))
	}
	// The gateway's own certificate need not name 127.0.0.1, so the chain
	// and name are not checked; the presented leaf must be exactly the one
	// in A1_TLS_CERT_FILE instead.
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], want) {
				return errors.New("the gateway presented a certificate other than A1_TLS_CERT_FILE's")
			}
			return nil
		},
	}}
	return "https://" + addr, tr, nil
}

// firstCertificate returns the DER of the first certificate in a PEM file.
func firstCertificate(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM certificate")
		}
		if blk.Type == "CERTIFICATE" {
			return blk.Bytes, nil
		}
	}
}
