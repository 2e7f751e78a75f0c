package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// A session waiting to be resumed when the server stops is ended, and what
// its client never acknowledged is stored offline, not dropped: it is
// there after a restart.
func TestShutdownKeepsUnacknowledged(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", "secret")
	s.AddUser("bob@localhost", "secret")
	dial := func(user string) *xmppclient.Client {
		c, err := xmppclient.Dial(t.Context(), xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: user, Password: "secret", Resource: "r"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob := dial("alice"), dial("bob")
	defer bob.Close()
	send := func(c *xmppclient.Client, x string) {
		el, err := stanza.ParseBytes([]byte(x))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(el); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(c *xmppclient.Client, match func(*stanza.Element) bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Expect(ctx, match); err != nil {
			t.Fatal(err)
		}
	}
	send(alice, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	expect(alice, func(el *stanza.Element) bool { return el.Is("enabled", "urn:xmpp:sm:3") })
	send(alice, "<presence/>")
	expect(alice, func(el *stanza.Element) bool { return el.Name == "presence" })
	send(bob, "<message to='alice@localhost' type='chat'><body>never acknowledged</body></message>")
	expect(alice, func(el *stanza.Element) bool { return el.Name == "message" })
	_ = alice.Conn().Close() // the connection breaks; the session waits
	testutil.Eventually(t, 10*time.Second, func() bool { return s.Connections() == 1 && s.Router().Count() == 2 })

	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	again := testserver.Start(t, func(c *config.Config) { c.DataDir = s.Config.DataDir })
	msgs, err := again.Store().TakeOffline(t.Context(), "alice@localhost")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Stanza), "never acknowledged") {
		t.Fatalf("offline storage after the restart holds %d messages, want the unacknowledged one", len(msgs))
	}
}

// A client whose connection broke resumes its session on another node of
// the cluster (the load balancer sent it there): the node that held the
// session hands it over — what the client had not acknowledged, what
// arrived meanwhile, its presence — and its contacts see nothing happen.
func TestResumeOnAnotherNode(t *testing.T) {
	e := newCrossEnv(t, 2)
	users := e.accounts("alice", "bob")
	bob, alice, id := resumableAlice(t, e, users)
	bob.send("<message to='%s' type='chat' id='one'><body>one</body></message>", alice.jid())
	alice.expect("message one", messageID("one")) // she has received two stanzas: her echo and this

	_ = alice.c.Conn().Close()
	testutil.Eventually(t, crossWait, func() bool { return e.nodes[0].Connections() == 0 })
	bob.send("<message to='%s' type='chat' id='two'><body>two</body></message>", alice.jid())
	bob.sync()

	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	again, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: e.nodes[1].C2S(), Domain: crossDomain, Username: users[0], Password: crossPassword, StopAfter: xmppclient.StageAuth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	moved := &crossClient{t: t, name: users[0] + "/phone@node2", c: again}
	smSend(t, again, fmt.Sprintf("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='2'/>", id))
	r := moved.expect("<resumed/>", func(el *stanza.Element) bool { return el.Is("resumed", "urn:xmpp:sm:3") })
	if r.Attr("h") != "1" {
		t.Errorf("resumed with h=%s, want 1 (her presence)", r.Attr("h"))
	}
	moved.expect("message two, sent while she was away", messageID("two"))
	if msg := moved.none("message one again (it was acknowledged by h)", messageID("one")); msg != "" {
		t.Error(msg)
	}
	// The session lives on node 2 now, as the same full JID.
	if s := e.nodes[1].Router().Session(jid.MustParse(users[0] + "@" + crossDomain + "/phone")); s == nil || !s.IsLocal() {
		t.Fatal("the resumed session is not local to node 2")
	}
	testutil.Eventually(t, crossSeen, func() bool {
		s := e.nodes[0].Router().Session(jid.MustParse(users[0] + "@" + crossDomain + "/phone"))
		return s != nil && s.Node() == "node2"
	})
	bob.send("<message to='%s' type='chat' id='three'><body>three</body></message>", alice.jid())
	moved.expect("a message after the move", messageID("three"))
	for node, line := range map[int]string{0: "parley_sm_detached_total 1", 1: `parley_sm_resumed_total{from="remote"} 1`} {
		if m := get(t, "http://"+e.nodes[node].HTTP()+"/metrics"); !strings.Contains(m, line+"\n") {
			t.Errorf("node%d: /metrics lacks %q", node+1, line)
		}
	}
	if msg := bob.none("alice going unavailable (she never did)", presenceFrom(alice.jid(), "unavailable")); msg != "" {
		t.Error(msg)
	}
}

func smSend(t *testing.T, c *xmppclient.Client, x string) {
	t.Helper()
	el, err := stanza.ParseBytes([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(el); err != nil {
		t.Fatal(err)
	}
}

// In a cluster, resuming a session no node holds fails as on one node
// (item-not-found), and the client can bind instead.
func TestResumeUnknownInCluster(t *testing.T) {
	e := newCrossEnv(t, 2)
	users := e.accounts("alice")
	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: e.nodes[1].C2S(), Domain: crossDomain, Username: users[0], Password: crossPassword, StopAfter: xmppclient.StageAuth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cc := &crossClient{t: t, name: users[0], c: c}
	smSend(t, c, "<resume xmlns='urn:xmpp:sm:3' previd='nobody-has-this' h='0'/>")
	f := cc.expect("<failed/>", func(el *stanza.Element) bool { return el.Is("failed", "urn:xmpp:sm:3") })
	if f.Child("item-not-found", stanza.NSStanzas) == nil {
		t.Fatalf("got %s, want item-not-found", f)
	}
	if _, err := c.Bind(ctx); err != nil {
		t.Fatalf("bind after the failed resumption: %v", err)
	}
}

// resumableAlice sets up users[0] (alice) on node 0 with resumable stream
// management and available, and users[1] (bob) on node 1, subscribed to
// her presence (she not to his, so that she receives exactly her own
// presence echo before anything the test sends). It returns bob, alice and
// her SM-ID once every node sees her available.
func resumableAlice(t *testing.T, e *crossEnv, users []string) (bob, alice *crossClient, id string) {
	t.Helper()
	subscribeTo(t, e, users[1], users[0])
	bob = e.online(1, users[1], "pc", 0)
	alice = e.dial(0, users[0], "phone")
	smSend(t, alice.c, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	id = alice.expect("<enabled/>", func(el *stanza.Element) bool { return el.Is("enabled", "urn:xmpp:sm:3") }).Attr("id")
	alice.available(0)
	bob.expect("alice's presence", presenceFrom(alice.jid(), ""))
	e.waitSeen(alice, "available", func(s *router.Session) bool { a, _ := s.Available(); return a })
	return bob, alice, id
}

// TestTakeoverFenced: alice's resumable session lives on node 1 when the
// routes between the nodes are cut; her connection breaks and she resumes
// on node 2, which cannot reach node 1 and takes the session over from
// storage. Node 1, still running and cut off, finds the session's record
// claimed and lets the session go at once (not when the resumption window
// ends), without the session being ended; after the heal both nodes agree
// it lives on node 2 and it keeps getting messages there.
func TestTakeoverFenced(t *testing.T) {
	e := newPartEnv(t, 2, func(c *config.Config) { c.StreamManagement.ResumeTimeout = 10 * time.Minute })
	users := e.accounts("alice", "bob")
	bob, alice, id := resumableAlice(t, e.crossEnv, users)
	full := jid.MustParse(alice.jid())
	// She fetches her roster and block list: pushes of both must follow
	// the session wherever it goes (recorded with it within a second).
	alice.request("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	alice.request("<iq type='get' id='b1'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	want := router.RosterInterest | router.BlockListInterest
	testutil.Eventually(t, crossWait, func() bool {
		rec, err := e.nodes[0].Store().SMSession(context.Background(), full.Bare().String(), id)
		return err == nil && router.Interests(rec.Interests) == want
	})

	e.mesh.Cut(0, 1)
	_ = alice.c.Conn().Close()
	testutil.Eventually(t, crossWait, func() bool { return e.nodes[0].Connections() == 0 })

	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	again, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: e.nodes[1].C2S(), Domain: crossDomain, Username: users[0], Password: crossPassword, StopAfter: xmppclient.StageAuth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	moved := &crossClient{t: t, name: users[0] + "/phone@node2", c: again}
	smSend(t, again, fmt.Sprintf("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='3'/>", id))
	moved.expect("<resumed/>", func(el *stanza.Element) bool { return el.Is("resumed", "urn:xmpp:sm:3") })
	if s := e.nodes[1].Router().Session(full); s == nil || s.Interests() != want {
		t.Errorf("the taken-over session's interests are not %v", want)
	}

	// Still cut off, node 1 lets the session go.
	testutil.Eventually(t, crossWait, func() bool {
		s := e.nodes[0].Router().Session(full)
		return s == nil || !s.IsLocal()
	})
	if m := get(t, "http://"+e.nodes[0].HTTP()+"/metrics"); !strings.Contains(m, "parley_sm_expired_total 0\n") {
		t.Error("node1 expired the session instead of letting it go")
	}
	bob.send("<message to='%s' type='chat' id='cut'><body>during the cut</body></message>", alice.jid())
	moved.expect("a message during the cut", messageID("cut"))

	e.healed()
	e.converged(map[string]string{alice.jid(): "node2", bob.jid(): "node2"}, users...)
	bob.send("<message to='%s' type='chat' id='healed'><body>after the heal</body></message>", alice.jid())
	moved.expect("a message after the heal", messageID("healed"))
}

// A session resumed on another node keeps what it fetched: roster and
// block-list pushes reach it there.
func TestResumeKeepsInterests(t *testing.T) {
	e := newCrossEnv(t, 2)
	users := e.accounts("alice", "bob")
	_, alice, id := resumableAlice(t, e, users)
	alice.request("<iq type='get' id='b1'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	_ = alice.c.Conn().Close()
	testutil.Eventually(t, crossWait, func() bool { return e.nodes[0].Connections() == 0 })

	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	again, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: e.nodes[1].C2S(), Domain: crossDomain, Username: users[0], Password: crossPassword, StopAfter: xmppclient.StageAuth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	moved := &crossClient{t: t, name: users[0] + "/phone@node2", c: again}
	smSend(t, again, fmt.Sprintf("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='2'/>", id))
	moved.expect("<resumed/>", func(el *stanza.Element) bool { return el.Is("resumed", "urn:xmpp:sm:3") })
	s := e.nodes[1].Router().Session(jid.MustParse(alice.jid()))
	if s == nil || !s.Interests().Has(router.BlockListInterest) {
		t.Fatal("the resumed session lost its block-list interest")
	}
	// A block made from another resource is pushed to it.
	other := e.login(0, users[0], "desk")
	other.request("<iq type='set' id='blk'><block xmlns='urn:xmpp:blocking'><item jid='spammer@example.net'/></block></iq>")
	moved.expect("the block push", func(el *stanza.Element) bool {
		return el.Name == "iq" && el.Type() == "set" && el.FirstElement().Is("block", "urn:xmpp:blocking")
	})
}
