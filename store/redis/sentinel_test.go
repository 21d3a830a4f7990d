package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/a1-go/a1/store"
	a1redis "github.com/a1-go/a1/store/redis"
	"github.com/a1-go/a1/store/storetest"
)

// sentinelMaster is the name the private sentinels monitor.
const sentinelMaster = "mymaster"

// sentinelSetup is a private master, one replica of it and the sentinels
// that monitor them, all on loopback ports of their own.
type sentinelSetup struct {
	master, replica string // host:port
	sentinels       []string
	stopMaster      func() // SIGKILL
}

// url is the store URL for the setup: the hosts are the sentinels.
func (s *sentinelSetup) url() string {
	u := "redis://" + s.sentinels[0] + "/0?master_name=" + sentinelMaster
	for _, a := range s.sentinels[1:] {
		u += "&addr=" + a
	}
	return u
}

// startSentinelSetup starts a master, a replica that has completed its
// first sync, and n sentinels (quorum n/2+1) that all see the replica and
// (for n > 1) each other, so that a failover can start as soon as the
// master dies.
func startSentinelSetup(t *testing.T, n int) *sentinelSetup {
	t.Helper()
	// Diskless sync without the default 5 s delay: the replica is in sync
	// at once.
	master, stopMaster := privateRedis(t, t.TempDir(), "--appendonly", "no", "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
	mhost, mport, _ := net.SplitHostPort(master)
	replica, _ := privateRedis(t, t.TempDir(), "--appendonly", "no", "--replicaof", mhost, mport)
	rc := goredis.NewClient(&goredis.Options{Addr: replica})
	defer rc.Close()
	ctx := context.Background()
	waitFor(t, 10*time.Second, "replica in sync", func() (bool, string) {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up"), info
	})

	s := &sentinelSetup{master: master, replica: replica, stopMaster: stopMaster}
	for i := 0; i < n; i++ {
		s.sentinels = append(s.sentinels, privateSentinel(t, master, n/2+1))
	}
	for _, a := range s.sentinels {
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: a})
		defer sc.Close()
		waitFor(t, 15*time.Second, "sentinel "+a+" sees the replica and the other sentinels", func() (bool, string) {
			reps, err := sc.Replicas(ctx, sentinelMaster).Result()
			if err != nil {
				return false, err.Error()
			}
			seen := false
			for _, r := range reps {
				if net.JoinHostPort(r["ip"], r["port"]) == replica && r["flags"] == "slave" && r["master-link-status"] == "ok" {
					seen = true
				}
			}
			peers, err := sc.Sentinels(ctx, sentinelMaster).Result()
			if err != nil {
				return false, err.Error()
			}
			return seen && len(peers) == n-1, fmt.Sprintf("replicas %v, sentinels %v", reps, peers)
		})
	}
	return s
}

