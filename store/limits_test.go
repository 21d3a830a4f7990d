package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
)

func TestCheckTenant(t *testing.T) {
	for _, tc := range []struct {
		tenant string
		ok     bool
	}{
		{"", true},
		{"acme", true},
		{"acme-prod.eu/1:x@y", true},
		{"ünïcode", true},
		{strings.Repeat("a", store.MaxTenantLen), true},
		{strings.Repeat("a", store.MaxTenantLen+1), false},
		{"a{b", false},
		{"a}b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"\xff", false},
	} {
		err := store.CheckTenant(tc.tenant)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, store.ErrInvalid)) {
			t.Errorf("CheckTenant(%q) = %v, want ok=%v", tc.tenant, err, tc.ok)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	var fp [32]byte
	for i := range fp {
		fp[i] = byte(i * 7)
	}
	c := store.Cursor(fp)
	got, ok, err := store.ParseCursor(c)
	if err != nil || !ok || got != fp {
		t.Fatalf("ParseCursor(Cursor(fp)) = %x %v %v", got, ok, err)
	}
	if _, ok, err := store.ParseCursor(""); ok || err != nil {
		t.Fatalf("empty cursor: %v %v", ok, err)
	}
	for _, bad := range []string{"00", strings.Repeat("g", 64), strings.Repeat("A", 64), strings.Repeat("0", 65)} {
		if _, _, err := store.ParseCursor(bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ParseCursor(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCheckRate(t *testing.T) {
	for _, tc := range []struct {
		key   string
		rate  float64
		burst int
		ok    bool
	}{
		{"ip:1.2.3.4", 500, 500, true},
		{"k", store.MinRatePerSec, 1, true},
		{"k", store.MaxRatePerSec, store.MaxRateBurst, true},
		{"k", 0, 1, false},
		{"k", -1, 1, false},
		{"k", store.MaxRatePerSec * 2, 1, false},
		{"k", 1, 0, false},
		{"k", 1, store.MaxRateBurst + 1, false},
		{strings.Repeat("k", store.MaxRateKeyLen+1), 1, 1, false},
	} {
		err := store.CheckRate(tc.key, tc.rate, tc.burst)
		if (err == nil) != tc.ok {
			t.Errorf("CheckRate(len %d, %v, %d) = %v, want ok=%v", len(tc.key), tc.rate, tc.burst, err, tc.ok)
		}
	}
}

func TestAuthorizeRequestCheck(t *testing.T) {
	ok := store.AuthorizeRequest{Nonces: []store.Nonce{{ExpiresAt: time.Now()}}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	bad := store.AuthorizeRequest{Nonces: []store.Nonce{{}}}
	if err := bad.Check(); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("zero expiry: %v", err)
	}
}

func TestPageLimit(t *testing.T) {
	if n, err := store.PageLimit("", store.Page{}); err != nil || n != store.DefaultPageLimit {
		t.Fatalf("default: %d %v", n, err)
	}
	if _, err := store.PageLimit("", store.Page{Limit: -1}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("negative: %v", err)
	}
}

func TestCheckPage(t *testing.T) {
	fp := [32]byte{1, 2, 3}
	limit, after, ok, err := store.CheckPage("acme", store.Page{Cursor: store.Cursor(fp), Limit: 7})
	if err != nil || limit != 7 || !ok || after != fp {
		t.Fatalf("cursor page: %d %x %v %v", limit, after, ok, err)
	}
	if limit, _, ok, err := store.CheckPage("acme", store.Page{}); err != nil || limit != store.DefaultPageLimit || ok {
		t.Fatalf("first page: %d %v %v", limit, ok, err)
	}
	for _, p := range []store.Page{{Limit: store.MaxPageLimit + 1}, {Cursor: "zz"}} {
		if _, _, _, err := store.CheckPage("acme", p); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("%+v: %v", p, err)
		}
	}
	if _, _, _, err := store.CheckPage("a{b}", store.Page{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad tenant: %v", err)
	}
}
