package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
)

// Backend is the full method set every a1 state backend exposes. Callers
// (the gateway, the CLI) declare narrower interfaces over it.
type Backend interface {
	Authorize(ctx context.Context, req store.AuthorizeRequest) error
	Revoke(ctx context.Context, tenant string, revs []store.Revocation) (int, error)
	RevocationStatus(ctx context.Context, tenant string, fp [32]byte) (store.Revocation, bool, error)
	ListRevocations(ctx context.Context, tenant string, p store.Page) ([]store.Revocation, string, error)
	AddRoot(ctx context.Context, tenant string, r store.Root) error
	RemoveRoot(ctx context.Context, tenant string, pk [32]byte) (bool, error)
	ListRoots(ctx context.Context, tenant string) ([]store.Root, error)
	AllowRate(ctx context.Context, key string, ratePerSec float64, burst int) (store.RateDecision, error)
	Ping(ctx context.Context) error
	Close() error
}

// Sweeper is implemented by backends that can delete expired nonces on
// demand.
type Sweeper interface {
	Sweep(ctx context.Context) (int, error)
}

// Config describes a backend to the suite.
type Config struct {
	// Open returns a fresh backend. Backends that decide expiry with a
	// client-side clock use clock.Now as their Now hook.
	Open func(t *testing.T, clock *FakeClock) Backend
	// RealTime is set for backends that decide nonce expiry and rate
	// refill with the server's clock: the suite then waits (about a
	// second) instead of advancing the fake clock.
	RealTime bool
	// Reopen, when set, closes b and opens the same persistent state
	// again; the suite then checks that revocations, roots and consumed
	// nonces survive.
	Reopen func(t *testing.T, b Backend, clock *FakeClock) Backend
	// Cleanup, when set, deletes every tenant and rate key starting with
	// prefix once the suite ends (server backends share one database).
	Cleanup func(prefix string)
	// Shared is set when backends from separate Open calls share state
	// (a server): the suite then races several instances, as several
	// gateway replicas would.
	Shared bool
}

// RequireServices reports whether A1_REQUIRE_SERVICES=1: an unreachable
// test server must then fail the test instead of skipping it.
func RequireServices() bool { return os.Getenv("A1_REQUIRE_SERVICES") == "1" }

// SkipOrFail skips (or, under A1_REQUIRE_SERVICES=1, fails) a test whose
// server is unreachable.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if RequireServices() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// RandomPrefix returns a per-run prefix for tenants and keys, so that
// concurrent runs against one shared server never collide.
func RandomPrefix() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "st" + hex.EncodeToString(b[:]) + "-"
}

// Rand32 returns 32 random bytes.
func Rand32() [32]byte {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return b
}

type suite struct {
	cfg    Config
	prefix string
	n      atomic.Int64
}

func (s *suite) tenant() string { return fmt.Sprintf("%st%d", s.prefix, s.n.Add(1)) }

