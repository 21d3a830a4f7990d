package kms

import (
	"fmt"
	"io"
	"net/http"
)

// ErrResponseTooLarge: a key service answered with a body larger than
// MaxResponseSize. It is not retried.
var ErrResponseTooLarge = fmt.Errorf("signer: key service response larger than %d bytes", MaxResponseSize)

// Doer is the shape of the HTTP clients the AWS and Azure SDKs accept
// (aws.HTTPClient, policy.Transporter); *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// LimitDoer returns a Doer whose response bodies fail with
// ErrResponseTooLarge past MaxResponseSize bytes, so that a key service (or
// anything answering in its place) cannot make the SDK buffer an unbounded
// body until the deadline.
func LimitDoer(d Doer) Doer { return limitDoer{d} }

type limitDoer struct{ d Doer }

func (l limitDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := l.d.Do(req)
	limitBody(resp)
	return resp, err
}

// LimitRoundTripper is LimitDoer for an http.RoundTripper (nil means
// http.DefaultTransport).
func LimitRoundTripper(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return limitRoundTripper{rt}
}

type limitRoundTripper struct{ rt http.RoundTripper }

func (l limitRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	limitBody(resp)
	return resp, err
}

func limitBody(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		resp.Body = &limitedBody{rc: resp.Body, left: MaxResponseSize}
	}
}

// limitedBody reads at most left bytes; one byte more is ErrResponseTooLarge.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrResponseTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		b.left = -1
		return 0, ErrResponseTooLarge
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
