package server_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// The tests below run real nodes in-process on one PostgreSQL database and
// talk to them over real connections; the nodes share sessions through the
// cluster directory. A session bound on one node appears on the others
// asynchronously, so every login waits until all nodes see it (and its
// presence) before the test relies on it.

const (
	crossDomain   = "localhost"
	crossPassword = "secret"

	crossWait  = 15 * time.Second       // bound on anything that should arrive (generous: CI machines are busy)
	crossSeen  = 10 * time.Second       // bound on the directory catching up
	crossQuiet = 400 * time.Millisecond // how long "nothing arrives" is watched
)

// startNodes starts an n-node cluster on one fresh PostgreSQL database
// (clients may log in without STARTTLS) and waits until every node sees
// all n. The nodes are node1..noden; they stop when the test ends.
func startNodes(t *testing.T, n int) []*testserver.Server {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	return startNodesWith(t, n, func(i int) (string, []string) {
		var peers []string
		for j, p := range ports {
			if j != i {
				peers = append(peers, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		return fmt.Sprintf("127.0.0.1:%d", ports[i]), peers
	})
}

// startNodesWith is startNodes with node i's (0-based) route listen
// address and peers given by routes, and options applied last.
func startNodesWith(t *testing.T, n int, routes func(i int) (listen string, peers []string), opts ...testserver.Option) []*testserver.Server {
	t.Helper()
	dsn := testpg.Start(t)
	nodes := make([]*testserver.Server, n)
	for i := range nodes {
		listen, peers := routes(i)
		nodes[i] = testserver.Start(t, testserver.PlainTCP, func(c *config.Config) {
			c.Storage.Driver, c.Storage.PostgresDSN = config.DriverPostgres, dsn
			c.Cluster.NodeName = fmt.Sprintf("node%d", i+1)
			c.Cluster.Listen = listen
			c.Cluster.Peers = peers
			c.Cluster.Heartbeat = 200 * time.Millisecond
			c.Cluster.DeadAfter = time.Second
			for _, o := range opts {
				o(c)
			}
		})
	}
	for i, s := range nodes {
		if !testutil.Poll(crossSeen, func() bool { return len(liveNodes(s)) == n }) {
			t.Fatalf("node%d sees %v, want all %d nodes", i+1, liveNodes(s), n)
		}
	}
	return nodes
}

// crossEnv is a cluster and the test using it. Subtests share the cluster
// through with(t) and keep out of each other's way by using fresh accounts.
type crossEnv struct {
	t     *testing.T
	nodes []*testserver.Server
	seq   *atomic.Int32 // makes account names unique across subtests
}

func newCrossEnv(t *testing.T, n int) *crossEnv {
	return &crossEnv{t: t, nodes: startNodes(t, n), seq: new(atomic.Int32)}
}

// with returns the environment for a subtest.
func (e *crossEnv) with(t *testing.T) *crossEnv {
	c := *e
	c.t = t
	return &c
}

// accounts creates an account for each name made unique ("alice" becomes
// "alice7") and returns the localparts.
func (e *crossEnv) accounts(names ...string) []string {
	e.t.Helper()
	n := e.seq.Add(1)
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = fmt.Sprintf("%s%d", name, n)
		// The database is shared: one node creates it for all.
		e.nodes[0].AddUser(out[i]+"@"+crossDomain, crossPassword)
	}
	return out
}

// relate makes user and contact subscribed to each other (both), in
// storage, without the protocol.
func (e *crossEnv) relate(user, contact string) {
	e.t.Helper()
	for _, p := range [][2]string{{user, contact}, {contact, user}} {
		it := storage.RosterItem{Contact: p[1] + "@" + crossDomain, Subscription: storage.SubBoth}
		if _, err := e.nodes[0].Store().PutRosterItem(context.Background(), p[0]+"@"+crossDomain, it); err != nil {
			e.t.Fatalf("roster item %s -> %s: %v", p[0], p[1], err)
		}
	}
}

// dial logs local/resource in on the node (0-based) and does not wait
// for the other nodes. The connection is closed when the test ends.
func (e *crossEnv) dial(node int, local, resource string) *crossClient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	name := fmt.Sprintf("%s/%s@node%d", local, resource, node+1)
	c, err := xmppclient.Dial(ctx, xmppclient.Config{
		Addr: e.nodes[node].C2S(), Domain: crossDomain, Username: local, Password: crossPassword, Resource: resource,
	})
	if err != nil {
		e.t.Fatalf("login %s: %v", name, err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return &crossClient{t: e.t, name: name, c: c}
}

// login dials and waits until every node knows the session.
func (e *crossEnv) login(node int, local, resource string) *crossClient {
	e.t.Helper()
	c := e.dial(node, local, resource)
	e.waitSeen(c, "bound", func(*router.Session) bool { return true })
	return c
}

// online logs in, fetches the roster (as clients do, which makes the
// resource interested in pushes), sends initial presence with the
// priority and waits until every node sees it available with it.
func (e *crossEnv) online(node int, local, resource string, prio int) *crossClient {
	e.t.Helper()
	c := e.login(node, local, resource)
	c.roster()
	c.available(prio)
	e.waitAvailable(c, prio)
	return c
}

// waitAvailable waits until every node sees c available with the priority.
func (e *crossEnv) waitAvailable(c *crossClient, prio int) {
	e.t.Helper()
	e.waitSeen(c, fmt.Sprintf("available with priority %d", prio), func(s *router.Session) bool {
		a, p := s.Available()
		return a && p == prio
	})
}

// waitSeen waits until every node's router has c's full JID in the state
// ok accepts.
func (e *crossEnv) waitSeen(c *crossClient, state string, ok func(*router.Session) bool) {
	e.t.Helper()
	full := c.c.JID()
	for i, n := range e.nodes {
		var last *router.Session
		if !testutil.Poll(crossSeen, func() bool {
			last = n.Router().Session(full)
			return last != nil && ok(last)
		}) {
			got := "no session"
			if last != nil {
				a, p := last.Available()
				got = fmt.Sprintf("a session with available=%v priority=%d", a, p)
			}
			e.t.Fatalf("node%d never saw %s %s within %v: it has %s", i+1, full, state, crossSeen, got)
		}
	}
}

// waitGone waits until none of the nodes (0-based indexes; all when none
// given) has a session of local.
func (e *crossEnv) waitGone(local string, nodes ...int) {
	e.t.Helper()
	if len(nodes) == 0 {
		for i := range e.nodes {
			nodes = append(nodes, i)
		}
	}
	bare := jid.MustParse(local + "@" + crossDomain)
	for _, i := range nodes {
		if !testutil.Poll(crossSeen, func() bool { return len(e.nodes[i].Router().Sessions(bare)) == 0 }) {
			e.t.Fatalf("node%d still has sessions of %s after %v: %v", i+1, bare, crossSeen, sessionJIDs(e.nodes[i].Router().Sessions(bare)))
		}
	}
}

func sessionJIDs(list []*router.Session) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.JID().String())
	}
	return out
}

