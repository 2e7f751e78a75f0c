package server_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/stanza"
)

// The tests below cut the NATS routes between real nodes with proxies
// (testutil.Mesh) and check what docs/cluster.md promises for network
// partitions: each side declares the other dead after dead_after and
// carries on; when the routes heal, the directories converge with nothing
// to repair by hand.

// partEnv is a cluster whose routes go through a testutil.Mesh.
type partEnv struct {
	*crossEnv
	mesh *testutil.Mesh
}

func newPartEnv(t *testing.T, n int, opts ...testserver.Option) *partEnv {
	t.Helper()
	mesh := testutil.NewMesh(t, n)
	nodes := startNodesWith(t, n, func(i int) (string, []string) { return mesh.Listen(i), mesh.Peers(i) }, opts...)
	return &partEnv{crossEnv: &crossEnv{t: t, nodes: nodes, seq: new(atomic.Int32)}, mesh: mesh}
}

// waitViews waits until node i (0-based) sees exactly the nodes views[i].
func (e *partEnv) waitViews(views ...[]int) {
	e.t.Helper()
	for i, view := range views {
		var want []string
		for _, j := range view {
			want = append(want, fmt.Sprintf("node%d", j+1))
		}
		slices.Sort(want)
		if !testutil.Poll(crossWait, func() bool { return slices.Equal(liveNodes(e.nodes[i]), want) }) {
			e.t.Fatalf("node%d sees %v, want %v", i+1, liveNodes(e.nodes[i]), want)
		}
	}
}

// healed heals every cut and waits until every node sees all of them.
func (e *partEnv) healed() {
	e.t.Helper()
	e.mesh.HealAll()
	all := make([]int, len(e.nodes))
	for i := range all {
		all[i] = i
	}
	views := make([][]int, len(e.nodes))
	for i := range views {
		views[i] = all
	}
	e.waitViews(views...)
}

// onlineOn logs local/resource in on node, sends available presence with
// the status, and waits until the nodes listed (0-based) see it available.
func (e *partEnv) onlineOn(node int, local, resource, status string, seenBy ...int) *crossClient {
	e.t.Helper()
	c := e.dial(node, local, resource)
	c.roster()
	c.status(status)
	e.waitAvailableOn(c, seenBy...)
	return c
}

// waitAvailableOn waits until each of the nodes has c available.
func (e *partEnv) waitAvailableOn(c *crossClient, nodes ...int) {
	e.t.Helper()
	for _, i := range nodes {
		if !testutil.Poll(crossSeen, func() bool {
			s := e.nodes[i].Router().Session(c.c.JID())
			if s == nil {
				return false
			}
			a, _ := s.Available()
			return a
		}) {
			e.t.Fatalf("node%d never saw %s available", i+1, c.jid())
		}
	}
}

// waitResourceGone waits until none of the nodes has c's full JID.
func (e *partEnv) waitResourceGone(c *crossClient, nodes ...int) {
	e.t.Helper()
	for _, i := range nodes {
		if !testutil.Poll(crossSeen, func() bool { return e.nodes[i].Router().Session(c.c.JID()) == nil }) {
			e.t.Fatalf("node%d still has %s", i+1, c.jid())
		}
	}
}

// where is, for one node, every full JID it routes to and the node that
// holds it.
func (e *partEnv) where(i int) map[string]string {
	out := map[string]string{}
	for _, s := range e.nodes[i].Router().All() {
		holder := s.Node()
		if holder == "" {
			holder = fmt.Sprintf("node%d", i+1)
		}
		out[s.JID().String()] = holder
	}
	return out
}

// converged waits until every node routes the same full JIDs to the same
// nodes, which must be want ("jid" -> "nodeN") for the users given.
func (e *partEnv) converged(want map[string]string, locals ...string) {
	e.t.Helper()
	mine := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for j, n := range m {
			for _, l := range locals {
				if strings.HasPrefix(j, l+"@") {
					out[j] = n
				}
			}
		}
		return out
	}
	var last []map[string]string
	if !testutil.Poll(crossWait, func() bool {
		last = last[:0]
		ok := true
		for i := range e.nodes {
			last = append(last, mine(e.where(i)))
			ok = ok && maps.Equal(last[i], want)
		}
		return ok
	}) {
		for i, m := range last {
			e.t.Errorf("node%d routes %v", i+1, m)
		}
		e.t.Fatalf("the directories did not converge on %v within %v", want, crossWait)
	}
}

// status sends available presence with a status text and waits for its
// echo.
func (c *crossClient) status(text string) {
	c.t.Helper()
	c.send("<presence><status>%s</status></presence>", text)
	c.expect("own presence echo", presenceStatus(c.jid(), text))
}

