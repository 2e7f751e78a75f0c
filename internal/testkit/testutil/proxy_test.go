package testutil

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// ioWait bounds every read in these tests.
const ioWait = 5 * time.Second

// echoServer answers every line with the same line, and counts the
// connections it accepted and where they came from.
type echoServer struct {
	ln       net.Listener
	wg       sync.WaitGroup
	accepted atomic.Int64

	mu      sync.Mutex
	sources []string // remote IPs, in accept order
	conns   []net.Conn
}

func startEcho(t *testing.T, addr string) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			e.mu.Lock()
			e.sources = append(e.sources, c.RemoteAddr().(*net.TCPAddr).IP.String())
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			})
		}
	})
	t.Cleanup(e.close)
	return e
}

func (e *echoServer) close() {
	_ = e.ln.Close()
	e.mu.Lock()
	for _, c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

func (e *echoServer) lastSource() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.sources) == 0 {
		return ""
	}
	return e.sources[len(e.sources)-1]
}

// roundTrip sends a line on c and returns the answer.
func roundTrip(c net.Conn, r *bufio.Reader, line string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(ioWait))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

func dialThrough(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

// expectBroken checks that c fails (reset or closed) rather than answer
// or time out.
func expectBroken(t *testing.T, c net.Conn, r *bufio.Reader, what string) {
	t.Helper()
	got, err := roundTrip(c, r, "anyone?")
	switch {
	case err == nil:
		t.Errorf("%s: got answer %q, want a broken connection", what, got)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Errorf("%s: the connection hung until the deadline, want it reset", what)
	}
}

func TestProxyCutAndHeal(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	p := StartProxy(t, ProxyConfig{Listen: "127.0.0.1:0", Upstream: echo.ln.Addr().String()})

	c1, r1 := dialThrough(t, p.Addr())
	if got, err := roundTrip(c1, r1, "hello"); err != nil || got != "hello" {
		t.Fatalf("through the proxy: %q, %v; want the echo", got, err)
	}

	p.Cut()
	expectBroken(t, c1, r1, "a connection carried when the proxy was cut")
	// A connection made while cut is reset, before or after the dial
	// completes.
	if c2, err := net.DialTimeout("tcp", p.Addr(), ioWait); err == nil {
		expectBroken(t, c2, bufio.NewReader(c2), "a connection made while the proxy is cut")
		_ = c2.Close()
	}
	if n := echo.accepted.Load(); n != 1 {
		t.Errorf("the upstream accepted %d connections, want 1: none while cut", n)
	}

	p.Heal()
	c3, r3 := dialThrough(t, p.Addr())
	if got, err := roundTrip(c3, r3, "again"); err != nil || got != "again" {
		t.Fatalf("after Heal: %q, %v; want the echo", got, err)
	}
	if n := p.Forwarded(); n != 2 {
		t.Errorf("Forwarded() = %d, want 2", n)
	}

	// Close ends every goroutine of the proxy, with a connection open.
	p.Close()
	p.Close() // idempotent
	expectBroken(t, c3, r3, "a connection carried when the proxy closed")
	echo.close()
	goleak.VerifyNone(t)
}

// Many connections at once, cut while they are busy: none hangs, and the
// proxy ends cleanly (run with -race).
func TestProxyConcurrentCut(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	p := StartProxy(t, ProxyConfig{Listen: "127.0.0.1:0", Upstream: echo.ln.Addr().String()})
	const clients = 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	started := make(chan struct{}, clients)
	for range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", p.Addr(), ioWait)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			for i := range 1000 { // bounded: the cut ends it much earlier
				if _, err := roundTrip(c, r, "ping"); err != nil {
					if errors.Is(err, os.ErrDeadlineExceeded) {
						errs <- err
					}
					return
				}
				if i == 0 {
					started <- struct{}{}
				}
			}
		})
	}
	for range clients {
		select {
		case <-started:
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(ioWait):
			t.Fatal("clients did not start")
		}
	}
	p.Cut()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a client hung instead of seeing the cut: %v", err)
	}
	p.Close()
	echo.close()
	goleak.VerifyNone(t)
}

func TestMesh(t *testing.T) {
	m := NewMesh(t, 3)
	echoes := make([]*echoServer, 3)
	for i := range echoes {
		echoes[i] = startEcho(t, m.Listen(i))
	}
	through := func(i, j int) error {
		c, err := net.DialTimeout("tcp", m.Proxy(i, j).Addr(), ioWait)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err := roundTrip(c, bufio.NewReader(c), "hi")
		if err == nil && got != "hi" {
			err = errors.New("wrong answer " + got)
		}
		return err
	}
	for i := range 3 {
		if len(m.Peers(i)) != 2 {
			t.Errorf("node %d has peers %v, want 2", i, m.Peers(i))
		}
		for j := range 3 {
			if i == j {
				continue
			}
			if err := through(i, j); err != nil {
				t.Errorf("%d -> %d: %v", i, j, err)
			}
			// What the node sees, and so what NATS would gossip: the
			// proxies' address, where no node listens.
			if src := echoes[j].lastSource(); src != meshProxyIP {
				t.Errorf("node %d saw a connection from %s, want %s", j, src, meshProxyIP)
			}
		}
	}

	m.Cut(0, 1)
	for _, pair := range [][2]int{{0, 1}, {1, 0}} {
		if err := through(pair[0], pair[1]); err == nil {
			t.Errorf("%d -> %d still carried after Cut(0, 1)", pair[0], pair[1])
		}
	}
	for _, pair := range [][2]int{{0, 2}, {2, 0}, {1, 2}, {2, 1}} {
		if err := through(pair[0], pair[1]); err != nil {
			t.Errorf("%d -> %d after Cut(0, 1): %v", pair[0], pair[1], err)
		}
	}
	m.HealAll()
	m.Split(2)
	for _, pair := range [][2]int{{0, 2}, {2, 0}, {1, 2}, {2, 1}} {
		if err := through(pair[0], pair[1]); err == nil {
			t.Errorf("%d -> %d still carried after Split(2)", pair[0], pair[1])
		}
	}
	if err := through(0, 1); err != nil {
		t.Errorf("0 -> 1 after Split(2): %v", err)
	}
	m.HealAll()
	if err := through(2, 0); err != nil {
		t.Errorf("2 -> 0 after HealAll: %v", err)
	}
}