func (s *suite) open(t *testing.T) (Backend, *FakeClock) {
	t.Helper()
	clock := NewFakeClock(time.Now().UTC())
	b := s.cfg.Open(t, clock)
	t.Cleanup(func() { _ = b.Close() })
	return b, clock
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// Run runs the contract suite against the backend cfg opens.
func Run(t *testing.T, cfg Config) {
	s := &suite{cfg: cfg, prefix: RandomPrefix()}
	if cfg.Cleanup != nil {
		t.Cleanup(func() { cfg.Cleanup(s.prefix) })
	}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"AuthorizeThenReplay", s.testAuthorizeThenReplay},
		{"EmptyRequest", s.testEmpty},
		{"FarExpiry", s.testFarExpiry},
		{"RaceSameNonces", s.testRace},
		{"RaceAcrossInstances", s.testRaceInstances},
		{"PartialReplayConsumesNothing", s.testPartialReplay},
		{"DuplicateNonceInRequest", s.testDuplicate},
		{"RevocationBeatsConsumption", s.testRevocationBeatsConsumption},
		{"NonceExpiry", s.testExpiry},
		{"RevokeIdempotent", s.testRevokeIdempotent},
		{"ListRevocationsPagination", s.testPagination},
		{"Roots", s.testRoots},
		{"RootCapRace", s.testRootCapRace},
		{"TenantIsolation", s.testTenantIsolation},
		{"RateLimit", s.testRate},
		{"Limits", s.testLimits},
		{"Ping", s.testPing},
		{"Restart", s.testRestart},
		{"Closed", s.testClosed},
		{"Text", s.testText},
		{"MutationChecks", func(t *testing.T) { RunMutationChecks(t, cfg) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

func nonce(exp time.Time) store.Nonce { return store.Nonce{Key: Rand32(), ExpiresAt: exp} }

func wantReplay(t *testing.T, err error, index int) {
	t.Helper()
	var re *store.ReplayError
	if !errors.As(err, &re) || !errors.Is(err, store.ErrReplay) {
		t.Fatalf("got %v, want *ReplayError", err)
	}
	if re.Index != index {
		t.Fatalf("ReplayError.Index = %d, want %d", re.Index, index)
	}
}

func wantRevoked(t *testing.T, err error, index int, fp [32]byte) {
	t.Helper()
	var re *store.RevokedError
	if !errors.As(err, &re) || !errors.Is(err, store.ErrRevoked) {
		t.Fatalf("got %v, want *RevokedError", err)
	}
	if re.Index != index || re.Fingerprint != fp {
		t.Fatalf("RevokedError{Index: %d, Fingerprint: %x}, want {%d, %x}", re.Index, re.Fingerprint, index, fp)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (s *suite) testAuthorizeThenReplay(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	exp := clock.Now().Add(time.Hour)
	req := store.AuthorizeRequest{
		Tenant:       s.tenant(),
		Fingerprints: [][32]byte{Rand32(), Rand32()},
		Nonces:       []store.Nonce{nonce(exp), nonce(exp)},
	}
	mustOK(t, b.Authorize(c, req))
	wantReplay(t, b.Authorize(c, req), 0)
	// The second nonce alone is consumed too.
	req.Nonces = req.Nonces[1:]
	wantReplay(t, b.Authorize(c, req), 0)
}

func (s *suite) testFarExpiry(t *testing.T) {
	b, _ := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	// The verifier saturates "never expires" to a time far past what int64
	// nanoseconds can hold; such a nonce must stay consumed.
	far := store.Nonce{Key: Rand32(), ExpiresAt: time.Unix(1<<62, 0)}
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{far}}))
	wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{far}}), 0)
}

func (s *suite) testEmpty(t *testing.T) {
	b, _ := s.open(t)
	mustOK(t, b.Authorize(ctx(t), store.AuthorizeRequest{Tenant: s.tenant()}))
	// Fingerprints only: a revocation check.
	mustOK(t, b.Authorize(ctx(t), store.AuthorizeRequest{Tenant: s.tenant(), Fingerprints: [][32]byte{Rand32()}}))
}

func (s *suite) testRace(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	const racers = 64
	exp := clock.Now().Add(time.Hour)
	req := store.AuthorizeRequest{
		Tenant:       s.tenant(),
		Fingerprints: [][32]byte{Rand32(), Rand32()},
		Nonces:       []store.Nonce{nonce(exp), nonce(exp)},
	}
	var ok, replay, other atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := b.Authorize(c, req)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrReplay):
				replay.Add(1)
			default:
				other.Add(1)
				t.Errorf("racer: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || replay.Load() != racers-1 {
		t.Fatalf("successes=%d replays=%d others=%d, want 1/%d/0", ok.Load(), replay.Load(), other.Load(), racers-1)
	}
}

