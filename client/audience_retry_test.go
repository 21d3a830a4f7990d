package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

// proofRejectingGateway answers every POST /v1/authorize with 401
// INVALID_PROOF and the discovery document with discovery(n), n the
// number of discovery requests so far (1-based). It records the proofs'
// audiences.
type proofRejectingGateway struct {
	*httptest.Server
	mu        sync.Mutex
	audiences []string
	discover  int
}

func newProofRejectingGateway(t *testing.T, discovery func(n int) (int, string)) *proofRejectingGateway {
	g := &proofRejectingGateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		g.mu.Lock()
		defer g.mu.Unlock()
		switch r.URL.Path {
		case "/.well-known/a1-configuration":
			g.discover++
			status, body := discovery(g.discover)
			w.WriteHeader(status)
			w.Write([]byte(body))
		case "/v1/authorize":
			var req struct {
				Proof *a1.PoPJSON `json:"proof"`
			}
			if err := decodeBody(r, &req); err != nil || req.Proof == nil {
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"no proof","error_code":"MALFORMED_REQUEST"}`))
				return
			}
			g.audiences = append(g.audiences, req.Proof.Audience)
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"invalid proof","error_code":"INVALID_PROOF"}`))
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(g.Close)
	return g
}

func decodeBody(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }

func (g *proofRejectingGateway) sent() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.audiences...)
}

func disc(id string) string {
	return `{"gateway_id":"` + id + `","a1_version":"2.8.0"}`
}

// TestAudienceRetryIsBounded: a proof rejected as INVALID_PROOF is sent
// again only when a fresh discovery names ANOTHER gateway id, and then
// once. The same id, a failed discovery or a document without an id means
// the rejection stands: one request, and the caller gets the gateway's
// INVALID_PROOF (not the discovery's error, not a success).
func TestAudienceRetryIsBounded(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name      string
		discovery func(n int) (int, string)
		want      []string // audiences of the authorize requests sent
	}{
		{"same id on refresh", func(int) (int, string) { return 200, disc("gw-a") }, []string{"gw-a"}},
		{"refresh fails", func(n int) (int, string) {
			if n == 1 {
				return 200, disc("gw-a")
			}
			return 503, `{"error":"down","error_code":"STORAGE_UNAVAILABLE"}`
		}, []string{"gw-a"}},
		{"refresh names no id", func(n int) (int, string) {
			if n == 1 {
				return 200, disc("gw-a")
			}
			return 200, `{"a1_version":"2.8.0"}`
		}, []string{"gw-a"}},
		// The id changes on every discovery: one retry with the new id, never a
		// loop chasing it.
		{"id keeps changing", func(n int) (int, string) { return 200, disc("gw-" + string(rune('a'+n-1))) }, []string{"gw-a", "gw-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newProofRejectingGateway(t, tc.discovery)
			c, err := client.New(g.URL)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Authorize(context.Background(), &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent})
			if res != nil {
				t.Fatalf("a rejected proof answered %+v", res)
			}
			wantCode(t, err, 401, "INVALID_PROOF")
			if !errors.Is(err, a1.ErrInvalidProof) {
				t.Fatalf("errors.Is(%v, a1.ErrInvalidProof) = false", err)
			}
			if got := g.sent(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("authorize requests with audiences %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNoAudienceNoRequest: without a gateway id to name (discovery fails,
// or names neither gateway_id nor gateway_signing_pk_hex), a request that
// needs a proof of possession is not sent at all.
func TestNoAudienceNoRequest(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"discovery fails", 500, `{"error":"boom","error_code":"INTERNAL"}`},
		{"no id in discovery", 200, `{"a1_version":"2.8.0"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newProofRejectingGateway(t, func(int) (int, string) { return tc.status, tc.body })
			c, err := client.New(g.URL)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Authorize(context.Background(), &client.AuthorizeRequest{Chain: f.chain, Intent: "trade.equity", Agent: f.agent})
			if err == nil || res != nil {
				t.Fatalf("got %+v, %v; want an error", res, err)
			}
			if !strings.Contains(err.Error(), "gateway id") && !strings.Contains(err.Error(), "gateway_id") {
				t.Fatalf("error %q does not say the gateway id is unknown", err)
			}
			if got := g.sent(); len(got) != 0 {
				t.Fatalf("authorize sent with audiences %q, want no request", got)
			}
		})
	}
}