// presenceStatus matches available presence from the JID with the status.
func presenceStatus(from, text string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		if el.Name != "presence" || el.From() != from || el.Type() != "" {
			return false
		}
		st := el.Child("status", "")
		return st != nil && st.Text() == text
	}
}

// delayedMessage waits for a message with the id carrying a delay stamp
// (it was stored offline).
func (c *crossClient) delayedMessage(id string) {
	c.t.Helper()
	got := c.expect("the message "+id+", stored while the sender could not see "+c.name, messageID(id))
	if got.Child("delay", stanza.NSDelay) == nil {
		c.t.Errorf("%s: message %s without a delay stamp, want one (it was stored offline)", c.name, id)
	}
}

func (c *crossClient) chat(to, id string) {
	c.t.Helper()
	c.send("<message to='%s' type='chat' id='%s'><body>%s</body></message>", to, id, id)
}

// TestPartition cuts a cluster in two and heals it, on two and three
// nodes: each side declares the other dead and carries on (local traffic
// flows, messages across are stored offline, contacts see the other side
// go unavailable); after the heal, every node knows every session that
// still exists and no other, contacts get the current presence of the
// other side's users, and what was stored offline for users who were
// online on the other side reaches them without a new login.
func TestPartition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nodes int
		// cut partitions the mesh; views[i] are the nodes node i then sees.
		cut   func(m *testutil.Mesh)
		views [][]int
		// Alice and Bob are on nodes a and b, which cannot see each other;
		// carol is on node c, which sees bob's node; when c sees a too
		// (partial partition) alice and carol chat live.
		a, b, c int
	}{
		{
			name: "two nodes", nodes: 2,
			cut:   func(m *testutil.Mesh) { m.Cut(0, 1) },
			views: [][]int{{0}, {1}},
			a:     0, b: 1, c: 1,
		},
		{
			name: "three nodes, one cut off", nodes: 3,
			cut:   func(m *testutil.Mesh) { m.Split(2) },
			views: [][]int{{0, 1}, {0, 1}, {2}},
			a:     2, b: 0, c: 1,
		},
		{
			// NATS does not relay through a third server: node1 and
			// node2 lose each other although both still see node3.
			name: "partial, node1-node2 cut, both see node3", nodes: 3,
			cut:   func(m *testutil.Mesh) { m.Cut(0, 1) },
			views: [][]int{{0, 2}, {1, 2}, {0, 1, 2}},
			a:     0, b: 1, c: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newPartEnv(t, tt.nodes)
			u := e.accounts("alice", "bob", "carol")
			e.relate(u[0], u[1])
			e.relate(u[1], u[2])
			e.relate(u[0], u[2])
			all := make([]int, tt.nodes)
			for i := range all {
				all[i] = i
			}
			alice := e.onlineOn(tt.a, u[0], "a", "before", all...)
			bob := e.onlineOn(tt.b, u[1], "b", "before", all...)
			gone := e.onlineOn(tt.b, u[1], "gone", "before", all...) // ends during the partition
			carol := e.onlineOn(tt.c, u[2], "c", "before", all...)
			for _, p := range []struct{ to, from *crossClient }{{alice, bob}, {alice, gone}, {bob, alice}} {
				p.to.expect("presence before the partition", presenceStatus(p.from.jid(), "before"))
			}

			tt.cut(e.mesh)
			e.waitViews(tt.views...)
			partial := slices.Contains(tt.views[tt.a], tt.c)

			// Each side tells its users the other side's sessions are gone.
			alice.expect("bob's unavailable presence when his node was declared dead", presenceFrom(bob.jid(), "unavailable"))
			alice.expect("bob/gone's unavailable presence", presenceFrom(gone.jid(), "unavailable"))
			bob.expect("alice's unavailable presence when her node was declared dead", presenceFrom(alice.jid(), "unavailable"))
			if partial {
				expectNothing(t, crossAbsence{carol, "unavailable presence (node3 still sees both sides)", func(el *stanza.Element) bool {
					return el.Name == "presence" && el.Type() == "unavailable"
				}})
			} else {
				carol.expect("alice's unavailable presence", presenceFrom(alice.jid(), "unavailable"))
			}

			// Both sides carry on: presence changes, a session ends, and
			// messages flow between users who still see each other.
			alice.status("during")
			bob.status("during")
			gone.close()
			e.waitResourceGone(gone, tt.b)
			bob.chat(carol.jid(), "b2c")
			carol.expect("bob's message (they see each other)", messageID("b2c"))
			if partial {
				alice.chat(carol.jid(), "a2c")
				carol.expect("alice's message (node3 sees both sides)", messageID("a2c"))
			}

			// Across the cut nobody is online: messages are stored, not lost.
			alice.chat(bob.bare(), "a2b-bare")
			alice.chat(bob.jid(), "a2b-full")
			bob.chat(alice.bare(), "b2a")
			if !testutil.Poll(crossWait, func() bool { return e.offline(u[1]) == 2 && e.offline(u[0]) == 1 }) {
				t.Fatalf("offline: %d for bob, %d for alice; want 2 and 1", e.offline(u[1]), e.offline(u[0]))
			}
			alice.sync()
			bob.sync()

			e.healed()
			// Every node knows the sessions that exist, and not the one
			// that ended during the partition.
			e.converged(map[string]string{
				alice.jid(): fmt.Sprintf("node%d", tt.a+1),
				bob.jid():   fmt.Sprintf("node%d", tt.b+1),
				carol.jid(): fmt.Sprintf("node%d", tt.c+1),
			}, u...)
			// Contacts get the presence the other side has now.
			alice.expect("bob's current presence after the heal", presenceStatus(bob.jid(), "during"))
			bob.expect("alice's current presence after the heal", presenceStatus(alice.jid(), "during"))
			carol.expect("alice's current presence", presenceStatus(alice.jid(), "during"))
			// What was stored for a user who was online all along reaches
			// them without a new login.
			bob.delayedMessage("a2b-bare")
			bob.delayedMessage("a2b-full")
			alice.delayedMessage("b2a")
			if !testutil.Poll(crossWait, func() bool { return e.offline(u[1]) == 0 && e.offline(u[0]) == 0 }) {
				t.Errorf("offline after the heal: %d for bob, %d for alice; want none", e.offline(u[1]), e.offline(u[0]))
			}
			expectNothing(t,
				crossAbsence{alice, "presence of the session that ended during the partition", func(el *stanza.Element) bool {
					return el.Name == "presence" && el.From() == gone.jid() && el.Type() == ""
				}},
				crossAbsence{bob, "a second copy of a stored message", func(el *stanza.Element) bool {
					return el.Name == "message" && strings.HasPrefix(el.ID(), "a2b")
				}},
			)
			// And the cluster routes across the healed cut again.
			alice.chat(bob.jid(), "a2b-after")
			bob.expect("alice's message after the heal", messageID("a2b-after"))
		})
	}
}