// offline is how many messages are stored for local.
func (e *crossEnv) offline(local string) int {
	e.t.Helper()
	n, err := e.nodes[0].Store().CountOffline(context.Background(), local+"@"+crossDomain)
	if err != nil {
		e.t.Fatalf("CountOffline(%s): %v", local, err)
	}
	return n
}

// crossClient is one logged-in resource, read only by its test's goroutine.
type crossClient struct {
	t    *testing.T
	name string // local/resource@nodeN, for messages
	c    *xmppclient.Client
}

func (c *crossClient) jid() string  { return c.c.JID().String() }
func (c *crossClient) bare() string { return c.c.JID().Bare().String() }

// send parses XML (in jabber:client) built from format and args and sends it.
func (c *crossClient) send(format string, args ...any) {
	c.t.Helper()
	s := fmt.Sprintf(format, args...)
	el, err := stanza.ParseBytes([]byte(s))
	if err != nil {
		c.t.Fatalf("bad test XML %q: %v", s, err)
	}
	if err := c.c.Send(el); err != nil {
		c.t.Fatalf("%s: send %s: %v", c.name, el, err)
	}
}

// expect waits for an element that match accepts; others are kept for
// later expectations.
func (c *crossClient) expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	el, err := c.c.Expect(ctx, match)
	if err != nil {
		c.t.Fatalf("%s: waiting for %s: %v", c.name, what, err)
	}
	return el
}

