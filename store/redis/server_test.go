package redis_test

import (
	"context"
	"net"
	"os/exec"
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

// privateRedis runs a redis-server of our own on a free loopback port (the
// shared test server is never restarted or reconfigured). It returns the
// address and a function that kills the server (SIGKILL, a crash: only
// what the AOF already holds survives) and waits for it.
func privateRedis(t *testing.T, dir string, args ...string) (addr string, stop func()) {
	t.Helper()
	return privateRedisOnPort(t, dir, 0, args...)
}

// privateRedisOnPort is privateRedis on a given port (0: a free one), for
// restarts on the same address.
func privateRedisOnPort(t *testing.T, dir string, port int, args ...string) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		storetest.SkipOrFail(t, "redis-server not installed: %v", err)
	}
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	base := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--daemonize", "no", "--logfile", "", "--protected-mode", "no"}
	cmd := exec.Command(bin, append(base, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
	t.Cleanup(stop)
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("private redis on %s did not start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, stop
}

// TestContractCluster runs the whole suite against a one-node Redis
// Cluster through a ClusterClient, as a least-privilege ACL user. A cluster node refuses any multi-key
// command or script whose keys span slots (CROSSSLOT) even when it owns
// every slot, so this proves the {t:<tenant>} hash tags keep each
// Authorize, Revoke and listing within one slot.
func TestContractCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	addr, c := oneNodeCluster(t)
	ctx := context.Background()
	// Sanity: the node does enforce slots for scripts.
	err := c.Eval(ctx, "return 1", []string{"a1:{x}:1", "a1:{y}:1"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("cross-slot script: %v, want CROSSSLOT", err)
	}
	// As a user holding only ACLRule's permissions: the cluster client's
	// topology commands are in the rule too.
	user, pass := aclUser(t, c)
	url := "redis://" + user + ":" + pass + "@" + addr + "?cluster=true"
	storetest.Run(t, contractConfig(url))
}

// TestServerRestartWithAOF crashes (SIGKILL) and restarts a private server
// configured as docs/storage.md recommends (appendonly yes, appendfsync
// always): the revocation and the consumed nonce survive. Without AOF they do not,
// which is the documented replay window.
func TestServerRestartWithAOF(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		survive bool
	}{
		{"aof", []string{"--appendonly", "yes", "--appendfsync", "always"}, true},
		{"no persistence", []string{"--appendonly", "no"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			addr, stop := privateRedis(t, dir, tc.args...)
			url := "redis://" + addr + "/0"
			s := open(t, url, a1redis.Options{})
			ctx := context.Background()
			fp := storetest.Rand32()
			n := store.Nonce{Key: storetest.Rand32(), ExpiresAt: time.Now().Add(time.Hour)}
			if _, err := s.Revoke(ctx, "t", []store.Revocation{{Fingerprint: fp}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: "t", Nonces: []store.Nonce{n}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			stop()

			// Same port, same directory: a restart.
			_, portStr, _ := net.SplitHostPort(addr)
			port, _ := strconv.Atoi(portStr)
			addr2, _ := privateRedisOnPort(t, dir, port, tc.args...)
			s = open(t, "redis://"+addr2+"/0", a1redis.Options{})
			defer s.Close()
			_, revoked, err := s.RevocationStatus(ctx, "t", fp)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Authorize(ctx, store.AuthorizeRequest{Tenant: "t", Nonces: []store.Nonce{n}})
			replayed := err == nil
			if tc.survive && (!revoked || replayed) {
				t.Fatalf("with AOF: revoked=%v, nonce replayable=%v; want state kept", revoked, replayed)
			}
			if !tc.survive && (revoked || !replayed) {
				t.Fatalf("without persistence: revoked=%v, nonce replayable=%v; expected the state to be lost", revoked, replayed)
			}
		})
	}
}

// TestCheckServer: a server that may evict keys is reported; the default
// (noeviction) is not.
func TestCheckServer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		policy string
		warn   bool
	}{
		{"noeviction", false},
		{"allkeys-lru", true},
		{"volatile-ttl", true},
	} {
		addr, _ := privateRedis(t, t.TempDir(), "--maxmemory-policy", tc.policy, "--maxmemory", "64mb")
		s := open(t, "redis://"+addr+"/0", a1redis.Options{})
		got, err := s.CheckServer(ctx)
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.policy, err)
		}
		if warned := len(got) == 1 && strings.Contains(got[0], tc.policy); warned != tc.warn || (!tc.warn && len(got) != 0) {
			t.Errorf("%s: %q, want a warning: %v", tc.policy, got, tc.warn)
		}
	}
}

// oneNodeCluster starts a private Redis Cluster of one node holding every
// slot (extra are more redis-server arguments) and waits until it is ok. It
// returns the node's address and a plain client to it, closed with t.
func oneNodeCluster(t *testing.T, extra ...string) (string, *goredis.Client) {
	t.Helper()
	dir := t.TempDir()
	addr, _ := privateRedis(t, dir, append([]string{"--cluster-enabled", "yes", "--cluster-config-file", dir + "/nodes.conf", "--appendonly", "no"}, extra...)...)
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := c.ClusterInfo(ctx).Result()
		if strings.Contains(info, "cluster_state:ok") {
			return addr, c
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ok: %s", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