// TestPartitionConflict: a client that lost its node reconnects with the
// same full JID on the other side of a partition while its old session
// lives on. After the heal exactly one of the two sessions survives, the
// same on every node (the later binding), and the other ends with
// <conflict/>. Sessions of the same user with other resources, one on
// each side, both stay.
func TestPartitionConflict(t *testing.T) {
	t.Parallel()
	e := newPartEnv(t, 2)
	u := e.accounts("alice", "bob")
	e.relate(u[0], u[1])
	alice := e.onlineOn(0, u[0], "a", "here", 0, 1)
	old := e.onlineOn(1, u[1], "r", "old", 0, 1)
	alice.expect("bob's presence", presenceStatus(old.jid(), "old"))

	e.mesh.Cut(0, 1)
	e.waitViews([]int{0}, []int{1})
	alice.expect("bob/r's unavailable presence", presenceFrom(old.jid(), "unavailable"))
	// A second copy of bob/r's presence may be waiting from the cluster's
	// start (node1 announces node2's sessions when its first snapshot of
	// node2 completes, which on a busy machine can come after bob logged
	// in). It was sent before the cut; what follows is only about what
	// arrives after the heal.
	for range 3 {
		if alice.none("", presenceStatus(old.jid(), "old")) == "" {
			break
		}
	}
	fresh := e.onlineOn(0, u[1], "r", "new", 0) // the client, reconnected to node1
	if fresh.jid() != old.jid() {
		t.Fatalf("bound %s, want %s", fresh.jid(), old.jid())
	}
	one := e.onlineOn(0, u[1], "one", "one", 0)
	two := e.onlineOn(1, u[1], "two", "two", 1)
	alice.expect("the new bob/r's presence", presenceStatus(fresh.jid(), "new"))

	e.healed()
	if cond := old.streamError(); cond != stanza.StreamConflict {
		t.Errorf("the earlier binding ended with %q, want conflict", cond)
	}
	e.converged(map[string]string{
		alice.jid(): "node1",
		fresh.jid(): "node1",
		one.jid():   "node1",
		two.jid():   "node2",
	}, u...)
	fresh.sync() // the later binding was not ended too
	two.send("<message to='%s' type='chat' id='to-r'><body>which one?</body></message>", fresh.jid())
	fresh.expect("a message to bob/r from the other node", messageID("to-r"))
	alice.expect("bob/two's presence after the heal", presenceStatus(two.jid(), "two"))
	expectNothing(t, crossAbsence{alice, "presence of the binding that lost", presenceStatus(old.jid(), "old")})
}

