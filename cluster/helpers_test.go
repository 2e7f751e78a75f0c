package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testutil"
	"go.uber.org/goleak"
)

// nats-server and nats.go end all their goroutines on Shutdown and Close,
// so no goleak option is needed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Short timings so that deaths are noticed in about a second.
const (
	testHeartbeat = 200 * time.Millisecond
	testDeadAfter = time.Second
)

// testNode is a started node with the knobs tests turn.
type testNode struct {
	*Node
	sessions *atomic.Int64
	events   *recorder
}

// testConfig is a node on a free loopback route port with short timings.
func testConfig(t *testing.T, name string, peers ...string) Config {
	return Config{
		NodeName:  name,
		Listen:    "127.0.0.1:0",
		Peers:     peers,
		Heartbeat: testHeartbeat,
		DeadAfter: testDeadAfter,
		Version:   "test-" + name,
		Log:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// startNode starts a node from cfg, records its events from the start and
// shuts it down when the test ends.
func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	sessions := new(atomic.Int64)
	if cfg.Sessions == nil {
		cfg.Sessions = func() int { return int(sessions.Load()) }
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", cfg.NodeName, err)
	}
	tn := &testNode{Node: n, sessions: sessions, events: &recorder{}}
	stop := n.Watch(tn.events.add)
	t.Cleanup(func() {
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown(%s): %v", n.Name(), err)
		}
	})
	return tn
}

// startCluster starts n nodes named n1..nN; each lists the nodes started
// before it as peers, and the helper waits until all see all.
func startCluster(t *testing.T, n int, tweak func(*Config)) []*testNode {
	t.Helper()
	var nodes []*testNode
	var peers []string
	for i := 1; i <= n; i++ {
		cfg := testConfig(t, fmt.Sprintf("n%d", i), peers...)
		if tweak != nil {
			tweak(&cfg)
		}
		tn := startNode(t, cfg)
		nodes = append(nodes, tn)
		peers = append(peers, tn.routeURL())
	}
	waitMembers(t, 5*time.Second, nodes, names(nodes)...)
	return nodes
}

// kill stops a node as a crash would: its NATS client and embedded server
// close, and it sends no leave message.
func (n *Node) kill(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.shutdown(ctx, false); err != nil {
		t.Fatalf("kill(%s): %v", n.Name(), err)
	}
}

func names(nodes []*testNode) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name())
	}
	slices.Sort(out)
	return out
}

func memberNames(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// waitMembers waits until every node in nodes sees exactly want.
func waitMembers(t *testing.T, timeout time.Duration, nodes []*testNode, want ...string) {
	t.Helper()
	eventually(t, timeout, func() error {
		for _, n := range nodes {
			if got := memberNames(n.Members()); !slices.Equal(got, want) {
				return fmt.Errorf("%s sees %v, want %v", n.Name(), got, want)
			}
		}
		return nil
	})
}

// eventually polls fn until it returns nil, failing the test with fn's last
// error when timeout has passed.
func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	var last error
	if !testutil.Poll(timeout, func() bool { last = fn(); return last == nil }) {
		t.Fatalf("not within %v: %v", timeout, last)
	}
}

// recorder keeps the events a watcher was given, with their arrival time.
type recorder struct {
	mu     sync.Mutex
	events []Event
	at     []time.Time
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	r.at = append(r.at, time.Now())
}

// find returns the first event of kind about node name (and run id, unless
// empty), and when it arrived.
func (r *recorder) find(kind EventKind, name, id string) (Event, time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, ev := range r.events {
		if ev.Kind == kind && ev.Member.Name == name && (id == "" || ev.Member.ID == id) {
			return ev, r.at[i], true
		}
	}
	return Event{}, time.Time{}, false
}

// wait waits for an event and returns its arrival time.
func (r *recorder) wait(t *testing.T, timeout time.Duration, kind EventKind, name, id string) time.Time {
	t.Helper()
	var at time.Time
	eventually(t, timeout, func() error {
		var ok bool
		if _, at, ok = r.find(kind, name, id); !ok {
			return fmt.Errorf("no %v event for %s %s; have %v", kind, name, id, r.String())
		}
		return nil
	})
	return at
}

// index is the position of an event, or -1.
func (r *recorder) index(kind EventKind, name, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, ev := range r.events {
		if ev.Kind == kind && ev.Member.Name == name && ev.Member.ID == id {
			return i
		}
	}
	return -1
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, ev := range r.events {
		s = append(s, fmt.Sprintf("%v:%s/%.6s", ev.Kind, ev.Member.Name, ev.Member.ID))
	}
	return fmt.Sprint(s)
}
