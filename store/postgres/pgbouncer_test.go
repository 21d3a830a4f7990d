package postgres_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/storetest"
)

// startPgBouncer runs a private PgBouncer in transaction pooling mode on a
// free loopback port in front of the test server, and returns its
// host:port. PgBouncer refuses to run as root, so under root it runs as
// the postgres user.
func startPgBouncer(t *testing.T, upstream *url.URL) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer"
		if _, serr := os.Stat(bin); serr != nil {
			storetest.SkipOrFail(t, "pgbouncer not installed (scripts/services.sh installs it)")
		}
	}
	dir, err := os.MkdirTemp("", "a1-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	host, upPort, err := net.SplitHostPort(upstream.Host)
	if err != nil {
		host, upPort = upstream.Host, "5432"
	}
	dbUser := upstream.User.Username()
	if dbUser == "" {
		dbUser = "postgres"
	}
	cfg := fmt.Sprintf(`[databases]
* = host=%s port=%s user=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 200
default_pool_size = 4
ignore_startup_parameters = extra_float_digits,search_path
logfile = %s
pidfile = %s
`, host, upPort, dbUser, port, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	cfgPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, cfgPath)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			storetest.SkipOrFail(t, "pgbouncer needs a non-root user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestContractThroughPgBouncer runs the contract suite through PgBouncer in
// transaction pooling mode, in the default (exec) query mode and in the
// simple protocol. Each operation is one statement, so no session state
// is needed.
func TestContractThroughPgBouncer(t *testing.T) {
	direct := dbURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	bouncer := *u
	bouncer.Host = startPgBouncer(t, u)
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			v := bouncer
			q := v.Query()
			q.Set("default_query_exec_mode", mode)
			v.RawQuery = q.Encode()
			contract(t, v.String(), direct)
		})
	}
	// Migrate works through PgBouncer too (one transaction, xact lock).
	s := open(t, postgres.Config{URL: bouncer.String()})
	defer s.Close()
	if err := postgres.Migrate(context.Background(), s.Pool()); err != nil {
		t.Fatalf("Migrate through pgbouncer: %v", err)
	}
	if ok, err := postgres.MigrationsApplied(context.Background(), s.Pool()); err != nil || !ok {
		t.Fatalf("MigrationsApplied through pgbouncer: %v %v", ok, err)
	}
}