// testRootCapRace: a tenant holds at most MaxRootsPerTenant roots, also
// when additions race for the last place (across instances where they
// share state): exactly one wins, and a present root can still be
// replaced at the cap.
func (s *suite) testRootCapRace(t *testing.T) {
	instances := 1
	if s.cfg.Shared {
		instances = 4
	}
	bs := make([]Backend, instances)
	for i := range bs {
		bs[i], _ = s.open(t)
	}
	c := ctx(t)
	tn := s.tenant()
	var wg sync.WaitGroup
	const fillers = 8
	for w := 0; w < fillers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < store.MaxRootsPerTenant-1; i += fillers {
				if err := bs[w%instances].AddRoot(c, tn, store.Root{PublicKey: Rand32()}); err != nil {
					t.Errorf("filling: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var won atomic.Int64
	start := make(chan struct{})
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch err := bs[i%instances].AddRoot(c, tn, store.Root{PublicKey: Rand32()}); {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, store.ErrTooManyRoots):
				t.Errorf("racer: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	roots, err := bs[0].ListRoots(c, tn)
	mustOK(t, err)
	if won.Load() != 1 || len(roots) != store.MaxRootsPerTenant {
		t.Fatalf("%d racers added the last root, %d roots listed; want 1 and %d", won.Load(), len(roots), store.MaxRootsPerTenant)
	}
	if err := bs[0].AddRoot(c, tn, store.Root{PublicKey: Rand32()}); !errors.Is(err, store.ErrTooManyRoots) {
		t.Fatalf("a root past the cap: %v", err)
	}
	mustOK(t, bs[0].AddRoot(c, tn, store.Root{PublicKey: roots[0].PublicKey, Label: "replaced at the cap"}))
}

func (s *suite) testRaceInstances(t *testing.T) {
	if !s.cfg.Shared {
		t.Skip("instances do not share state")
	}
	const instances, perInstance = 4, 16
	bs := make([]Backend, instances)
	for i := range bs {
		bs[i], _ = s.open(t)
	}
	c := ctx(t)
	tn := s.tenant()
	exp := time.Now().Add(time.Hour)
	// Several rounds, each with fresh nonces; the requests overlap in one
	// nonce only, in different positions.
	for round := 0; round < 5; round++ {
		shared := nonce(exp)
		var ok atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < instances*perInstance; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				own := nonce(exp)
				ns := []store.Nonce{own, shared}
				if i%2 == 1 {
					ns = []store.Nonce{shared, own}
				}
				<-start
				err := bs[i%instances].Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: ns})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, store.ErrReplay):
					// The loser's own nonce must not have been consumed.
					if err := bs[(i+1)%instances].Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{own}}); err != nil {
						t.Errorf("loser's fresh nonce: %v", err)
					}
				default:
					t.Errorf("racer: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("round %d: %d successes across %d instances, want 1", round, ok.Load(), instances)
		}
	}
}

func (s *suite) testPartialReplay(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	exp := clock.Now().Add(time.Hour)
	used, fresh := nonce(exp), nonce(exp)
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{used}}))
	wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{fresh, used}}), 1)
	// All or nothing: the fresh nonce was not consumed.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{fresh}}))
}

func (s *suite) testDuplicate(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	exp := clock.Now().Add(time.Hour)
	a, d := nonce(exp), nonce(exp)
	wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{a, d, a}}), 2)
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{a, d}}))
}

func (s *suite) testRevocationBeatsConsumption(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	fps := [][32]byte{Rand32(), Rand32(), Rand32(), Rand32()}
	n, err := b.Revoke(c, tn, []store.Revocation{{Fingerprint: fps[3]}, {Fingerprint: fps[1]}})
	mustOK(t, err)
	if n != 2 {
		t.Fatalf("Revoke added %d, want 2", n)
	}
	exp := clock.Now().Add(time.Hour)
	used, fresh := nonce(exp), nonce(exp)
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{used}}))
	// Revoked fingerprints at 1 and 3, a consumed nonce too: revocation
	// wins and names the lowest index.
	wantRevoked(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Fingerprints: fps, Nonces: []store.Nonce{fresh, used}}), 1, fps[1])
	wantRevoked(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Fingerprints: fps[2:], Nonces: []store.Nonce{fresh}}), 1, fps[3])
	// Nothing consumed.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Fingerprints: [][32]byte{fps[0], fps[2]}, Nonces: []store.Nonce{fresh}}))
}

func (s *suite) testExpiry(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	ttl := time.Hour
	if s.cfg.RealTime {
		ttl = 1200 * time.Millisecond
	}
	start := clock.Now()
	if s.cfg.RealTime {
		start = time.Now()
	}
	short := nonce(start.Add(ttl))
	long := nonce(start.Add(100 * ttl))
	past := nonce(start.Add(-time.Minute))
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{short, long, past}}))
	wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{short}}), 0)
	// A nonce that was already expired is never kept.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{past}}))

	if s.cfg.RealTime {
		time.Sleep(time.Until(start.Add(ttl + 300*time.Millisecond)))
	} else {
		clock.Advance(ttl + time.Second)
	}
	if sw, ok := b.(Sweeper); ok {
		if _, err := sw.Sweep(c); err != nil {
			t.Fatalf("Sweep: %v", err)
		}
	}
	// Expired: usable again. Unexpired (and kept by the sweep): still a replay.
	wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{short, long}}), 1)
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{short}}))
}

