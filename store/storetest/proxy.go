package storetest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP forwarder on 127.0.0.1 in front of a real server. A test
// points a backend at Proxy.Addr and then cuts or stalls the link to see
// the backend fail closed, without touching the shared server.
type Proxy struct {
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	stalled bool
	closed  bool
	wg      sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target. It is
// closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: make(map[net.Conn]struct{})}
	p.serve(ln)
	t.Cleanup(p.Close)
	return p
}

// Addr is the host:port clients dial.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.handle(c)
			}()
		}
	}()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) handle(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	p.mu.Lock()
	stalled := p.stalled
	p.mu.Unlock()
	if stalled {
		// Accept and say nothing: the client must time out on its own.
		_, _ = io.Copy(io.Discard, c)
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(up) {
		up.Close()
		c.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

func (p *Proxy) dropConns() {
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Cut closes every open connection and stops listening: new dials are
// refused, as with a server that went away.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.dropConns()
}

// Stall closes every open connection and then accepts new ones without
// ever answering, as with a hung server or a black-holed network.
func (p *Proxy) Stall() { p.reopen(true) }

// Restore forwards again on the same address.
func (p *Proxy) Restore() { p.reopen(false) }

// reopen closes every open connection and listens again (after Cut), new
// connections then stalled or forwarded.
func (p *Proxy) reopen(stalled bool) {
	p.mu.Lock()
	p.stalled = stalled
	p.dropConns()
	needListen := p.ln == nil
	p.mu.Unlock()
	if needListen {
		p.relisten()
	}
}

func (p *Proxy) relisten() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		// The port was taken meanwhile; the recovery check will fail loudly.
		return
	}
	p.serve(ln)
}

// Close stops the proxy for good.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Cut()
	p.wg.Wait()
}