// none checks that nothing match accepts arrives within crossQuiet (or is
// already waiting); it returns what went wrong, or "".
func (c *crossClient) none(what string, match func(*stanza.Element) bool) string {
	ctx, cancel := context.WithTimeout(context.Background(), crossQuiet)
	defer cancel()
	el, err := c.c.Expect(ctx, match)
	switch {
	case err == nil:
		return fmt.Sprintf("%s: got %s, want no %s", c.name, el, what)
	case !errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("%s: while checking for no %s: %v", c.name, what, err)
	}
	return ""
}

// crossAbsence is one "nothing like this arrives" check.
type crossAbsence struct {
	c     *crossClient
	what  string
	match func(*stanza.Element) bool
}

// expectNothing runs the checks at once, so they share one quiet period;
// checks of one client are merged (a client has one reader).
func expectNothing(t *testing.T, checks ...crossAbsence) {
	t.Helper()
	var order []*crossClient
	merged := map[*crossClient][]crossAbsence{}
	for _, ch := range checks {
		if merged[ch.c] == nil {
			order = append(order, ch.c)
		}
		merged[ch.c] = append(merged[ch.c], ch)
	}
	msgs := make([]string, len(order))
	var wg sync.WaitGroup
	for i, c := range order {
		list := merged[c]
		whats := make([]string, len(list))
		for j, ch := range list {
			whats[j] = ch.what
		}
		wg.Go(func() {
			msgs[i] = c.none(strings.Join(whats, " or "), func(el *stanza.Element) bool {
				for _, ch := range list {
					if ch.match(el) {
						return true
					}
				}
				return false
			})
		})
	}
	wg.Wait()
	for _, m := range msgs {
		if m != "" {
			t.Error(m)
		}
	}
}

// available sends presence with the priority and waits for its echo.
func (c *crossClient) available(prio int) {
	c.t.Helper()
	c.send("<presence><priority>%d</priority></presence>", prio)
	c.expect("own presence echo", presenceFrom(c.jid(), ""))
}

// request sends an iq and waits for its answer (errors included).
func (c *crossClient) request(format string, args ...any) *stanza.Element {
	c.t.Helper()
	s := fmt.Sprintf(format, args...)
	el, err := stanza.ParseBytes([]byte(s))
	if err != nil {
		c.t.Fatalf("bad test XML %q: %v", s, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	reply, err := c.c.Request(ctx, el)
	var se *stanza.Error
	if err != nil && !errors.As(err, &se) {
		c.t.Fatalf("%s: request %s: %v", c.name, el, err)
	}
	return reply
}

// sync pings the server: once it answers, the stream is alive and what
// was sent before has been routed.
func (c *crossClient) sync() {
	c.t.Helper()
	if r := c.request("<iq type='get' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", crossDomain); r.Type() != "result" {
		c.t.Fatalf("%s: ping: %s", c.name, r)
	}
}

// roster fetches the roster.
func (c *crossClient) roster() *stanza.Element {
	c.t.Helper()
	r := c.request("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
	if r.Type() != "result" {
		c.t.Fatalf("%s: roster get: %s", c.name, r)
	}
	return r
}

// subState is c's roster item for contact, as "both" or "none+ask", or
// "(absent)".
func (c *crossClient) subState(contact string) string {
	c.t.Helper()
	q := c.roster().Child("query", stanza.NSRoster)
	if q == nil {
		c.t.Fatalf("%s: roster result without a query", c.name)
	}
	for _, it := range q.Elements() {
		if it.Attr("jid") == contact {
			return itemState(it)
		}
	}
	return "(absent)"
}

func itemState(it *stanza.Element) string {
	s := it.Attr("subscription")
	if it.Attr("ask") == "subscribe" {
		s += "+ask"
	}
	return s
}

// streamError reads until the stream fails and returns the stream error
// condition ("" when it ended otherwise).
func (c *crossClient) streamError() stanza.StreamCondition {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	_, err := c.c.Expect(ctx, func(*stanza.Element) bool { return false })
	var se *stanza.StreamError
	switch {
	case errors.As(err, &se):
		return se.Condition
	case errors.Is(err, context.DeadlineExceeded):
		c.t.Fatalf("%s: the stream did not end within %v", c.name, crossWait)
	}
	return ""
}

// close ends the stream cleanly.
func (c *crossClient) close() { _ = c.c.Close() }

// Matchers.

// messageID matches a message (not an error) with the id.
func messageID(id string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name == "message" && el.ID() == id && el.Type() != "error"
	}
}

// presenceFrom matches a presence from the JID of the type ("" is
// available).
func presenceFrom(from, typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name == "presence" && el.From() == from && el.Type() == typ
	}
}

// rosterPush matches a roster push about contact, in the state when one is
// given (see itemState).
func rosterPush(contact, state string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		if el.Name != "iq" || el.Type() != "set" {
			return false
		}
		q := el.Child("query", stanza.NSRoster)
		if q == nil {
			return false
		}
		it := q.Child("item", stanza.NSRoster)
		return it != nil && it.Attr("jid") == contact && (state == "" || itemState(it) == state)
	}
}