func (s *suite) testRevokeIdempotent(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	at := clock.Now().Add(-time.Hour).Truncate(time.Microsecond)
	a, bb, cc := Rand32(), Rand32(), Rand32()
	n, err := b.Revoke(c, tn, []store.Revocation{
		{Fingerprint: a, Reason: "key compromise", Actor: "alice", RevokedAt: at},
		{Fingerprint: bb},
		{Fingerprint: bb, Reason: "dup in batch"},
	})
	mustOK(t, err)
	if n != 2 {
		t.Fatalf("added %d, want 2", n)
	}
	n, err = b.Revoke(c, tn, []store.Revocation{{Fingerprint: a, Reason: "again", Actor: "mallory"}, {Fingerprint: cc}})
	mustOK(t, err)
	if n != 1 {
		t.Fatalf("second batch added %d, want 1", n)
	}
	r, ok, err := b.RevocationStatus(c, tn, a)
	mustOK(t, err)
	if !ok || r.Fingerprint != a || r.Reason != "key compromise" || r.Actor != "alice" || !r.RevokedAt.Equal(at) {
		t.Fatalf("status = %+v %v, want the first record", r, ok)
	}
	r, ok, err = b.RevocationStatus(c, tn, bb)
	mustOK(t, err)
	if !ok || r.Reason != "" || r.RevokedAt.IsZero() {
		t.Fatalf("status(b) = %+v %v: want revoked with a stamped time", r, ok)
	}
	if _, ok, err := b.RevocationStatus(c, tn, Rand32()); err != nil || ok {
		t.Fatalf("unknown fingerprint: ok=%v err=%v", ok, err)
	}
	if n, err := b.Revoke(c, tn, nil); err != nil || n != 0 {
		t.Fatalf("empty Revoke: %d %v", n, err)
	}
}

