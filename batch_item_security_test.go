package a1_test

import (
	"errors"
	"testing"

	"github.com/a1-go/a1"
)

// TestBatchItemSecurityChecks: the other intents of a batch reuse the chain
// checks of the first, never its capability check (each item's action must
// be inside the passport mask) nor its proof of possession (an item never
// carries one of its own, and a batch item needs the first's result).
func TestBatchItemSecurityChecks(t *testing.T) {
	masked := func(c0, c1 *a1.Cert) {
		_ = c0.Extensions.Set(a1.ExtPassportMask, a1.StrValue(a1.MaskOf("trade.equity").Hex()))
	}
	f := newFixture(t, masked)
	v := f.verifier()
	first, err := v.Verify(f.req(t, "trade.equity"))
	if err != nil {
		t.Fatal(err)
	}
	if !first.HasMask {
		t.Fatal("the fixture's chain carries no passport mask")
	}
	// trade.fx is in the terminal scope but outside the mask: the reused
	// path (same chain pointer, executor, namespace) must refuse it as the
	// full path does.
	if _, err := v.Verify(f.req(t, "trade.fx")); !errors.Is(err, a1.ErrNarrowingViolation) {
		t.Fatalf("full path, intent outside the mask: %v", err)
	}
	if _, err := v.VerifyBatchItem(first, f.req(t, "trade.fx")); !errors.Is(err, a1.ErrNarrowingViolation) {
		t.Fatalf("batch item outside the mask: %v, want PASSPORT_NARROWING_VIOLATION", err)
	}
	// An item inside the mask passes the same path.
	if _, err := v.VerifyBatchItem(first, f.req(t, "trade.equity")); err != nil {
		t.Fatalf("batch item inside the mask: %v", err)
	}

	for _, tc := range []struct {
		name  string
		first *a1.Result
		req   *a1.Request
	}{
		{"no first result", nil, f.req(t, "trade.equity")},
		{"item carrying a proof", first, func() *a1.Request {
			r := f.req(t, "trade.equity")
			r.PoP = &a1.PoP{Audience: "gw"}
			return r
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.VerifyBatchItem(tc.first, tc.req)
			if res != nil || !errors.Is(err, a1.ErrMalformed) || a1.HTTPStatus(err) != 400 {
				t.Fatalf("got %v, %v; want MALFORMED (400) and no result", res, err)
			}
		})
	}
}
