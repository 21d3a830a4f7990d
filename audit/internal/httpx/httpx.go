// Package httpx holds what the HTTP audit sinks share: one POST with a
// bounded response read, and the mapping of HTTP answers onto audit's
// retry classes (429 and 5xx retried, Retry-After honoured, other 4xx
// permanent).
package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/a1-go/a1/audit"
)

// MaxResponseBytes bounds how much of a response body is read.
const MaxResponseBytes = 64 << 10

// Post sends body and returns the status and the (bounded) response body.
// Transport errors are returned as retryable errors.
func Post(ctx context.Context, c *http.Client, target string, hdr http.Header, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // never repeat the URL (see below)
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("build request: %w: %w", err, audit.ErrPermanent)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := noRedirects(c).Do(req)
	if err != nil {
		// *url.Error repeats the URL, whose query or userinfo may hold a
		// credential: name the host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("post to %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return resp.StatusCode, resp.Header, rb, fmt.Errorf("read response: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes)) // allow connection reuse
	return resp.StatusCode, resp.Header, rb, nil
}

// noRedirects returns a copy of c that does not follow redirects. Following
// one would re-send the batch, with every custom header (DD-API-KEY), to
// wherever the answer points (307, 308), or turn the POST into a GET whose
// 200 would count the batch as delivered (301, 302, 303).
func noRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// Classify maps a non-2xx status onto audit's retry classes; detail is a
// short server message (never credentials). It returns nil for 2xx.
func Classify(status int, hdr http.Header, detail string, now time.Time) error {
	if status >= 200 && status < 300 {
		return nil
	}
	base := fmt.Errorf("HTTP %d: %s", status, detail)
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusRequestTimeout:
		if d, ok := RetryAfter(hdr.Get("Retry-After"), now); ok {
			return &audit.RetryAfterError{After: d, Err: base}
		}
		return base
	case status >= 500:
		return base
	case status >= 300 && status < 400:
		return fmt.Errorf("HTTP %d: redirects are not followed (configure the final URL): %w", status, audit.ErrPermanent)
	default:
		return fmt.Errorf("%w: %w", base, audit.ErrPermanent)
	}
}

// RetryAfter parses a Retry-After value (delay-seconds or an HTTP date).
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return min(time.Duration(min(s, int64(audit.MaxRetryAfter/time.Second)))*time.Second, audit.MaxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return min(d, audit.MaxRetryAfter), true
	}
	return 0, false
}

// Snippet returns a printable prefix of a response body for error messages.
func Snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		b = b[:n]
	}
	return strconv.Quote(string(b))
}