func (s *suite) testPagination(t *testing.T) {
	b, _ := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	const total = 25
	want := make([][32]byte, total)
	revs := make([]store.Revocation, total)
	for i := range want {
		want[i] = Rand32()
		revs[i] = store.Revocation{Fingerprint: want[i], Reason: fmt.Sprint(i)}
	}
	n, err := b.Revoke(c, tn, revs)
	mustOK(t, err)
	if n != total {
		t.Fatalf("added %d", n)
	}
	sort.Slice(want, func(i, j int) bool { return bytes.Compare(want[i][:], want[j][:]) < 0 })
	var got [][32]byte
	cursor, pages := "", 0
	for {
		page, next, err := b.ListRevocations(c, tn, store.Page{Cursor: cursor, Limit: 10})
		mustOK(t, err)
		pages++
		if len(page) > 10 {
			t.Fatalf("page of %d > limit 10", len(page))
		}
		for _, r := range page {
			got = append(got, r.Fingerprint)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if pages != 3 {
		t.Fatalf("%d pages, want 3", pages)
	}
	if len(got) != total {
		t.Fatalf("listed %d, want %d", len(got), total)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("item %d = %x, want %x (ascending fingerprint order)", i, got[i], want[i])
		}
	}
	// Default limit, exact fit: next is empty after the last page.
	all, next, err := b.ListRevocations(c, tn, store.Page{})
	mustOK(t, err)
	if len(all) != total || next != "" {
		t.Fatalf("default page: %d items, next %q", len(all), next)
	}
	if _, _, err := b.ListRevocations(c, tn, store.Page{Cursor: "zz"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad cursor: %v, want ErrInvalid", err)
	}
	if _, _, err := b.ListRevocations(c, tn, store.Page{Limit: store.MaxPageLimit + 1}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("huge limit: %v, want ErrInvalid", err)
	}
	empty, next, err := b.ListRevocations(c, s.tenant(), store.Page{})
	if err != nil || len(empty) != 0 || next != "" {
		t.Fatalf("empty tenant: %v %q %v", empty, next, err)
	}
}

func (s *suite) testRoots(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	at := clock.Now().Add(-time.Minute).Truncate(time.Microsecond)
	r1 := store.Root{PublicKey: Rand32(), Label: "prod signer", AddedBy: "ops", AddedAt: at}
	r2 := store.Root{PublicKey: Rand32(), Label: "staging"}
	mustOK(t, b.AddRoot(c, tn, r1))
	mustOK(t, b.AddRoot(c, tn, r2))
	roots, err := b.ListRoots(c, tn)
	mustOK(t, err)
	if len(roots) != 2 {
		t.Fatalf("%d roots, want 2", len(roots))
	}
	if bytes.Compare(roots[0].PublicKey[:], roots[1].PublicKey[:]) >= 0 {
		t.Fatal("roots not in ascending key order")
	}
	byKey := map[[32]byte]store.Root{roots[0].PublicKey: roots[0], roots[1].PublicKey: roots[1]}
	if g := byKey[r1.PublicKey]; g.Label != "prod signer" || g.AddedBy != "ops" || !g.AddedAt.Equal(at) {
		t.Fatalf("root 1 = %+v", g)
	}
	if g := byKey[r2.PublicKey]; g.Label != "staging" || g.AddedAt.IsZero() {
		t.Fatalf("root 2 = %+v (want a stamped AddedAt)", g)
	}
	// Re-adding replaces the label.
	r2.Label = "staging-2"
	mustOK(t, b.AddRoot(c, tn, r2))
	ok, err := b.RemoveRoot(c, tn, r1.PublicKey)
	mustOK(t, err)
	if !ok {
		t.Fatal("RemoveRoot of a present root reported false")
	}
	ok, err = b.RemoveRoot(c, tn, r1.PublicKey)
	mustOK(t, err)
	if ok {
		t.Fatal("second RemoveRoot reported true")
	}
	roots, err = b.ListRoots(c, tn)
	mustOK(t, err)
	if len(roots) != 1 || roots[0].PublicKey != r2.PublicKey || roots[0].Label != "staging-2" {
		t.Fatalf("roots after remove = %+v", roots)
	}
	if err := b.AddRoot(c, tn, store.Root{PublicKey: Rand32(), Label: string(make([]byte, store.MaxTextLen+1))}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("huge label: %v", err)
	}
}

func (s *suite) testTenantIsolation(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	ta, tb := s.tenant(), s.tenant()
	fp := Rand32()
	_, err := b.Revoke(c, ta, []store.Revocation{{Fingerprint: fp}})
	mustOK(t, err)
	n := nonce(clock.Now().Add(time.Hour))
	wantRevoked(t, b.Authorize(c, store.AuthorizeRequest{Tenant: ta, Fingerprints: [][32]byte{fp}, Nonces: []store.Nonce{n}}), 0, fp)
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tb, Fingerprints: [][32]byte{fp}, Nonces: []store.Nonce{n}}))
	// The nonce consumed in B is still fresh in A.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: ta, Nonces: []store.Nonce{n}}))
	if _, ok, err := b.RevocationStatus(c, tb, fp); err != nil || ok {
		t.Fatalf("tenant B sees A's revocation: %v %v", ok, err)
	}
	if l, _, err := b.ListRevocations(c, tb, store.Page{}); err != nil || len(l) != 0 {
		t.Fatalf("tenant B lists %d revocations (%v)", len(l), err)
	}
	mustOK(t, b.AddRoot(c, ta, store.Root{PublicKey: fp, Label: "a"}))
	if r, err := b.ListRoots(c, tb); err != nil || len(r) != 0 {
		t.Fatalf("tenant B lists %d roots (%v)", len(r), err)
	}
	if ok, err := b.RemoveRoot(c, tb, fp); err != nil || ok {
		t.Fatalf("tenant B removed A's root: %v %v", ok, err)
	}
	// The default tenant "" is a tenant like any other.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: "", Fingerprints: [][32]byte{fp}, Nonces: []store.Nonce{nonce(clock.Now().Add(time.Minute))}}))
}