// iqReply matches the result or error answering the id.
func iqReply(id string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name == "iq" && el.ID() == id && (el.Type() == "result" || el.Type() == "error")
	}
}

// stanzaCondition is the defined condition of an error stanza, or "".
func stanzaCondition(el *stanza.Element) stanza.Condition {
	e := el.Child("error", "")
	if e == nil {
		return ""
	}
	for _, c := range e.Elements() {
		if c.Space == stanza.NSStanzas && c.Name != "text" {
			return stanza.Condition(c.Name)
		}
	}
	return ""
}

// TestCrossNode checks, on a three-node cluster, that users connected to
// different nodes reach each other as they would on one server: the RFC
// 6120/6121 routing rules apply to every resource of the cluster.
func TestCrossNode(t *testing.T) {
	t.Parallel()
	e := newCrossEnv(t, 3)
	tests := []struct {
		name string
		run  func(t *testing.T, e *crossEnv)
	}{
		{"message to a full JID", crossFullJID},
		{"message to a bare JID", crossBareJID},
		{"offline only when offline everywhere", crossNotOffline},
		{"subscription and presence", crossPresence},
		{"roster push to every interested resource", crossRosterPush},
		{"iq to a full JID", crossIQ},
		{"resource conflict", crossConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, e.with(t))
		})
	}
}

// RFC 6121 §8.5.3.1: a message to a full JID goes to that resource,
// whichever node holds it; 'from' is the sender's full JID (RFC 6120
// §8.1.2.1).
func crossFullJID(t *testing.T, e *crossEnv) {
	tests := []struct {
		name   string
		na, nb int // nodes of alice and bob
	}{
		{"node1 and node2", 0, 1},
		{"node2 and node3", 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			u := e.accounts("alice", "bob")
			alice := e.online(tt.na, u[0], "a", 0)
			bob := e.online(tt.nb, u[1], "b", 0)
			for i, p := range [][2]*crossClient{{alice, bob}, {bob, alice}} {
				from, to := p[0], p[1]
				id := fmt.Sprintf("full%d", i)
				from.send("<message to='%s' type='chat' id='%s'><body>hello %s</body></message>", to.jid(), id, id)
				got := to.expect(fmt.Sprintf("the chat %s from %s", id, from.name), messageID(id))
				if got.From() != from.jid() {
					t.Errorf("%s got the chat from %q, want the sender's full JID %s", to.name, got.From(), from.jid())
				}
				if got.Type() != "chat" {
					t.Errorf("%s got type %q, want chat", to.name, got.Type())
				}
				if b := got.Child("body", ""); b == nil || b.Text() != "hello "+id {
					t.Errorf("%s got %s, want the body %q", to.name, got, "hello "+id)
				}
			}
		})
	}
}

