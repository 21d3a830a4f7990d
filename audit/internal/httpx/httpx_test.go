package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1/audit"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		status    int
		retryAft  string
		permanent bool
		after     time.Duration // 0: no RetryAfterError
	}{
		{200, "", false, 0},
		{202, "", false, 0},
		{429, "3", false, 3 * time.Second},
		{429, "", false, 0},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), false, 90 * time.Second},
		{429, "999999", false, audit.MaxRetryAfter},
		{429, "-1", false, 0},
		{500, "", false, 0},
		{502, "", false, 0},
		{408, "", false, 0},
		{400, "", true, 0},
		{401, "", true, 0},
		{403, "", true, 0},
		{413, "", true, 0},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.retryAft != "" {
			h.Set("Retry-After", tc.retryAft)
		}
		err := Classify(tc.status, h, "x", now)
		if tc.status < 300 {
			if err != nil {
				t.Errorf("%d: %v", tc.status, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%d: no error", tc.status)
			continue
		}
		if errors.Is(err, audit.ErrPermanent) != tc.permanent {
			t.Errorf("%d: permanent = %v", tc.status, !tc.permanent)
		}
		var ra *audit.RetryAfterError
		if got := errors.As(err, &ra); got != (tc.after > 0) || (got && ra.After != tc.after) {
			t.Errorf("%d %q: retry-after %v", tc.status, tc.retryAft, ra)
		}
	}
}

// A transport error must not repeat the request URL: its query may carry a
// credential (Datadog accepts dd-api-key there), its userinfo a password.
func TestPostErrorOmitsURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, _, _, err = Post(context.Background(), &http.Client{}, "http://u:pw-SECRET@"+addr+"/api/v2/logs?dd-api-key=SECRET", nil, []byte("{}"))
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("credential in error: %v", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error should name the host: %v", err)
	}
}

func TestClassifyRedirectIsPermanent(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		if err := Classify(code, http.Header{}, "", time.Now()); !errors.Is(err, audit.ErrPermanent) {
			t.Errorf("%d: %v, want permanent", code, err)
		}
	}
}