func (s *suite) testRate(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	key := s.prefix + "rate-" + hex.EncodeToString(func() []byte { k := Rand32(); return k[:8] }())
	other := key + "-other"
	// Burst of 3 at a slow rate: three allowed, the fourth denied.
	for i := 0; i < 3; i++ {
		d, err := b.AllowRate(c, key, 1, 3)
		mustOK(t, err)
		if !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i, d, 2-i)
		}
	}
	d, err := b.AllowRate(c, key, 1, 3)
	mustOK(t, err)
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("fourth request: %+v, want denied with 0 < RetryAfter <= 1s", d)
	}
	// Another key has its own bucket.
	if d, err := b.AllowRate(c, other, 1, 3); err != nil || !d.Allowed {
		t.Fatalf("other key: %+v %v", d, err)
	}
	// Refill: wait out RetryAfter and one request passes again.
	if s.cfg.RealTime {
		time.Sleep(d.RetryAfter + 50*time.Millisecond)
	} else {
		clock.Advance(d.RetryAfter)
	}
	d, err = b.AllowRate(c, key, 1, 3)
	mustOK(t, err)
	if !d.Allowed {
		t.Fatalf("after refill: %+v, want allowed", d)
	}
	for _, tc := range []struct {
		key   string
		rate  float64
		burst int
	}{
		{key, 0, 1}, {key, -1, 1}, {key, 1, 0}, {string(make([]byte, store.MaxRateKeyLen+1)), 1, 1},
	} {
		if _, err := b.AllowRate(c, tc.key, tc.rate, tc.burst); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AllowRate(len %d, %v, %d) = %v, want ErrInvalid", len(tc.key), tc.rate, tc.burst, err)
		}
	}
}

func (s *suite) testLimits(t *testing.T) {
	b, clock := s.open(t)
	c := ctx(t)
	exp := clock.Now().Add(time.Hour)
	many := make([]store.Nonce, store.MaxAuthorizeNonces+1)
	for i := range many {
		many[i] = nonce(exp)
	}
	for _, tc := range []struct {
		name string
		req  store.AuthorizeRequest
	}{
		{"brace in tenant", store.AuthorizeRequest{Tenant: "a}b"}},
		{"control char in tenant", store.AuthorizeRequest{Tenant: "a\nb"}},
		{"long tenant", store.AuthorizeRequest{Tenant: string(bytes.Repeat([]byte("x"), store.MaxTenantLen+1))}},
		{"too many fingerprints", store.AuthorizeRequest{Fingerprints: make([][32]byte, store.MaxAuthorizeFingerprints+1)}},
		{"too many nonces", store.AuthorizeRequest{Nonces: many}},
		{"nonce without expiry", store.AuthorizeRequest{Nonces: []store.Nonce{{Key: Rand32()}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Authorize(c, tc.req)
			if !errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
	// The limits themselves are accepted.
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: s.tenant(), Fingerprints: make([][32]byte, store.MaxAuthorizeFingerprints), Nonces: many[:store.MaxAuthorizeNonces]}))
	if _, err := b.Revoke(c, s.tenant(), make([]store.Revocation, store.MaxRevokeBatch+1)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("huge revoke batch: %v", err)
	}
	if _, err := b.Revoke(c, "}", []store.Revocation{{}}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad tenant revoke: %v", err)
	}
}

func (s *suite) testPing(t *testing.T) {
	b, _ := s.open(t)
	mustOK(t, b.Ping(ctx(t)))
}

func (s *suite) testRestart(t *testing.T) {
	if s.cfg.Reopen == nil {
		t.Skip("backend keeps no state across restarts")
	}
	clock := NewFakeClock(time.Now().UTC())
	b := s.cfg.Open(t, clock)
	c := ctx(t)
	tn := s.tenant()
	fp, pk := Rand32(), Rand32()
	n := nonce(clock.Now().Add(time.Hour))
	_, err := b.Revoke(c, tn, []store.Revocation{{Fingerprint: fp, Reason: "r"}})
	mustOK(t, err)
	mustOK(t, b.AddRoot(c, tn, store.Root{PublicKey: pk, Label: "root"}))
	mustOK(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{n}}))

	b = s.cfg.Reopen(t, b, clock)
	defer b.Close()
	wantRevoked(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Fingerprints: [][32]byte{fp}}), 0, fp)
	wantReplay(t, b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Nonces: []store.Nonce{n}}), 0)
	if r, ok, err := b.RevocationStatus(c, tn, fp); err != nil || !ok || r.Reason != "r" {
		t.Fatalf("revocation after restart: %+v %v %v", r, ok, err)
	}
	roots, err := b.ListRoots(c, tn)
	mustOK(t, err)
	if len(roots) != 1 || roots[0].PublicKey != pk || roots[0].Label != "root" {
		t.Fatalf("roots after restart: %+v", roots)
	}
}