// RFC 6121 §8.5.2.1.1: a message to a bare JID goes to the available
// resources of highest non-negative priority, whatever node they are on;
// with none, it is stored (XEP-0160) and handed to the next resource that
// comes online, on any node.
func crossBareJID(t *testing.T, e *crossEnv) {
	type resource struct {
		node int
		name string
		prio int
	}
	tests := []struct {
		name string
		bob  []resource // alice is on node1
		want []string   // resources given the message; none: stored
	}{
		{"highest priority only", []resource{{1, "five", 5}, {2, "one", 1}, {0, "negative", -1}}, []string{"five"}},
		{"equal priorities on two nodes", []resource{{1, "left", 3}, {2, "right", 3}, {0, "lower", 1}}, []string{"left", "right"}},
		{"all negative: offline", []resource{{1, "n2", -1}, {2, "n3", -1}, {0, "n1", -5}}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			u := e.accounts("alice", "bob")
			alice := e.online(0, u[0], "a", 0)
			bobs := map[string]*crossClient{}
			for _, r := range tt.bob {
				bobs[r.name] = e.online(r.node, u[1], r.name, r.prio)
			}
			id := fmt.Sprintf("bare%d", i)
			alice.send("<message to='%s@%s' type='chat' id='%s'><body>to whoever</body></message>", u[1], crossDomain, id)
			for _, w := range tt.want {
				got := bobs[w].expect("the message to the bare JID", messageID(id))
				if got.From() != alice.jid() {
					t.Errorf("%s got the message from %q, want %s", bobs[w].name, got.From(), alice.jid())
				}
			}
			// Nobody else gets it, and nobody gets it twice.
			var checks []crossAbsence
			for _, r := range tt.bob {
				checks = append(checks, crossAbsence{bobs[r.name], "(another) copy of the message", messageID(id)})
			}
			expectNothing(t, checks...)
			if tt.want != nil {
				if n := e.offline(u[1]); n != 0 {
					t.Errorf("%d offline messages for %s, want 0: the message was delivered live", n, u[1])
				}
				return
			}
			if !testutil.Poll(crossWait, func() bool { return e.offline(u[1]) == 1 }) {
				t.Fatalf("%d offline messages for %s, want 1 (every resource has a negative priority)", e.offline(u[1]), u[1])
			}
			for _, b := range bobs {
				b.close()
			}
			e.waitGone(u[1])
			later := e.dial(2, u[1], "later")
			later.send("<presence/>")
			got := later.expect("the stored message at initial presence", messageID(id))
			if got.Child("delay", stanza.NSDelay) == nil {
				t.Errorf("stored message without a delay stamp: %s", got)
			}
			if got.From() != alice.jid() {
				t.Errorf("stored message from %q, want %s", got.From(), alice.jid())
			}
			if !testutil.Poll(crossWait, func() bool { return e.offline(u[1]) == 0 }) {
				t.Errorf("%d offline messages left for %s after delivery, want 0", e.offline(u[1]), u[1])
			}
		})
	}
}

// XEP-0160 / RFC 6121 §8.5.2.2: a message is stored only when the user has
// no available resource anywhere in the cluster; one delivered live on
// another node is not stored as well.
func crossNotOffline(t *testing.T, e *crossEnv) {
	tests := []struct {
		name      string
		idleLocal bool // bob also bound on alice's node, without presence
	}{
		{"bob only on node2", false},
		{"bob also bound on node1 without presence", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			u := e.accounts("alice", "bob")
			alice := e.online(0, u[0], "a", 0)
			var idle *crossClient
			if tt.idleLocal {
				idle = e.login(0, u[1], "idle")
			}
			bob := e.online(1, u[1], "b", 0)
			id := fmt.Sprintf("live%d", i)
			alice.send("<message to='%s' type='chat' id='%s'><body>are you there?</body></message>", bob.bare(), id)
			got := bob.expect("the message to the bare JID", messageID(id))
			if got.From() != alice.jid() {
				t.Errorf("bob got the message from %q, want %s", got.From(), alice.jid())
			}
			checks := []crossAbsence{{bob, "second copy of the message", messageID(id)}}
			if idle != nil {
				checks = append(checks, crossAbsence{idle, "the message on a resource without presence", messageID(id)})
			}
			expectNothing(t, checks...)
			if n := e.offline(u[1]); n != 0 {
				t.Errorf("%d offline messages for %s after live delivery on node2, want 0", n, u[1])
			}
			bob.close()
			if idle != nil {
				idle.close()
			}
			e.waitGone(u[1])
			again := e.dial(2, u[1], "again")
			again.available(0)
			expectNothing(t, crossAbsence{again, "offline copy of a message delivered live", messageID(id)})
		})
	}
}

