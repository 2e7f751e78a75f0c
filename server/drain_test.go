package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/server"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// drainCluster is a cluster whose nodes keep their addresses across
// restarts (fixed ports), so that they can advertise a client address for
// see-other-host and come back where clients expect them.
type drainCluster struct {
	t         testing.TB
	dsn       string
	routes    []int
	c2s       []int
	advertise bool
	tweak     func(*config.Config)

	mu    sync.Mutex // guards nodes
	nodes []*testserver.Server
}

func startDrainCluster(t testing.TB, n int, advertise bool, tweak func(*config.Config)) *drainCluster {
	t.Helper()
	c := &drainCluster{t: t, dsn: testpg.Start(t), advertise: advertise, tweak: tweak, nodes: make([]*testserver.Server, n)}
	for range n {
		c.routes = append(c.routes, testutil.FreePort(t))
		c.c2s = append(c.c2s, testutil.FreePort(t))
	}
	for i := range n {
		c.start(i)
	}
	c.waitMembers(n)
	return c
}

// addr is node i's client address (STARTTLS listener, plain TCP allowed).
func (c *drainCluster) addr(i int) string { return fmt.Sprintf("127.0.0.1:%d", c.c2s[i]) }

func (c *drainCluster) node(i int) *testserver.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// start starts node i, or starts it again after it stopped.
func (c *drainCluster) start(i int) {
	c.t.Helper()
	var peers []string
	for j, p := range c.routes {
		if j != i {
			peers = append(peers, fmt.Sprintf("nats://127.0.0.1:%d", p))
		}
	}
	s := testserver.Start(c.t, testserver.PlainTCP, func(cfg *config.Config) {
		cfg.Storage.Driver, cfg.Storage.PostgresDSN = config.DriverPostgres, c.dsn
		cfg.Listeners.C2S.Address = c.addr(i)
		cfg.Cluster.NodeName = fmt.Sprintf("node%d", i+1)
		cfg.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", c.routes[i])
		cfg.Cluster.Peers = peers
		cfg.Cluster.Heartbeat = 200 * time.Millisecond
		cfg.Cluster.DeadAfter = time.Second
		if c.advertise {
			cfg.Cluster.ClientAddress = c.addr(i)
		}
		if c.tweak != nil {
			c.tweak(cfg)
		}
	})
	c.mu.Lock()
	c.nodes[i] = s
	c.mu.Unlock()
}

// waitMembers waits until every running node sees n live nodes.
func (c *drainCluster) waitMembers(n int) {
	c.t.Helper()
	for i := range c.nodes {
		s := c.node(i)
		if !testutil.Poll(crossSeen, func() bool { return len(liveNodes(s)) == n }) {
			c.t.Fatalf("node%d sees %v, want %d nodes", i+1, liveNodes(s), n)
		}
	}
}

// drain drains node i and waits for it to finish.
func (c *drainCluster) drain(i int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.node(i).Drain(ctx, nil); err != nil {
		c.t.Fatalf("drain node%d: %v", i+1, err)
	}
}

func dialAt(ctx context.Context, addr, local, resource string) (*xmppclient.Client, error) {
	return xmppclient.Dial(ctx, xmppclient.Config{Addr: addr, Domain: crossDomain, Username: local, Password: crossPassword, Resource: resource})
}

