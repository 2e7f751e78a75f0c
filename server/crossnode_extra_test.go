package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// A block list changed on one node takes effect on the others, even where
// the old list was cached: a message from the blocked contact, sent on
// another node, is refused (XEP-0191 §3.3: service-unavailable) and never
// reaches the blocker.
func TestBlockingAcrossNodes(t *testing.T) {
	e := newCrossEnv(t, 2)
	users := e.accounts("alice", "bob")
	alice := e.online(0, users[0], "pc", 0)
	bob := e.online(1, users[1], "pc", 0)

	// bob's node reads alice's (empty) block list and caches it.
	bob.send("<message to='%s' type='chat' id='before'><body>before</body></message>", alice.bare())
	alice.expect("a message before the block", messageID("before"))

	if r := alice.request("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='%s'/></block></iq>", bob.bare()); r.Type() != "result" {
		t.Fatalf("block: %s", r)
	}
	// The invalidation reaches bob's node a moment later: until it
	// refuses, each attempt may still be delivered (and is drained here).
	refused := false
	for i := 0; i < 100 && !refused; i++ {
		id := fmt.Sprintf("after%d", i)
		bob.send("<message to='%s' type='chat' id='%s'><body>after</body></message>", alice.bare(), id)
		// Either bob's node refuses it, or (still the old list) alice
		// gets it.
		ctx, cancel := context.WithTimeout(context.Background(), crossQuiet)
		_, err := bob.c.Expect(ctx, func(el *stanza.Element) bool { return el.ID() == id && el.Type() == "error" })
		cancel()
		refused = err == nil
		if !refused {
			alice.expect("a message sent before the invalidation arrived", messageID(id))
		}
	}
	alice.sync()
	bob.send("<message to='%s' type='chat' id='last'><body>last</body></message>", alice.bare())
	if got := bob.expect("the refusal", func(el *stanza.Element) bool { return el.ID() == "last" }); got.Type() != "error" || got.Child("error", "") == nil {
		t.Fatalf("bob got %s, want an error", got)
	}
	if msg := alice.none("the last message from blocked bob", messageID("last")); msg != "" {
		t.Fatal(msg)
	}
}

// Forwarded stanzas and the NATS messages carrying them are counted in
// /metrics on both nodes.
func TestClusterTrafficMetrics(t *testing.T) {
	e := newCrossEnv(t, 2)
	users := e.accounts("alice", "bob")
	alice := e.online(0, users[0], "pc", 0)
	bob := e.online(1, users[1], "pc", 0)
	alice.send("<message to='%s' type='chat' id='m1'><body>hi</body></message>", bob.jid())
	bob.expect("the message", messageID("m1"))
	for node, want := range map[int][]string{
		0: {`parley_cluster_forwarded_total{direction="out"}`, `parley_cluster_batches_total{direction="out"}`},
		1: {`parley_cluster_forwarded_total{direction="in"}`, `parley_cluster_batches_total{direction="in"}`},
	} {
		m := get(t, "http://"+e.nodes[node].HTTP()+"/metrics")
		for _, name := range want {
			if !strings.Contains(m, name+" ") || strings.Contains(m, name+" 0\n") {
				t.Errorf("node%d: %s missing or zero in /metrics", node+1, name)
			}
		}
	}
}

// Message Carbons across nodes: a resource's carbons flag reaches the other
// nodes, so the node that routes a message copies it to the account's
// carbons-enabled resources wherever they are.
func TestCarbonsAcrossNodes(t *testing.T) {
	e := newCrossEnv(t, 2)
	users := e.accounts("alice", "bob")
	pc := e.online(0, users[0], "pc", 1)
	phone := e.online(1, users[0], "phone", 0)
	bob := e.online(0, users[1], "pc", 0)
	for _, c := range []*crossClient{pc, phone} {
		if r := c.request("<iq type='set' id='cc'><enable xmlns='urn:xmpp:carbons:2'/></iq>"); r.Type() != "result" {
			t.Fatalf("%s: enable carbons: %s", c.name, r)
		}
		e.waitSeen(c, "with carbons enabled", (*router.Session).Carbons)
	}
	isCarbon := func(kind, body string) func(*stanza.Element) bool {
		return func(el *stanza.Element) bool {
			w := el.Child(kind, "urn:xmpp:carbons:2")
			if w == nil {
				return false
			}
			inner := w.Child("forwarded", "urn:xmpp:forward:0").Child("message", stanza.NSClient)
			return inner != nil && inner.Child("body", stanza.NSClient) != nil && inner.Child("body", stanza.NSClient).Text() == body
		}
	}
	bob.send("<message to='%s' type='chat' id='r1'><body>to pc</body></message>", pc.jid())
	pc.expect("the message", messageID("r1"))
	phone.expect("a received carbon on the other node", isCarbon("received", "to pc"))

	phone.send("<message to='%s' type='chat' id='s1'><body>from phone</body></message>", bob.bare())
	bob.expect("the message from the phone", messageID("s1"))
	pc.expect("a sent carbon on the other node", isCarbon("sent", "from phone"))
}

// Every node acknowledges the batches every other node forwards it: after
// a round of messages between three nodes, no node waits on any.
func TestForwardAcksEveryPair(t *testing.T) {
	e := newCrossEnv(t, 3)
	u := e.accounts("alice", "bob", "carol")
	clients := []*crossClient{e.online(0, u[0], "a", 0), e.online(1, u[1], "b", 0), e.online(2, u[2], "c", 0)}
	for i, from := range clients {
		for j, to := range clients {
			if i != j {
				from.send("<message to='%s' type='chat' id='m%d%d'><body>hi</body></message>", to.jid(), i, j)
				to.expect("the message", messageID(fmt.Sprintf("m%d%d", i, j)))
			}
		}
	}
	for i, n := range e.nodes {
		if !testutil.Poll(crossWait, func() bool { return n.ClusterStats().Unacked == 0 }) {
			t.Errorf("node%d still waits for acknowledgements: %+v", i+1, n.ClusterStats())
		}
		if st := n.ClusterStats(); st.Sent != 2 || st.Received != 2 {
			t.Errorf("node%d forwarded %d and received %d stanzas, want 2 and 2", i+1, st.Sent, st.Received)
		}
	}
}
