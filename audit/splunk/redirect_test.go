package splunk

import (
	"context"
	"testing"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/internal/sinktest"
)

// TestRedirectsAreNotFollowed: a redirecting intake gets neither the
// Authorization header elsewhere nor a batch counted as delivered.
func TestRedirectsAreNotFollowed(t *testing.T) {
	sinktest.CheckRedirectsNotFollowed(t, "Authorization", func(url string) error {
		s, err := newSender(Config{Token: "t0k", URL: url})
		if err != nil {
			t.Fatal(err)
		}
		return s.Send(context.Background(), []audit.Entry{{Data: []byte(`{"message":"x"}`)}})
	})
}
