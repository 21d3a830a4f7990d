package kms

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLimitedBodies(t *testing.T) {
	for _, size := range []int{0, 10, MaxResponseSize, MaxResponseSize + 1, 8 * MaxResponseSize} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(w, io.LimitReader(strings.NewReader(strings.Repeat("x", size)), int64(size)))
		}))
		for name, do := range map[string]func(*http.Request) (*http.Response, error){
			"Doer":         LimitDoer(srv.Client()).Do,
			"RoundTripper": (&http.Client{Transport: LimitRoundTripper(nil)}).Do,
		} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			resp, err := do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if size > MaxResponseSize {
				if !errors.Is(err, ErrResponseTooLarge) || len(b) > MaxResponseSize {
					t.Errorf("%s, %d bytes: read %d, %v; want ErrResponseTooLarge", name, size, len(b), err)
				}
			} else if err != nil || len(b) != size {
				t.Errorf("%s, %d bytes: read %d, %v", name, size, len(b), err)
			}
		}
		srv.Close()
	}
}
