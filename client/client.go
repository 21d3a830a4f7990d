package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/api"
)

// Limits and defaults.
const (
	// DefaultTimeout bounds one request (connect, send, answer) unless
	// WithTimeout or WithHTTPClient says otherwise.
	DefaultTimeout = 10 * time.Second
	// MaxResponseBytes bounds a response body the client reads.
	MaxResponseBytes = 4 << 20
	// MaxErrorMessageBytes bounds the text kept from a non-JSON error body.
	MaxErrorMessageBytes = 1024
	// UserAgent is sent with every request unless WithUserAgent changes it.
	UserAgent = "a1-go-client/1"
)

// Client is a gateway client. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	hc         *http.Client
	adminToken string
	headers    http.Header
	userAgent  string
	now        func() time.Time
	receiptKey *a1.PublicKey // WithReceiptKey

	mu  sync.Mutex
	cfg *Configuration // cached discovery document
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient uses hc: its Timeout (instead of DefaultTimeout), Transport
// and CheckRedirect apply. The default client follows no redirect (an a1
// gateway never redirects; see New).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout bounds each request.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		hc := *c.hc
		hc.Timeout = d
		c.hc = &hc
	}
}

// WithAdminToken sends Authorization: Bearer token on admin routes (issue,
// revoke, roots). It is never sent on other routes.
func WithAdminToken(token string) Option { return func(c *Client) { c.adminToken = token } }

// WithHeader adds a header to every request.
func WithHeader(key, value string) Option { return func(c *Client) { c.headers.Add(key, value) } }

// WithUserAgent replaces the User-Agent.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithClock sets the clock used for proof and revocation timestamps.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// New returns a client for the gateway at baseURL (http or https).
//
// Unless WithHTTPClient says otherwise, requests go through
// http.DefaultTransport (certificates verified, TLS 1.2 or later) and a
// redirect is not followed but returned as an *Error with its 3xx status:
// an a1 gateway never redirects, and following one would re-send the body
// (a chain, a proof) and, to another port or scheme of the same host, even
// the admin token, possibly over plain HTTP.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("client: gateway URL %s: %w", shownURL(baseURL, nil), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: gateway URL %s: want http(s)://host[:port]", shownURL(baseURL, u))
	}
	c := &Client{base: u, hc: &http.Client{Timeout: DefaultTimeout, CheckRedirect: noRedirect}, headers: http.Header{},
		userAgent: UserAgent, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// noRedirect makes an http.Client return a redirect as the answer.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// shownURL quotes raw for an error message, hiding a password it may carry.
func shownURL(raw string, u *url.URL) string {
	if !strings.Contains(raw, "@") {
		return strconv.Quote(raw)
	}
	if u != nil && u.Opaque == "" {
		return strconv.Quote(u.Redacted())
	}
	return "(not shown: it holds credentials)"
}

// ErrUnexpectedAnswer is wrapped by the error of a call whose 2xx answer
// does not affirm it: an authorization not "authorized": true, a token not
// "valid": true, a revocation or status of another fingerprint, a batch of
// another size. An a1 gateway never answers so (it denies with an error
// status); the URL probably names another service.
var ErrUnexpectedAnswer = errors.New("the answer is not an a1 gateway's (check the gateway URL)")

// unexpected returns an error wrapping ErrUnexpectedAnswer.
func unexpected(method, path, what string) error {
	return fmt.Errorf("client: %s %s: %s: %w", method, path, what, ErrUnexpectedAnswer)
}

// Error is a gateway's error answer.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Message is the gateway's "error" text (or the body, when not JSON).
	Message string
	// Code is the error_code ("" when the gateway sent none).
	Code string
	// Hop is the index of the cert at fault, when HasHop.
	Hop    int
	HasHop bool
	// Hint is the gateway's suggestion of what to do.
	Hint string
	// RetryAfter is the Retry-After delay of a 429 or 503, if any.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is matches the a1 error kind with the same error_code, so
// errors.Is(err, a1.ErrRevoked) works on gateway answers.
func (e *Error) Is(target error) bool {
	var k *a1.Kind
	if errors.As(target, &k) {
		return e.Code != "" && k.Code() == e.Code
	}
	return false
}

// errorBody is the gateway's JSON error shape.
type errorBody struct {
	Error     string `json:"error"`
	ErrorCode string `json:"error_code"`
	Code      string `json:"code"`
	Hop       *int   `json:"hop"`
	Hint      string `json:"hint"`
}

func parseError(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && (eb.Error != "" || eb.ErrorCode != "" || eb.Code != "") {
		e.Message, e.Code, e.Hint = eb.Error, eb.ErrorCode, eb.Hint
		if e.Code == "" {
			e.Code = eb.Code
		}
		if eb.Hop != nil {
			e.Hop, e.HasHop = *eb.Hop, true
		}
	} else {
		msg := oneLine(string(body))
		if len(msg) > MaxErrorMessageBytes {
			msg = strings.ToValidUTF8(msg[:MaxErrorMessageBytes], "") + "…"
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		e.Message = msg
	}
	e.RetryAfter = retryAfter(resp.Header)
	return e
}

// retryAfter reads a Retry-After header in either of its forms (RFC 9110
// §10.2.3): delay-seconds, or an HTTP date, taken relative to the answer's
// own Date header when it has one (so the two clocks need not agree).
func retryAfter(h http.Header) time.Duration {
	ra := strings.TrimSpace(h.Get("Retry-After"))
	if ra == "" {
		return 0
	}
	if s, err := strconv.Atoi(ra); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	at, err := http.ParseTime(ra)
	if err != nil {
		return 0
	}
	base := time.Now()
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		base = d
	}
	return max(at.Sub(base), 0)
}

// oneLine folds a plain-text (often HTML) error body into one line: runs of
// white space become one space, other control characters (a terminal
// escape) are dropped.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// do sends a request and decodes a 2xx JSON answer into out (when non-nil).
// RequestIDHeader is the correlation header the gateway echoes and records
// in the audit event of the request.
const RequestIDHeader = api.RequestIDHeader

type requestIDKey struct{}

// ContextWithRequestID returns a context whose calls send id as the
// X-Request-Id header, so a caller's trace or job id appears in the
// gateway's audit events (an authorize body's RequestID takes precedence
// there). The gateway ignores an id that is not 1 to 128 visible ASCII
// characters.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func (c *Client) do(ctx context.Context, method, path string, admin bool, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	for k, vs := range c.headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin && c.adminToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.adminToken)
	}
	if id, _ := ctx.Value(requestIDKey{}).(string); id != "" {
		req.Header.Set(RequestIDHeader, id)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("client: %s %s: reading response: %w", method, path, err)
	}
	if len(b) > MaxResponseBytes {
		return fmt.Errorf("client: %s %s: response larger than %d bytes", method, path, MaxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseError(resp, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("client: %s %s: decoding response: %w", method, path, err)
	}
	return nil
}

func (c *Client) unixNow() uint64 { return uint64(max(c.now().Unix(), 0)) }