// healthStatus is GET /healthz's status code.
func healthStatus(t *testing.T, s *testserver.Server) int {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTP() + "/healthz")
	if err != nil {
		return 0 // already stopped
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A drained node sends its clients to the other node by see-other-host
// when that node advertises an address, and closes the stream cleanly when
// none does; it reports itself draining meanwhile (health 503, cluster
// view), and the moved clients carry on at the other node.
func TestDrainMovesClients(t *testing.T) {
	for _, tc := range []struct {
		name      string
		advertise bool
	}{
		{"see-other-host to an advertised address", true},
		{"clean close without addresses", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startDrainCluster(t, 2, tc.advertise, func(cfg *config.Config) { cfg.Cluster.DrainRate = 1 })
			e := &crossEnv{t: t, nodes: []*testserver.Server{c.node(0), c.node(1)}, seq: new(atomic.Int32)}
			users := e.accounts("alice", "bob", "carol", "dave")
			var moving []*xmppclient.Client
			for _, u := range users[:3] {
				cl, err := dialAt(t.Context(), c.addr(0), u, "pc")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = cl.Close() })
				moving = append(moving, cl)
			}
			dave := e.online(1, users[3], "pc", 0)

			drained := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				drained <- c.node(0).Drain(ctx, nil)
			}()
			// One client a second: the drain lasts long enough to watch.
			waitUntil(t, crossWait, "node1's health check answers 503 while it drains", func() bool {
				return healthStatus(t, c.node(0)) == http.StatusServiceUnavailable
			})
			waitUntil(t, crossWait, "node2 sees node1 draining", func() bool {
				for _, n := range c.node(1).Status().Nodes {
					if n.Name == "node1" {
						return n.Draining
					}
				}
				return false
			})
			if _, err := net.Dial("tcp", c.addr(0)); err == nil {
				t.Error("node1 still accepts connections while draining")
			}

			for i, cl := range moving {
				ctx, cancel := context.WithTimeout(context.Background(), crossWait)
				_, err := cl.Expect(ctx, func(*stanza.Element) bool { return false })
				cancel()
				var se *stanza.StreamError
				switch {
				case tc.advertise && (!errors.As(err, &se) || se.Condition != stanza.SeeOtherHost || se.Other != c.addr(1)):
					t.Fatalf("client %d: stream ended with %v, want see-other-host to %s", i, err, c.addr(1))
				case !tc.advertise && !errors.Is(err, stanza.ErrStreamClosed):
					t.Fatalf("client %d: stream ended with %v, want a clean close", i, err)
				}
			}
			select {
			case err := <-drained:
				if err != nil {
					t.Fatalf("Drain: %v", err)
				}
			case <-time.After(crossWait):
				t.Fatal("Drain did not return after every client left")
			}
			waitUntil(t, crossSeen, "node1 gone from node2's view", func() bool {
				return !slices.Contains(liveNodes(c.node(1)), "node1")
			})

			// The moved client logs in where it was sent and chats on.
			e = &crossEnv{t: t, nodes: []*testserver.Server{c.node(1)}, seq: e.seq}
			dave.c.Close()
			dave = e.online(0, users[3], "pc", 0)
			again := e.online(0, users[0], "pc", 0)
			again.send("<message to='%s@localhost' type='chat' id='moved'><body>moved</body></message>", users[3])
			dave.expect("a message from the moved client", messageID("moved"))
		})
	}
}

// `parley drain` talks to the control socket: the node answers with the
// connections still open and "done" when it is over.
func TestDrainControlSocket(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", "secret")
	cl, err := dialAt(t.Context(), s.C2S(), "alice", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })

	ctl, err := net.Dial("unix", s.Config.ControlSocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if _, err := fmt.Fprintln(ctl, "drain"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.DrainRequested():
	case <-time.After(crossWait):
		t.Fatal("the control socket's drain did not reach the server")
	}
	// The process (cmd/parley serve) runs Drain when asked; here the test does.
	drained := make(chan error, 1)
	go func() { drained <- s.Drain(context.Background(), nil) }()
	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	if _, err := cl.Expect(ctx, func(*stanza.Element) bool { return false }); !errors.Is(err, stanza.ErrStreamClosed) {
		t.Fatalf("alice's stream ended with %v, want a clean close (a single node has nowhere to send her)", err)
	}
	_ = ctl.SetReadDeadline(time.Now().Add(crossWait))
	all, _ := io.ReadAll(ctl) // until the node closes it
	lines := strings.Split(strings.TrimSpace(string(all)), "\n")
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "open ") || lines[len(lines)-1] != "done" {
		t.Fatalf("control socket said %q, want open counts then done", lines)
	}
	if _, err := net.Dial("unix", s.Config.ControlSocketPath()); err == nil {
		t.Error("the control socket still answers after the node stopped")
	}
}