func (s *suite) testClosed(t *testing.T) {
	clock := NewFakeClock(time.Now().UTC())
	b := s.cfg.Open(t, clock)
	mustOK(t, b.Close())
	c := ctx(t)
	tn := s.tenant()
	checks := map[string]error{}
	checks["Authorize"] = b.Authorize(c, store.AuthorizeRequest{Tenant: tn, Fingerprints: [][32]byte{Rand32()}, Nonces: []store.Nonce{nonce(clock.Now().Add(time.Hour))}})
	_, checks["Revoke"] = b.Revoke(c, tn, []store.Revocation{{Fingerprint: Rand32()}})
	_, _, checks["RevocationStatus"] = b.RevocationStatus(c, tn, Rand32())
	_, _, checks["ListRevocations"] = b.ListRevocations(c, tn, store.Page{})
	checks["AddRoot"] = b.AddRoot(c, tn, store.Root{PublicKey: Rand32()})
	_, checks["RemoveRoot"] = b.RemoveRoot(c, tn, Rand32())
	_, checks["ListRoots"] = b.ListRoots(c, tn)
	_, checks["AllowRate"] = b.AllowRate(c, s.prefix+"closed", 1, 1)
	checks["Ping"] = b.Ping(c)
	for op, err := range checks {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close: %v, want ErrUnavailable", op, err)
		}
	}
}

// testText: free text (revocation reason and actor, root label and
// added-by) and rate keys are stored exactly as given when they are valid
// UTF-8 without NUL (what a PostgreSQL text column holds), and refused as
// ErrInvalid before any I/O otherwise, by every backend alike: never an
// outage that would make an admin's revocation fail with a 503.
func (s *suite) testText(t *testing.T) {
	b, _ := s.open(t)
	c := ctx(t)
	tn := s.tenant()
	good := "line 1\nline 2\t\u00e9\u4e2d\U0001F512 {braces} 'quotes' \"dq\" \\"
	fp, pk := Rand32(), Rand32()
	_, err := b.Revoke(c, tn, []store.Revocation{{Fingerprint: fp, Reason: good, Actor: good}})
	mustOK(t, err)
	if r, ok, err := b.RevocationStatus(c, tn, fp); err != nil || !ok || r.Reason != good || r.Actor != good {
		t.Fatalf("revocation text did not round-trip: %+v %v %v", r, ok, err)
	}
	mustOK(t, b.AddRoot(c, tn, store.Root{PublicKey: pk, Label: good, AddedBy: good}))
	if roots, err := b.ListRoots(c, tn); err != nil || len(roots) != 1 || roots[0].Label != good || roots[0].AddedBy != good {
		t.Fatalf("root text did not round-trip: %+v %v", roots, err)
	}
	if _, err := b.AllowRate(c, s.prefix+good, 1, 1); err != nil {
		t.Fatalf("rate key %q: %v", good, err)
	}
	wantInvalid := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrInvalid", what, err)
		}
	}
	for _, bad := range []string{"nul\x00byte", "bad utf-8 \xff"} {
		bfp := Rand32()
		_, err := b.Revoke(c, tn, []store.Revocation{{Fingerprint: bfp, Reason: bad}})
		wantInvalid(fmt.Sprintf("Revoke reason %q", bad), err)
		_, err = b.Revoke(c, tn, []store.Revocation{{Fingerprint: bfp}, {Fingerprint: Rand32(), Actor: bad}})
		wantInvalid(fmt.Sprintf("Revoke actor %q", bad), err)
		// Nothing of a refused batch is stored.
		if _, ok, err := b.RevocationStatus(c, tn, bfp); err != nil || ok {
			t.Errorf("refused batch stored a revocation: %v %v", ok, err)
		}
		wantInvalid(fmt.Sprintf("AddRoot label %q", bad), b.AddRoot(c, tn, store.Root{PublicKey: Rand32(), Label: bad}))
		wantInvalid(fmt.Sprintf("AddRoot added-by %q", bad), b.AddRoot(c, tn, store.Root{PublicKey: Rand32(), AddedBy: bad}))
		_, err = b.AllowRate(c, s.prefix+bad, 1, 1)
		wantInvalid(fmt.Sprintf("AllowRate key %q", bad), err)
	}
}
