package awskms_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/a1-go/a1/signer"
	"github.com/a1-go/a1/signer/awskms"
	"github.com/a1-go/a1/signer/awskms/awskmstest"
)

// FuzzParseURI: ParseURI never panics, fails only with ErrInvalidURI, and
// accepts only non-empty values and a plain http(s) endpoint.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		awskmstest.ARN, "alias/a1?region=us-east-1&profile=prod", "k?endpoint=https%3A%2F%2Fkms.example",
		"k?region=a&region=b", "k?region=%zz", "arn:aws:s3:::b?region=x", "k?endpoint=" + url.QueryEscape("http://u:p@h/?q#f"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		r, err := awskms.ParseURI(rest)
		if err != nil {
			if !errors.Is(err, signer.ErrInvalidURI) {
				t.Fatalf("error %v is not ErrInvalidURI", err)
			}
			return
		}
		if r.KeyID == "" || len(r.KeyID) > awskms.MaxKeyIDLength || strings.Contains(r.KeyID, "?") {
			t.Fatalf("key id %q", r.KeyID)
		}
		if strings.HasPrefix(r.KeyID, "arn:") && r.Region == "" {
			t.Fatalf("ARN %q without a region", r.KeyID)
		}
		if r.Endpoint != "" {
			u, err := url.Parse(r.Endpoint)
			if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
				t.Fatalf("endpoint %q", r.Endpoint)
			}
		}
	})
}