// The control socket refuses what it does not know, and a second node
// cannot start on the same socket.
func TestControlSocketErrors(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	ctl, err := net.Dial("unix", s.Config.ControlSocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	fmt.Fprintln(ctl, "reboot")
	_ = ctl.SetReadDeadline(time.Now().Add(crossWait))
	buf := make([]byte, 256)
	n, _ := ctl.Read(buf)
	if got := string(buf[:n]); !strings.HasPrefix(got, "error unknown command \"reboot\"") {
		t.Fatalf("control socket answered %q to an unknown command", got)
	}
	if s.Draining() {
		t.Fatal("an unknown command started a drain")
	}

	cfg := s.Config
	cfg.Listeners.C2S.Address, cfg.Listeners.C2STLS.Address, cfg.Listeners.HTTP.Address = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	other, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = other.Start(t.Context())
	if err == nil {
		_ = other.Shutdown(t.Context())
		t.Fatal("a second server started on a control socket in use")
	}
	if !strings.Contains(err.Error(), "another parley is running") {
		t.Fatalf("second server: %v, want it to say another parley is running", err)
	}
}

// mover is a client that follows its node: it sends numbered messages to
// a peer at a steady pace and, when its stream is closed, reconnects where
// it was sent (see-other-host) or to another node, as a client behind a
// load balancer would. It records every message it receives.
type mover struct {
	local, peer string
	addrs       []string

	mu   sync.Mutex
	sent []string       // ids of messages written before the stream ended
	got  map[string]int // ids received, with counts
	logs []string       // reconnections, for the failure message
}

func (m *mover) record(el *stanza.Element) {
	if el.Name != "message" || el.Child("body", stanza.NSClient) == nil {
		return
	}
	m.mu.Lock()
	m.got[el.ID()]++
	m.mu.Unlock()
}

func (m *mover) sentCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

// run sends total messages (one per pace) and keeps connected until stop
// is closed, bounded by ctx.
func (m *mover) run(ctx context.Context, total int, pace time.Duration, stop <-chan struct{}) {
	next := m.addrs[rand.IntN(len(m.addrs))]
	seq := 0
	for attempt := 0; attempt < 200 && ctx.Err() == nil; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := dialAt(dctx, next, m.local, "pc")
		cancel()
		if err != nil {
			m.logf("dial %s: %v", next, err)
			next = m.addrs[(slices.Index(m.addrs, next)+1)%len(m.addrs)]
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		_ = c.Send(stanza.New("presence", stanza.NSClient))
		ended := c.StartReader(ctx, m.record)
		tick := time.NewTicker(pace)
		var end error
	connected:
		for {
			select {
			case end = <-ended:
				break connected
			case <-stop:
				tick.Stop()
				_ = c.Close()
				return
			case <-ctx.Done():
				tick.Stop()
				_ = c.Close()
				return
			case <-tick.C:
				if seq >= total {
					continue
				}
				id := fmt.Sprintf("%s-%d", m.local, seq)
				msg := stanza.New("message", stanza.NSClient, "to", m.peer+"@"+crossDomain, "type", "chat", "id", id).
					Append(stanza.New("body", stanza.NSClient).SetText(id))
				if err := c.Send(msg); err != nil {
					continue // the stream is going; the reader will say how
				}
				m.mu.Lock()
				m.sent = append(m.sent, id)
				m.mu.Unlock()
				seq++
			}
		}
		tick.Stop()
		_ = c.Close()
		var se *stanza.StreamError
		if errors.As(end, &se) && se.Condition == stanza.SeeOtherHost && se.Other != "" {
			m.logf("redirected to %s", se.Other)
			next = se.Other
		} else {
			m.logf("stream ended (%v); trying another node", end)
			next = m.addrs[(slices.Index(m.addrs, next)+1)%len(m.addrs)]
		}
	}
}

func (m *mover) logf(format string, args ...any) {
	m.mu.Lock()
	m.logs = append(m.logs, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

// missing lists the ids sender sent that m has not received; dups those
// received more than once.
func (m *mover) missing(sender *mover) (missing, dups []string) {
	sender.mu.Lock()
	sent := append([]string(nil), sender.sent...)
	sender.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range sent {
		if m.got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range m.got {
		if n > 1 {
			dups = append(dups, id)
		}
	}
	return missing, dups
}

// A rolling restart of all three nodes under chat load loses no message:
// each node in turn is drained (its clients move to the others), stopped
// and started again, while clients on every node keep chatting with
// clients on other nodes. Every message a client wrote before its stream
// ended reaches its peer exactly once, without the peer logging in again:
// live, or from offline storage when it was stored in the instant the
// peer moved (im: offlineStored).
func TestRollingRestartUnderLoad(t *testing.T) {
	c := startDrainCluster(t, 3, true, nil)
	e := &crossEnv{t: t, nodes: []*testserver.Server{c.node(0), c.node(1), c.node(2)}, seq: new(atomic.Int32)}
	users := e.accounts("u0", "u1", "u2", "u3", "u4", "u5")
	addrs := []string{c.addr(0), c.addr(1), c.addr(2)}
	var movers []*mover
	for i, u := range users {
		movers = append(movers, &mover{local: u, peer: users[(i+3)%len(users)], addrs: addrs, got: make(map[string]int)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const total = 400
	for _, m := range movers {
		wg.Go(func() { m.run(ctx, total, 15*time.Millisecond, stop) })
	}
	sentSoFar := func() int {
		n := 0
		for _, m := range movers {
			n += m.sentCount()
		}
		return n
	}
	for i := range 3 {
		before := sentSoFar()
		waitUntil(t, crossWait, "chat traffic before the next restart", func() bool { return sentSoFar() >= before+60 })
		c.drain(i)
		c.start(i)
		c.waitMembers(3)
	}
	waitUntil(t, 2*time.Minute, "every client to send all its messages", func() bool { return sentSoFar() == total*len(movers) })

	byLocal := make(map[string]*mover)
	for _, m := range movers {
		byLocal[m.local] = m
	}
	complete := func() bool {
		for _, m := range movers {
			if miss, _ := byLocal[m.peer].missing(m); len(miss) > 0 {
				return false
			}
		}
		return true
	}
	testutil.Poll(crossWait, complete)
	close(stop)
	wg.Wait()
	moves := 0
	for _, m := range movers {
		n := 0
		for _, l := range m.logs {
			if strings.HasPrefix(l, "redirected") {
				n++
			}
		}
		if n == 0 {
			// Every node was drained once, so every client was moved.
			t.Errorf("%s was never redirected: %v", m.local, m.logs)
		}
		moves += n
	}
	t.Logf("%d messages sent across 3 rolling restarts; %d see-other-host moves", total*len(movers), moves)
	for _, m := range movers {
		peer := byLocal[m.peer]
		miss, dups := peer.missing(m)
		if len(miss) > 0 {
			t.Errorf("%s lost %d of %s's messages: %v\n%s's reconnections: %v", m.peer, len(miss), m.local, miss, m.peer, peer.logs)
		}
		if len(dups) > 0 {
			t.Errorf("%s got messages twice: %v", m.peer, dups)
		}
	}
}

// waitUntil polls fn until it is true, failing the test with what when
// timeout passes first.
func waitUntil(t testing.TB, timeout time.Duration, what string, fn func() bool) {
	t.Helper()
	if !testutil.Poll(timeout, fn) {
		t.Fatalf("not within %v: %s", timeout, what)
	}
}

// Draining a node, a client with resumable stream management just loses
// its connection: it comes back on another node and resumes there, with
// what arrived in between; the drain ends once the session has moved.
func TestDrainResumesElsewhere(t *testing.T) {
	c := startDrainCluster(t, 2, false, nil)
	e := &crossEnv{t: t, nodes: []*testserver.Server{c.node(0), c.node(1)}, seq: new(atomic.Int32)}
	users := e.accounts("alice", "bob")
	bob, alice, id := resumableAlice(t, e, users)

	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		drained <- c.node(0).Drain(ctx, nil)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	if _, err := alice.c.Expect(ctx, func(*stanza.Element) bool { return false }); err == nil || errors.As(err, new(*stanza.StreamError)) || errors.Is(err, stanza.ErrStreamClosed) {
		t.Fatalf("alice's stream ended with %v, want the connection dropped without a word", err)
	}
	bob.send("<message to='%s' type='chat' id='between'><body>between</body></message>", alice.jid())
	bob.sync()

	again, err := dialAuth(ctx, c.addr(1), users[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	moved := &crossClient{t: t, name: users[0] + "@node2", c: again}
	smSend(t, again, fmt.Sprintf("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='1'/>", id))
	moved.expect("<resumed/>", func(el *stanza.Element) bool { return el.Is("resumed", "urn:xmpp:sm:3") })
	moved.expect("the message sent while she moved", messageID("between"))
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("Drain: %v", err)
		}
	case <-time.After(crossWait):
		t.Fatal("the drain did not end after the session moved")
	}
	if msg := bob.none("alice going unavailable", presenceFrom(alice.jid(), "unavailable")); msg != "" {
		t.Error(msg)
	}
}

func dialAuth(ctx context.Context, addr, local string) (*xmppclient.Client, error) {
	return xmppclient.Dial(ctx, xmppclient.Config{Addr: addr, Domain: crossDomain, Username: local, Password: crossPassword, StopAfter: xmppclient.StageAuth})
}

// subscribeTo makes subscriber subscribed to contact's presence (and not
// the other way round), in storage.
func subscribeTo(t *testing.T, e *crossEnv, subscriber, contact string) {
	t.Helper()
	for _, it := range []struct{ owner, other, sub string }{
		{subscriber, contact, storage.SubTo}, {contact, subscriber, storage.SubFrom},
	} {
		if _, err := e.nodes[0].Store().PutRosterItem(t.Context(), it.owner+"@"+crossDomain, storage.RosterItem{Contact: it.other + "@" + crossDomain, Subscription: it.sub}); err != nil {
			t.Fatal(err)
		}
	}
}
