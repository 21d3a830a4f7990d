package datadog

import (
	"context"
	"testing"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/internal/sinktest"
)

// TestRedirectsAreNotFollowed: a redirecting intake gets neither the
// DD-API-KEY header elsewhere nor a batch counted as delivered.
func TestRedirectsAreNotFollowed(t *testing.T) {
	sinktest.CheckRedirectsNotFollowed(t, "DD-API-KEY", func(url string) error {
		s, err := newSender(Config{APIKey: "k3y", URL: url + "/api/v2/logs"})
		if err != nil {
			t.Fatal(err)
		}
		return s.Send(context.Background(), []audit.Entry{{Data: []byte(`{"message":"x"}`)}})
	})
}