// RFC 6121 §3.1: the subscription handshake between users on two nodes,
// both ways, with the roster pushes (§3.1.5-6) and presence that follow;
// a clean close sends unavailable presence to the contact (§4.5.2).
func crossPresence(t *testing.T, e *crossEnv) {
	u := e.accounts("alice", "bob")
	alice := e.online(0, u[0], "a", 0)
	bob := e.online(1, u[1], "b", 0)

	alice.send("<presence to='%s' type='subscribe'/>", bob.bare())
	bob.expect("alice's subscription request", presenceFrom(alice.bare(), "subscribe"))
	bob.send("<presence to='%s' type='subscribed'/>", alice.bare())
	alice.expect("bob's approval", presenceFrom(bob.bare(), "subscribed"))
	alice.expect("roster push 'to' (pushed from bob's node)", rosterPush(bob.bare(), "to"))
	bob.expect("roster push 'from'", rosterPush(alice.bare(), "from"))
	alice.expect("bob's available presence after the approval (§3.1.5)", presenceFrom(bob.jid(), ""))

	bob.send("<presence to='%s' type='subscribe'/>", alice.bare())
	alice.expect("bob's subscription request", presenceFrom(bob.bare(), "subscribe"))
	alice.send("<presence to='%s' type='subscribed'/>", bob.bare())
	bob.expect("alice's approval", presenceFrom(alice.bare(), "subscribed"))
	alice.expect("roster push 'both'", rosterPush(bob.bare(), "both"))
	bob.expect("roster push 'both' (pushed from alice's node)", rosterPush(alice.bare(), "both"))
	bob.expect("alice's available presence after the approval (§3.1.5)", presenceFrom(alice.jid(), ""))

	if s := alice.subState(bob.bare()); s != "both" {
		t.Errorf("alice's roster item for bob is %s, want both", s)
	}
	if s := bob.subState(alice.bare()); s != "both" {
		t.Errorf("bob's roster item for alice is %s, want both", s)
	}

	bob.close()
	alice.expect("unavailable from bob's full JID after his clean close", presenceFrom(bob.jid(), "unavailable"))
}

// RFC 6121 §2.1.6, §2.3: a roster set is pushed to every interested
// resource of the user (one that fetched the roster), on every node, and
// to no other. The user's resources also see each other's presence
// (§4.2.2, §4.4.2).
func crossRosterPush(t *testing.T, e *crossEnv) {
	u := e.accounts("alice", "carol")
	carol := u[1] + "@" + crossDomain
	one := e.online(0, u[0], "one", 0)
	two := e.online(1, u[0], "two", 0)
	quiet := e.login(2, u[0], "quiet") // never fetches the roster
	quiet.available(0)
	e.waitAvailable(quiet, 0)

	one.expect("the presence of alice's resource on node2", presenceFrom(two.jid(), ""))
	two.expect("the presence of alice's resource on node1", presenceFrom(one.jid(), ""))

	r := one.request("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='%s' name='Carol'/></query></iq>", carol)
	if r.Type() != "result" {
		t.Fatalf("roster set: %s", r)
	}
	for _, c := range []*crossClient{one, two} {
		p := c.expect("the roster push for carol", rosterPush(carol, ""))
		if f := p.From(); f != "" && f != c.bare() {
			t.Errorf("%s: push from %q, want none or the bare JID %s (§2.1.6)", c.name, f, c.bare())
		}
		if it := p.Child("query", stanza.NSRoster).Child("item", stanza.NSRoster); it.Attr("name") != "Carol" || it.Attr("subscription") != "none" {
			t.Errorf("%s: pushed item %s, want name Carol, subscription none", c.name, it)
		}
	}
	expectNothing(t,
		crossAbsence{quiet, "roster push to a resource that never fetched the roster", rosterPush(carol, "")},
		crossAbsence{two, "second roster push", rosterPush(carol, "")},
	)
}

