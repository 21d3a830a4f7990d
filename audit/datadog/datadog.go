// Package datadog is an audit sink for the Datadog Logs HTTP intake (v2):
// POST https://http-intake.logs.<site>/api/v2/logs with a JSON array of log
// entries, the API key in the DD-API-KEY header, gzip-compressed by
// default.
//
// Each entry carries ddsource, ddtags, hostname, service, status, date and
// message; message is the exact NDJSON line of the event, so the hash chain
// can be re-verified from exported logs. Batches respect the intake's
// limits: at most 1000 entries, 5 MB uncompressed, 1 MB per entry.
package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/internal/httpx"
)

// Intake limits (Datadog Logs API v2, per request).
const (
	MaxEntries      = 1000
	MaxPayloadBytes = 5_000_000 // uncompressed
	MaxEntryBytes   = 1_000_000
	DefaultSite     = "datadoghq.com"
	DefaultService  = "a1"
	DefaultSource   = "a1"
	intakePath      = "/api/v2/logs"
)

var siteRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)

// Config configures the Datadog sink.
type Config struct {
	APIKey   string   // required; sent only in the DD-API-KEY header
	Site     string   // datadoghq.com (default), datadoghq.eu, us3.datadoghq.com, us5.datadoghq.com, ap1.datadoghq.com, ddog-gov.com …
	URL      string   // full intake URL; overrides Site (proxies, tests)
	Service  string   // default "a1"
	Source   string   // ddsource, default "a1"
	Hostname string   // default os.Hostname()
	Tags     []string // ddtags, e.g. env:prod
	NoGzip   bool     // send uncompressed
	Client   *http.Client
}

// Endpoint returns the intake URL for the configuration.
func (c Config) Endpoint() (string, error) {
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", fmt.Errorf("datadog: invalid intake URL")
		}
		return c.URL, nil
	}
	site := c.Site
	if site == "" {
		site = DefaultSite
	}
	site = strings.TrimPrefix(strings.ToLower(site), "app.")
	if !siteRE.MatchString(site) {
		return "", fmt.Errorf("datadog: invalid site %q", site)
	}
	return "https://http-intake.logs." + site + intakePath, nil
}

// New returns the asynchronous Datadog sink.
func New(cfg Config, opts audit.AsyncOptions) (*audit.Async, error) {
	s, err := newSender(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "datadog"
	}
	// Zero values take audit's defaults, which are below the intake limits;
	// larger settings are clamped to them. Async counts one separator byte
	// per entry; "[" and "]" add two.
	opts.MaxBatch = min(opts.MaxBatch, MaxEntries)
	opts.MaxBatchBytes = min(opts.MaxBatchBytes, MaxPayloadBytes-2)
	opts.MaxEntryBytes = min(opts.MaxEntryBytes, MaxEntryBytes)
	return audit.NewAsync(s, opts), nil
}

type sender struct {
	cfg      Config
	endpoint string
	tags     string
	client   *http.Client
	now      func() time.Time
}

func newSender(cfg Config) (*sender, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("datadog: API key required")
	}
	ep, err := cfg.Endpoint()
	if err != nil {
		return nil, err
	}
	if cfg.Service == "" {
		cfg.Service = DefaultService
	}
	if cfg.Source == "" {
		cfg.Source = DefaultSource
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	s := &sender{cfg: cfg, endpoint: ep, tags: strings.Join(cfg.Tags, ","), client: cfg.Client, now: time.Now}
	if s.client == nil {
		s.client = &http.Client{Timeout: audit.DefaultSendTimeout}
	}
	return s, nil
}

// entry is one Datadog log. Field order is fixed for stable payloads.
type entry struct {
	DDSource string `json:"ddsource"`
	DDTags   string `json:"ddtags,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Service  string `json:"service"`
	Status   string `json:"status"`
	Date     string `json:"date"`
	Message  string `json:"message"`
}

// Encode renders one entry (called off the hot path).
func (s *sender) Encode(r audit.Record) ([]byte, error) {
	return json.Marshal(entry{
		DDSource: s.cfg.Source, DDTags: s.tags, Hostname: s.cfg.Hostname,
		Service: s.cfg.Service, Status: status(r.Event.Decision),
		Date: r.Event.Time, Message: string(r.Line),
	})
}

func status(decision string) string {
	switch decision {
	case audit.DecisionDeny:
		return "warn"
	case audit.DecisionError:
		return "error"
	default:
		return "info"
	}
}

// Send posts one batch as a JSON array.
func (s *sender) Send(ctx context.Context, batch []audit.Entry) error {
	var raw bytes.Buffer
	raw.WriteByte('[')
	for i, e := range batch {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.Write(e.Data)
	}
	raw.WriteByte(']')
	hdr := http.Header{
		"Dd-Api-Key":   {s.cfg.APIKey},
		"Content-Type": {"application/json"},
		"User-Agent":   {"a1-audit"},
	}
	body := raw.Bytes()
	if !s.cfg.NoGzip {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		if _, err := zw.Write(body); err != nil {
			return fmt.Errorf("datadog: gzip: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("datadog: gzip: %w", err)
		}
		body = z.Bytes()
		hdr.Set("Content-Encoding", "gzip")
	}
	status, rh, rb, err := httpx.Post(ctx, s.client, s.endpoint, hdr, body)
	if err != nil {
		return fmt.Errorf("datadog: %w", err)
	}
	if err := httpx.Classify(status, rh, httpx.Snippet(rb), s.now()); err != nil {
		return fmt.Errorf("datadog: %w", err)
	}
	return nil
}