// TestPartitionBlip: a route drops for less than dead_after, so nobody is
// declared dead, but a change published meanwhile (a session ending) is
// lost. The node that missed it notices the gap in the other node's
// message numbers, at the latest at its idle "tick", asks it for its
// sessions and drops the stale entry, telling contacts the session is
// gone.
func TestPartitionBlip(t *testing.T) {
	t.Parallel()
	e := newPartEnv(t, 2, func(c *config.Config) { c.Cluster.DeadAfter = 30 * time.Second })
	u := e.accounts("alice", "bob")
	e.relate(u[0], u[1])
	alice := e.onlineOn(0, u[0], "a", "here", 0, 1)
	bob := e.onlineOn(1, u[1], "b", "here", 0, 1)
	alice.expect("bob's presence", presenceStatus(bob.jid(), "here"))

	// Once Cut returns the route's connections are reset, and the proxy
	// resets new ones: what node2 publishes now is lost.
	e.mesh.Cut(0, 1)
	bob.close()
	e.waitGone(u[1], 1)
	if s := e.nodes[0].Router().Session(bob.c.JID()); s == nil {
		t.Fatal("node1 already dropped bob: the route was not cut, the test proves nothing")
	}
	healed := time.Now()
	e.mesh.HealAll()
	if !testutil.Poll(crossWait, func() bool { return heardSince(e.nodes[0], "node2", healed) }) {
		t.Fatal("node1 does not hear node2 after the heal")
	}
	e.converged(map[string]string{alice.jid(): "node1"}, u...)
	alice.expect("bob's unavailable presence, once node1 learnt he is gone", presenceFrom(bob.jid(), "unavailable"))
	if got := liveNodes(e.nodes[0]); len(got) != 2 {
		t.Errorf("node1 sees %v: a node was declared dead, the test proves nothing", got)
	}
}

// heardSince reports whether node heard a heartbeat of the named node
// after t.
func heardSince(node *testserver.Server, name string, t time.Time) bool {
	for _, n := range node.Status().Nodes {
		if n.Name == name {
			return n.LastSeen.After(t)
		}
	}
	return false
}

// TestForwardAcknowledged: messages forwarded to another node while the
// route between them is cut (shorter than dead_after: nobody is declared
// dead, so the sending node still routes to the session over there) are
// lost by NATS; the sending node publishes them again, unacknowledged,
// once the route is back, and the recipient gets each once, in order.
func TestForwardAcknowledged(t *testing.T) {
	t.Parallel()
	e := newPartEnv(t, 2, func(c *config.Config) { c.Cluster.DeadAfter = 30 * time.Second })
	u := e.accounts("alice", "bob")
	alice := e.onlineOn(0, u[0], "a", "here", 0, 1)
	bob := e.onlineOn(1, u[1], "b", "here", 0, 1)
	bob.chat(alice.jid(), "before")
	alice.expect("a message before the cut", messageID("before"))

	e.mesh.Cut(0, 1)
	for i := range 5 {
		bob.chat(alice.jid(), fmt.Sprintf("cut-%d", i))
	}
	bob.sync() // routed: forwarded to node1 over a route that is down
	if s := e.nodes[1].Router().Session(alice.c.JID()); s == nil || s.IsLocal() {
		t.Fatal("node2 no longer routes to alice on node1: the test proves nothing")
	}
	if msg := alice.none("a message while the route is cut", messageID("cut-0")); msg != "" {
		t.Fatalf("the route was not cut, the test proves nothing: %s", msg)
	}
	e.mesh.HealAll()
	for i := range 5 {
		m := alice.expect("a message sent during the cut, after the heal", func(el *stanza.Element) bool { return el.Name == "message" })
		if want := fmt.Sprintf("cut-%d", i); m.ID() != want {
			t.Fatalf("got message %s, want %s (in the order sent)", m.ID(), want)
		}
	}
	if msg := alice.none("a message twice", func(el *stanza.Element) bool { return el.Name == "message" }); msg != "" {
		t.Error(msg)
	}
	if m := get(t, "http://"+e.nodes[1].HTTP()+"/metrics"); strings.Contains(m, "parley_cluster_resent_batches_total 0\n") {
		t.Error("node2 says it published nothing again")
	}
	if got := liveNodes(e.nodes[0]); len(got) != 2 {
		t.Errorf("node1 sees %v: a node was declared dead, the test proves nothing", got)
	}
}
