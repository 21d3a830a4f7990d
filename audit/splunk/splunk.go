// Package splunk is an audit sink for the Splunk HTTP Event Collector
// (HEC): POST <url>/services/collector/event with the header
// "Authorization: Splunk <token>" and a batch of concatenated JSON event
// objects {"time","host","source","sourcetype","index","event"}, where
// event is the audit event exactly as in the NDJSON line.
//
// TLS certificates are verified by default; a private CA bundle can be
// given, and verification is disabled only by explicit opt-in.
package splunk

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/internal/httpx"
)

// Defaults and limits.
const (
	EventPath         = "/services/collector/event"
	DefaultSource     = "a1"
	DefaultSourcetype = "_json"
	// MaxRequestBytes bounds one HEC request; Splunk's max_content_length
	// may be larger, this is a conservative default that fits Splunk Cloud.
	MaxRequestBytes = 1_000_000
	// MaxCABytes bounds the CA bundle file.
	MaxCABytes = 1 << 20
)

// Config configures the HEC sink.
type Config struct {
	URL                string // base URL (https://splunk.example:8088) or the full event endpoint
	Token              string // required; sent only in the Authorization header
	Index              string // optional; the token's default index otherwise
	Source             string // default "a1"
	Sourcetype         string // default "_json"
	Host               string // default os.Hostname()
	Channel            string // X-Splunk-Request-Channel (needed when indexer acknowledgement is on)
	CAFile             string // PEM bundle trusted instead of the system roots
	InsecureSkipVerify bool   // disables TLS verification; never the default
	Client             *http.Client
}

// Endpoint returns the HEC event endpoint for the configuration.
func (c Config) Endpoint() (string, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("splunk: invalid HEC URL")
	}
	if u.User != nil {
		return "", errors.New("splunk: HEC URL must not carry credentials")
	}
	p := strings.TrimSuffix(u.Path, "/")
	switch {
	case strings.HasSuffix(p, EventPath):
	case strings.HasSuffix(p, "/services/collector"):
		p += "/event"
	default:
		p += EventPath
	}
	u.Path = p
	return u.String(), nil
}

// New returns the asynchronous HEC sink.
func New(cfg Config, opts audit.AsyncOptions) (*audit.Async, error) {
	s, err := newSender(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "splunk"
	}
	if opts.MaxBatchBytes <= 0 || opts.MaxBatchBytes > MaxRequestBytes {
		opts.MaxBatchBytes = MaxRequestBytes
	}
	return audit.NewAsync(s, opts), nil
}

type sender struct {
	cfg      Config
	endpoint string
	client   *http.Client
	now      func() time.Time
}

func newSender(cfg Config) (*sender, error) {
	if cfg.Token == "" {
		return nil, errors.New("splunk: HEC token required")
	}
	ep, err := cfg.Endpoint()
	if err != nil {
		return nil, err
	}
	if cfg.Source == "" {
		cfg.Source = DefaultSource
	}
	if cfg.Sourcetype == "" {
		cfg.Sourcetype = DefaultSourcetype
	}
	if cfg.Host == "" {
		cfg.Host, _ = os.Hostname()
	}
	s := &sender{cfg: cfg, endpoint: ep, client: cfg.Client, now: time.Now}
	if s.client == nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // explicit opt-in only
		if cfg.CAFile != "" {
			pool, err := loadCA(cfg.CAFile)
			if err != nil {
				return nil, err
			}
			tc.RootCAs = pool
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		s.client = &http.Client{Transport: tr, Timeout: audit.DefaultSendTimeout}
	}
	return s, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("splunk: CA bundle: %w", err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, MaxCABytes+1)); err != nil {
		return nil, fmt.Errorf("splunk: CA bundle: %w", err)
	}
	if b.Len() > MaxCABytes {
		return nil, fmt.Errorf("splunk: CA bundle larger than %d bytes", MaxCABytes)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.Bytes()) {
		return nil, errors.New("splunk: CA bundle holds no PEM certificate")
	}
	return pool, nil
}

// hecEvent is one HEC event object. Field order is fixed.
type hecEvent struct {
	Time       json.Number     `json:"time"`
	Host       string          `json:"host,omitempty"`
	Source     string          `json:"source,omitempty"`
	Sourcetype string          `json:"sourcetype,omitempty"`
	Index      string          `json:"index,omitempty"`
	Event      json.RawMessage `json:"event"`
}

// Encode renders one HEC event (called off the hot path).
func (s *sender) Encode(r audit.Record) ([]byte, error) {
	t, err := time.Parse(time.RFC3339Nano, r.Event.Time)
	if err != nil {
		return nil, fmt.Errorf("splunk: event time: %w", err)
	}
	return json.Marshal(hecEvent{
		Time: json.Number(fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)),
		Host: s.cfg.Host, Source: s.cfg.Source, Sourcetype: s.cfg.Sourcetype,
		Index: s.cfg.Index, Event: r.Line,
	})
}

// hecResponse is HEC's answer body.
type hecResponse struct {
	Text string `json:"text"`
	Code int    `json:"code"`
}

// Send posts one batch of concatenated event objects.
func (s *sender) Send(ctx context.Context, batch []audit.Entry) error {
	var body bytes.Buffer
	for i, e := range batch {
		if i > 0 {
			body.WriteByte('\n')
		}
		body.Write(e.Data)
	}
	hdr := http.Header{
		"Authorization": {"Splunk " + s.cfg.Token},
		"Content-Type":  {"application/json"},
		"User-Agent":    {"a1-audit"},
	}
	if s.cfg.Channel != "" {
		hdr.Set("X-Splunk-Request-Channel", s.cfg.Channel)
	}
	status, rh, rb, err := httpx.Post(ctx, s.client, s.endpoint, hdr, body.Bytes())
	if err != nil {
		return fmt.Errorf("splunk: %w", err)
	}
	detail := httpx.Snippet(rb)
	var hr hecResponse
	if json.Unmarshal(rb, &hr) == nil && hr.Text != "" {
		detail = fmt.Sprintf("HEC code %d: %s", hr.Code, httpx.Snippet([]byte(hr.Text)))
	}
	if err := httpx.Classify(status, rh, detail, s.now()); err != nil {
		return fmt.Errorf("splunk: %w", err)
	}
	return nil
}
