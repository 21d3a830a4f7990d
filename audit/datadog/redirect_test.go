package datadog

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/a1-go/a1/audit"
)

// An intake (or a proxy in front of it) that answers with a redirect must
// not get the batch re-sent elsewhere with the API key (307/308 replay the
// body and every custom header, DD-API-KEY included, to any host), nor
// count it as delivered when the redirect turns the POST into a GET that
// some page answers 200 (301/302/303).
func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			var leaked atomic.Int64
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("DD-API-KEY") != "" {
					leaked.Add(1)
				}
				w.WriteHeader(http.StatusOK)
			}))
			defer elsewhere.Close()
			redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/collect", code)
			}))
			defer redir.Close()
			s, err := newSender(Config{APIKey: "k3y", URL: redir.URL + "/api/v2/logs"})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), []audit.Entry{{Data: []byte(`{"message":"x"}`)}})
			if leaked.Load() != 0 {
				t.Errorf("API key sent to the redirect target")
			}
			if err == nil {
				t.Fatalf("redirect %d counted as delivered", code)
			}
			if !errors.Is(err, audit.ErrPermanent) {
				t.Errorf("redirect %d: %v, want a permanent error", code, err)
			}
		})
	}
}
