package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/client"
)

// TestErrorBodyMapping: a denial keeps its code whichever member carries
// it (error_code, or "code" from older gateways), so errors.Is against the
// a1 kinds works; the code-less and message-less shapes stay errors with
// the status, never a match for a kind they do not name.
func TestErrorBodyMapping(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		wantCode   string
		wantIs     error
		wantText   string
	}{
		{"error_code", `{"error":"revoked","error_code":"CERT_REVOKED","hop":1}`, 403, "CERT_REVOKED", a1.ErrRevoked, "gateway: 403 CERT_REVOKED: revoked"},
		{"legacy code member", `{"error":"revoked","code":"CERT_REVOKED"}`, 403, "CERT_REVOKED", a1.ErrRevoked, "gateway: 403 CERT_REVOKED: revoked"},
		{"error_code wins over code", `{"error":"x","error_code":"NONCE_REPLAY","code":"CERT_REVOKED"}`, 409, "NONCE_REPLAY", a1.ErrNonceReplay, "gateway: 409 NONCE_REPLAY: x"},
		{"code only", `{"error_code":"STORAGE_UNAVAILABLE"}`, 503, "STORAGE_UNAVAILABLE", a1.ErrStorage, "gateway: 503 STORAGE_UNAVAILABLE"},
		{"no JSON error", `<html>bad gateway</html>`, 502, "", nil, "gateway: 502: <html>bad gateway</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := client.New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CertStatus(context.Background(), [32]byte{1})
			ce := wantCode(t, err, tc.status, tc.wantCode)
			if ce.Error() != tc.wantText {
				t.Fatalf("Error() = %q, want %q", ce.Error(), tc.wantText)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("errors.Is(%v, %v) = false", err, tc.wantIs)
			}
			// Never a match for another kind.
			for _, k := range []error{a1.ErrRevoked, a1.ErrNonceReplay, a1.ErrStorage, a1.ErrInvalidProof} {
				if k != tc.wantIs && errors.Is(err, k) {
					t.Fatalf("errors.Is(%v, %v) = true", err, k)
				}
			}
		})
	}
}

// TestBatchReceiptIndexBounds: an index outside the request or the answer
// is an error, never a panic nor a receipt.
func TestBatchReceiptIndexBounds(t *testing.T) {
	f := newFixture(t)
	req := &client.BatchRequest{Chain: f.chain, Intents: []client.BatchIntent{{Name: "trade.equity"}, {Name: "portfolio.read"}}}
	res := &client.BatchResponse{TotalCount: 1, Results: []client.BatchResult{{IntentName: "trade.equity", Authorized: true}}}
	for _, i := range []int{-1, 1, 2} { // 1: in the request, not in the answer
		if rc, err := client.VerifyBatchReceipt(pkOf(f.human), req, res, i); err == nil || rc != nil {
			t.Errorf("index %d: %v, %v; want an error", i, rc, err)
		}
	}
	if rc, err := client.VerifyBatchReceipt(pkOf(f.human), nil, res, 0); err == nil || rc != nil {
		t.Errorf("nil request: %v, %v", rc, err)
	}
	if rc, err := client.VerifyReceipt(pkOf(f.human), nil, &client.AuthorizeResponse{}); err == nil || rc != nil {
		t.Errorf("VerifyReceipt nil request: %v, %v", rc, err)
	}
	// A request without a chain has no receipt to rebuild.
	noChain := &client.AuthorizeRequest{Intent: "trade.equity"}
	if rc, err := client.VerifyReceipt(pkOf(f.human), noChain, &client.AuthorizeResponse{Authorized: true, ChainDepth: 2}); err == nil || rc != nil || !strings.Contains(err.Error(), "no chain") {
		t.Errorf("VerifyReceipt without chain: %v, %v", rc, err)
	}
}

// TestIssueCertTTLRefusedLocally: a TTL the gateway would read as another
// lifetime (negative, or under a second, which rounds to 0 = the default
// hour) is refused before anything is sent.
func TestIssueCertTTLRefusedLocally(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(500)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithAdminToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	for _, ttl := range []time.Duration{-time.Second, time.Millisecond, time.Second - 1} {
		res, err := c.IssueCert(context.Background(), &client.IssueCertRequest{Delegate: pkOf(f.agent),
			Intents: []client.Intent{{Name: "trade.equity"}}, TTL: ttl})
		if err == nil || res != nil {
			t.Errorf("TTL %v: %v, %v; want an error", ttl, res, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests sent for refused TTLs", n)
	}
}