// privateSentinel runs a Sentinel of our own (redis-server --sentinel) on a
// free loopback port, monitoring master with the given quorum. Sentinel
// rewrites its configuration file, so it lives in a fresh temporary
// directory. The process is killed when the test ends.
func privateSentinel(t *testing.T, master string, quorum int) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		storetest.SkipOrFail(t, "redis-server not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	mhost, mport, _ := net.SplitHostPort(master)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	cfg := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
daemonize no
logfile ""
dir %s
sentinel monitor %s %s %s %d
sentinel down-after-milliseconds %[3]s 500
sentinel failover-timeout %[3]s 3000
sentinel parallel-syncs %[3]s 1
`, port, dir, sentinelMaster, mhost, mport, quorum)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: addr})
	defer sc.Close()
	waitFor(t, 10*time.Second, "sentinel "+addr+" answers", func() (bool, string) {
		select {
		case <-exited:
			t.Fatalf("sentinel on %s exited (config:\n%s)", addr, cfg)
		default:
		}
		_, err := sc.GetMasterAddrByName(context.Background(), sentinelMaster).Result()
		return err == nil, fmt.Sprint(err)
	})
	return addr
}

// waitFor polls cond every 20 ms until it holds, failing the test with
// what (and cond's last detail) after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v (%s)", what, limit, detail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestContractSentinel runs the whole suite through a Sentinel URL: the
// store asks the sentinel for the master and talks to it.
func TestContractSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := startSentinelSetup(t, 1)
	// As a least-privilege user. ACL users are not replicated: the user
	// is created on the master and on the replica with one password.
	mc := goredis.NewClient(&goredis.Options{Addr: s.master})
	defer mc.Close()
	rc := goredis.NewClient(&goredis.Options{Addr: s.replica})
	defer rc.Close()
	user, pass := aclUser(t, mc, rc)
	// In a Sentinel URL the user info authenticates to the sentinels; the
	// master's user and password are query parameters (go-redis).
	storetest.Run(t, contractConfig(s.url()+"&username="+user+"&password="+pass))
}

// replOffset reads one integer field of INFO replication.
func replOffset(ctx context.Context, c *goredis.Client, field string) (int64, error) {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO replication", field)
}

// TestSentinelFailover kills the master (SIGKILL) under a store opened
// through three sentinels. While the sentinels fail over, every operation
// fails closed with ErrUnavailable within the timeout and never answers a
// wrong decision; once the replica is promoted the same store (not
// reopened) serves again, and the revocation and the consumed nonce that
// had reached the replica before the crash are still enforced.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	start := time.Now()
	const bound = 30 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()

	s := startSentinelSetup(t, 3)
	setupTook := time.Since(start)
	const timeout = 500 * time.Millisecond
	st := open(t, s.url(), a1redis.Options{Timeout: timeout})
	defer st.Close()

	tenant := "failover"
	fp := storetest.Rand32()
	exp := time.Now().Add(time.Hour)
	used := store.Nonce{Key: storetest.Rand32(), ExpiresAt: exp}
	if _, err := st.Revoke(ctx, tenant, []store.Revocation{{Fingerprint: fp, Reason: "before failover"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{used}}); err != nil {
		t.Fatal(err)
	}
	revoked := func(err error) bool {
		var re *store.RevokedError
		return errors.As(err, &re) && re.Index == 0 && re.Fingerprint == fp
	}
	if err := st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Fingerprints: [][32]byte{fp}}); !revoked(err) {
		t.Fatalf("before failover: %v, want CERT_REVOKED", err)
	}

	// Both writes have reached the replica: its offset has caught up
	// with the master's.
	mc := goredis.NewClient(&goredis.Options{Addr: s.master})
	defer mc.Close()
	rc := goredis.NewClient(&goredis.Options{Addr: s.replica})
	defer rc.Close()
	moff, err := replOffset(ctx, mc, "master_repl_offset")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "replica caught up", func() (bool, string) {
		roff, err := replOffset(ctx, rc, "slave_repl_offset")
		return err == nil && roff >= moff, fmt.Sprintf("master %d, replica %d, %v", moff, roff, err)
	})

	s.stopMaster()
	killed := time.Now()

	// Probe until the store serves again. Every answer is either
	// ErrUnavailable (within the timeout) or the right decision.
	type probe struct {
		name string
		run  func() error
		// right reports whether a non-unavailable answer is correct.
		right func(error) bool
	}
	probes := []probe{
		{"Authorize(revoked cert)", func() error {
			return st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Fingerprints: [][32]byte{fp}})
		}, revoked},
		{"Authorize(consumed nonce)", func() error {
			return st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{used}})
		}, func(err error) bool { return errors.Is(err, store.ErrReplay) }},
		{"RevocationStatus", func() error {
			_, ok, err := st.RevocationStatus(ctx, tenant, fp)
			if err == nil && !ok {
				return errors.New("not revoked")
			}
			return err
		}, func(err error) bool { return err == nil }},
		{"Authorize(fresh nonce)", func() error {
			return st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: exp}}})
		}, func(err error) bool { return err == nil }},
	}
	unavailable, answered := 0, 0
	var slowest time.Duration
	for {
		if ctx.Err() != nil {
			t.Fatalf("no failover within %v of the test's start (master killed %v after start, setup took %v): "+
				"%d unavailable answers, the store never served again; sentinels say %v",
				bound, killed.Sub(start).Round(time.Millisecond), setupTook.Round(time.Millisecond), unavailable, sentinelMasterAddrs(s))
		}
		served := true
		for _, p := range probes {
			t0 := time.Now()
			err := p.run()
			took := time.Since(t0)
			slowest = max(slowest, took)
			if took > timeout+time.Second {
				t.Errorf("%s took %v, timeout %v", p.name, took, timeout)
			}
			switch {
			case errors.Is(err, store.ErrUnavailable):
				unavailable++
				served = false
			case p.right(err):
				answered++
			default:
				t.Fatalf("%s during failover: %v: a wrong decision", p.name, err)
			}
		}
		if served {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	recovered := time.Since(killed)
	if unavailable == 0 {
		t.Fatal("no operation failed after the master was killed: the test did not observe the failover")
	}
	// The server the store now talks to is the promoted replica.
	info, err := st.Client().Info(ctx, "server", "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rport, _ := net.SplitHostPort(s.replica)
	if !strings.Contains(info, "\r\ntcp_port:"+rport+"\r\n") || !strings.Contains(info, "\r\nrole:master\r\n") {
		t.Fatalf("store serves again, but not from the promoted replica %s; sentinels say %v; server INFO:\n%s", s.replica, sentinelMasterAddrs(s), info)
	}

	// The same store, not reopened, on the promoted replica.
	if err := st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Fingerprints: [][32]byte{fp}}); !revoked(err) {
		t.Fatalf("after failover: %v, want CERT_REVOKED", err)
	}
	if err := st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{used}}); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("nonce consumed before failover: %v, want replay", err)
	}
	n2 := store.Nonce{Key: storetest.Rand32(), ExpiresAt: exp}
	if err := st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n2}}); err != nil {
		t.Fatalf("fresh nonce after failover: %v", err)
	}
	if err := st.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n2}}); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("nonce consumed after failover: %v, want replay", err)
	}
	t.Logf("setup %v; served again %v after SIGKILL; %d unavailable answers (slowest %v, timeout %v), %d right decisions during failover",
		setupTook.Round(time.Millisecond), recovered.Round(time.Millisecond), unavailable, slowest.Round(time.Millisecond), timeout, answered)
}

// sentinelMasterAddrs asks every sentinel which master it names (for
// failure messages).
func sentinelMasterAddrs(s *sentinelSetup) []string {
	var out []string
	for _, a := range s.sentinels {
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: a})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
		cancel()
		sc.Close()
		if err != nil || len(m) != 2 {
			out = append(out, fmt.Sprintf("%s: unknown (%v)", a, err))
			continue
		}
		out = append(out, a+" names "+net.JoinHostPort(m[0], m[1]))
	}
	return out
}