// RFC 6120 §8.2.3, RFC 6121 §8.5.3: an iq to a full JID goes to that
// resource on its node and its answer comes back to the sender; an iq to
// a resource that does not exist is answered with service-unavailable.
func crossIQ(t *testing.T, e *crossEnv) {
	tests := []struct {
		name   string
		na, nb int    // nodes of the asker and the answerer
		answer string // "result", "error", or "" for an absent resource
	}{
		{"ping answered", 0, 1, "result"},
		{"ping refused", 1, 2, "error"},
		{"no such resource", 0, 1, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			u := e.accounts("alice", "bob")
			alice := e.online(tt.na, u[0], "a", 0)
			bob := e.online(tt.nb, u[1], "b", 0)
			id := fmt.Sprintf("iq%d", i)
			ping := func(el *stanza.Element) bool {
				return el.Name == "iq" && el.ID() == id && el.Type() == "get" && el.Child("ping", "urn:xmpp:ping") != nil
			}
			if tt.answer == "" {
				ghost := bob.bare() + "/ghost"
				alice.send("<iq type='get' to='%s' id='%s'><ping xmlns='urn:xmpp:ping'/></iq>", ghost, id)
				r := alice.expect("an error for the absent resource", iqReply(id))
				if r.Type() != "error" || stanzaCondition(r) != stanza.ServiceUnavailable {
					t.Errorf("iq to %s answered %s, want a service-unavailable error", ghost, r)
				}
				expectNothing(t, crossAbsence{bob, "an iq addressed to another resource", ping})
				return
			}
			alice.send("<iq type='get' to='%s' id='%s'><ping xmlns='urn:xmpp:ping'/></iq>", bob.jid(), id)
			got := bob.expect("alice's ping", ping)
			if got.From() != alice.jid() {
				t.Errorf("bob got the ping from %q, want %s", got.From(), alice.jid())
			}
			switch tt.answer {
			case "result":
				bob.send("<iq type='result' to='%s' id='%s'/>", got.From(), id)
			case "error":
				bob.send("<iq type='error' to='%s' id='%s'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", got.From(), id)
			}
			r := alice.expect("bob's answer", iqReply(id))
			if r.Type() != tt.answer || r.From() != bob.jid() {
				t.Errorf("alice got %s, want type %s from %s", r, tt.answer, bob.jid())
			}
			if tt.answer == "error" && stanzaCondition(r) != stanza.FeatureNotImplemented {
				t.Errorf("alice got condition %q, want feature-not-implemented", stanzaCondition(r))
			}
		})
	}
}

// RFC 6120 §7.7.2.2: binding a full JID already bound on another node
// replaces that session, which ends with a <conflict/> stream error; the
// full JID then leads to the new session on every node.
func crossConflict(t *testing.T, e *crossEnv) {
	u := e.accounts("alice", "bob")
	bob := e.online(2, u[1], "b", 0)
	old := e.online(0, u[0], "same", 1)

	fresh := e.dial(1, u[0], "same")
	if want := u[0] + "@" + crossDomain + "/same"; fresh.jid() != want {
		t.Fatalf("second login bound %s, want %s", fresh.jid(), want)
	}
	if cond := old.streamError(); cond != stanza.StreamConflict {
		t.Errorf("the replaced session on node1 ended with %q, want conflict", cond)
	}
	// A different priority tells the new session's entry from the old.
	fresh.available(2)
	e.waitAvailable(fresh, 2)
	for i, n := range e.nodes {
		if got := sessionJIDs(n.Router().Sessions(fresh.c.JID().Bare())); len(got) != 1 {
			t.Errorf("node%d has sessions %v for alice, want only the new one", i+1, got)
		}
	}
	bob.send("<message to='%s' type='chat' id='after-conflict'><body>which one?</body></message>", fresh.jid())
	got := fresh.expect("the message to the replaced full JID", messageID("after-conflict"))
	if got.From() != bob.jid() {
		t.Errorf("message from %q, want %s", got.From(), bob.jid())
	}
	fresh.sync() // the new session was not ended too
}

// When a node goes, its users' contacts on the other nodes get unavailable
// presence from each of its sessions (RFC 6121 §4.5.2), and its sessions
// leave the directory, so messages to them are stored offline.
//
// An abrupt death (SIGKILL) is tested with real processes in test/cluster.
func TestCrossNodeDeath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kill func(t *testing.T, s *testserver.Server)
	}{
		{"clean shutdown", func(t *testing.T, s *testserver.Server) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newCrossEnv(t, 2)
			u := e.accounts("alice", "bob")
			e.relate(u[0], u[1])
			alice := e.online(0, u[0], "a", 0)
			bob := e.online(1, u[1], "b", 0)
			alice.expect("bob's available presence", presenceFrom(bob.jid(), ""))

			tt.kill(t, e.nodes[1])
			alice.expect("unavailable from bob's full JID after his node went", presenceFrom(bob.jid(), "unavailable"))
			e.waitGone(u[1], 0)
			alice.send("<message to='%s' type='chat' id='after-death'><body>gone?</body></message>", bob.bare())
			if !testutil.Poll(crossWait, func() bool { return e.offline(u[1]) == 1 }) {
				t.Errorf("%d offline messages for %s after his node went, want 1", e.offline(u[1]), u[1])
			}
			expectNothing(t, crossAbsence{alice, "an error for a message to a user who is offline", func(el *stanza.Element) bool {
				return el.Name == "message" && el.ID() == "after-death"
			}})
		})
	}
}
