package testutil

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxyDialTimeout bounds the proxy's dial of its upstream.
const proxyDialTimeout = 5 * time.Second

// Proxy forwards every TCP connection it accepts to one upstream address,
// for fault injection between the nodes of a cluster in tests. Cut resets
// the connections it carries and every one that arrives until Heal: both
// ends see the network fail at once, as after a firewall's reset. It does
// not delay, reorder or drop bytes inside a connection.
type Proxy struct {
	ln       net.Listener
	upstream string
	dialer   net.Dialer
	wg       sync.WaitGroup // the accept loop and every connection's pipes

	forwarded atomic.Int64 // connections carried to the upstream, ever

	mu     sync.Mutex // guards the fields below
	cut    bool
	closed bool
	conns  map[net.Conn]struct{} // both ends of every connection carried now
}

// ProxyConfig says where a Proxy listens and forwards to.
type ProxyConfig struct {
	Listen   string // host:port; port 0 picks a free one
	Upstream string // host:port the connections are carried to
	// Source, if set, is the local IP the proxy dials the upstream from,
	// so that the upstream sees connections come from that address.
	Source string
}

// StartProxy starts a proxy, closed when the test ends.
func StartProxy(t testing.TB, cfg ProxyConfig) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatalf("testutil: proxy listen %s: %v", cfg.Listen, err)
	}
	p := &Proxy{ln: ln, upstream: cfg.Upstream, conns: make(map[net.Conn]struct{})}
	p.dialer.Timeout = proxyDialTimeout
	if cfg.Source != "" {
		p.dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.Source)}
	}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Forwarded is how many connections the proxy has carried to its
// upstream so far (not those it reset on arrival).
func (p *Proxy) Forwarded() int { return int(p.forwarded.Load()) }

// Cut resets every connection the proxy carries, and from now on every
// connection that arrives, until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	conns := p.conns
	p.conns = make(map[net.Conn]struct{})
	p.mu.Unlock()
	for c := range conns {
		reset(c)
	}
}

// Heal makes the proxy carry new connections again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Close stops the proxy, resets what it carries and waits for its
// goroutines. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.carry(c) })
	}
}

// carry dials the upstream for one accepted connection and copies bytes
// both ways until either end closes or the proxy is cut.
func (p *Proxy) carry(c net.Conn) {
	if p.isCut() {
		reset(c)
		return
	}
	u, err := p.dialer.Dial("tcp", p.upstream)
	if err != nil {
		reset(c)
		return
	}
	if !p.track(c, u) {
		reset(c)
		reset(u)
		return
	}
	p.forwarded.Add(1)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done
	// One direction ended: end the other too (route connections are not
	// half-closed), then wait for it.
	p.untrack(c, u)
	_ = c.Close()
	_ = u.Close()
	<-done
}

func (p *Proxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut || p.closed
}

// track records a carried pair unless the proxy was cut meanwhile.
func (p *Proxy) track(c, u net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	p.conns[u] = struct{}{}
	return true
}

func (p *Proxy) untrack(c, u net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	delete(p.conns, u)
}

// reset closes c with an RST rather than a FIN, as a failed network path
// is seen by the other end.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
