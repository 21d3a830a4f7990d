package redis_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/a1-go/a1/store"
	a1redis "github.com/a1-go/a1/store/redis"
	"github.com/a1-go/a1/store/storetest"
)

// replyDropper forwards TCP to target; when armed, it swallows the next
// reply the server sends and closes that connection: the command ran on
// the server, the client sees the connection drop (EOF).
type replyDropper struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	wg     sync.WaitGroup
}

func (d *replyDropper) handle(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", d.target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if d.armed.CompareAndSwap(true, false) {
				return // the reply is lost, the connection drops
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestClusterAuthorizeNotRetried: the cluster client retries a command
// whose connection dropped (EOF) on its own, whatever MaxRetries says. An
// Authorize whose script ran but whose reply was lost must fail closed as
// ErrUnavailable; retried, it would answer "replay" to the legitimate
// request that consumed the nonce.
func TestClusterAuthorizeNotRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	// The node announces the proxy's address, so the cluster client's
	// topology (CLUSTER SLOTS) routes every command through it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxyPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr, _ := oneNodeCluster(t, "--cluster-announce-ip", "127.0.0.1", "--cluster-announce-port", strconv.Itoa(proxyPort))
	ctx := context.Background()
	d := &replyDropper{target: addr}
	if d.ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(proxyPort)); err != nil {
		t.Skipf("proxy port taken meanwhile: %v", err)
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			conn, err := d.ln.Accept()
			if err != nil {
				return
			}
			d.wg.Add(1)
			go func() { defer d.wg.Done(); d.handle(conn) }()
		}
	}()
	t.Cleanup(func() { d.ln.Close(); d.wg.Wait() })

	s := open(t, "redis://"+d.ln.Addr().String()+"?cluster=true", a1redis.Options{})
	defer s.Close()
	tenant := storetest.RandomPrefix()
	exp := time.Now().Add(time.Hour)
	// Warm up: topology known, script loaded, a pooled connection.
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{{Key: storetest.Rand32(), ExpiresAt: exp}}}); err != nil {
		t.Fatal(err)
	}
	n := store.Nonce{Key: storetest.Rand32(), ExpiresAt: exp}
	d.armed.Store(true)
	err = s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}})
	if d.armed.Load() {
		t.Fatal("no reply was dropped")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Authorize whose reply was lost = %v, want ErrUnavailable (the script ran once; a retry answers replay)", err)
	}
	// The script did run: the nonce is consumed.
	if err := s.Authorize(ctx, store.AuthorizeRequest{Tenant: tenant, Nonces: []store.Nonce{n}}); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("after the lost reply: %v, want a replay", err)
	}
}
