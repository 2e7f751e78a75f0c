package c2s_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const nsSM = "urn:xmpp:sm:3"

// smEnv is a plain-TCP server with accounts alice and bob.
type smEnv struct {
	t *testing.T
	s *testserver.Server
}

func newSMEnv(t *testing.T, opts ...testserver.Option) *smEnv {
	s := testserver.Start(t, append([]testserver.Option{testserver.PlainTCP}, opts...)...)
	s.AddUser("alice@localhost", pw)
	s.AddUser("bob@localhost", pw)
	return &smEnv{t: t, s: s}
}

// login logs user/resource in (bound) without stream management.
func (e *smEnv) login(user, resource string) *xmppclient.Client {
	e.t.Helper()
	c, err := dial(e.t, xmppclient.Config{Addr: e.s.C2S(), Username: user, Resource: resource})
	if err != nil {
		e.t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// authOnly authenticates user without binding (to resume, or to misbehave).
func (e *smEnv) authOnly(user string) *xmppclient.Client {
	e.t.Helper()
	c, err := dial(e.t, xmppclient.Config{Addr: e.s.C2S(), Username: user, StopAfter: xmppclient.StageAuth})
	if err != nil {
		e.t.Fatalf("auth %s: %v", user, err)
	}
	return c
}

func send(t *testing.T, c *xmppclient.Client, format string, args ...any) {
	t.Helper()
	el, err := stanza.ParseBytes(fmt.Appendf(nil, format, args...))
	if err != nil {
		t.Fatalf("bad test XML: %v", err)
	}
	if err := c.Send(el); err != nil {
		t.Fatalf("send %s: %v", el, err)
	}
}

func expect(t *testing.T, c *xmppclient.Client, what string, match func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	cx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	el, err := c.Expect(cx, match)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return el
}

func smEl(name string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Is(name, nsSM) }
}

func msgBody(body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		b := el.Child("body", stanza.NSClient)
		return el.Name == "message" && b != nil && b.Text() == body
	}
}

// enable enables stream management (with resumption when resume) and
// returns <enabled/>.
func enable(t *testing.T, c *xmppclient.Client, resume bool) *stanza.Element {
	t.Helper()
	if resume {
		send(t, c, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	} else {
		send(t, c, "<enable xmlns='urn:xmpp:sm:3'/>")
	}
	return expect(t, c, "<enabled/>", smEl("enabled"))
}

// ack answers the server's request with h.
func ack(t *testing.T, c *xmppclient.Client, h int) {
	t.Helper()
	send(t, c, "<a xmlns='urn:xmpp:sm:3' h='%d'/>", h)
}

func hOf(t *testing.T, el *stanza.Element) int {
	t.Helper()
	h, err := strconv.Atoi(el.Attr("h"))
	if err != nil {
		t.Fatalf("%s: bad h: %v", el, err)
	}
	return h
}

func TestSMFeatureAndAcks(t *testing.T) {
	e := newSMEnv(t)
	alice := e.login("alice", "pc")
	if alice.Features().Child("sm", nsSM) == nil {
		t.Fatalf("no <sm/> in the post-authentication features: %s", alice.Features())
	}
	bob := e.login("bob", "pc")
	en := enable(t, alice, false)
	if en.Attr("id") != "" || en.Attr("resume") != "" {
		t.Fatalf("resumption offered though not asked for: %s", en)
	}
	// Server to client: three messages, then a request for an ack.
	for i := range 3 {
		send(t, bob, "<message to='alice@localhost/pc' type='chat'><body>m%d</body></message>", i)
	}
	for i := range 3 {
		expect(t, alice, "a message", msgBody(fmt.Sprintf("m%d", i)))
	}
	expect(t, alice, "<r/> from the server", smEl("r"))
	ack(t, alice, 3)
	// Client to server: each stanza handled is counted.
	send(t, alice, "<message to='bob@localhost/pc' type='chat'><body>x</body></message>")
	send(t, alice, "<presence/>")
	send(t, alice, "<r xmlns='urn:xmpp:sm:3'/>")
	if a := expect(t, alice, "<a/>", smEl("a")); hOf(t, a) != 2 {
		t.Fatalf("the server acknowledged %s, want h=2", a)
	}
	expect(t, bob, "alice's message", msgBody("x"))
}

func TestSMErrors(t *testing.T) {
	e := newSMEnv(t)
	t.Run("enable before bind", func(t *testing.T) {
		c := e.authOnly("alice")
		send(t, c, "<enable xmlns='urn:xmpp:sm:3'/>")
		f := expect(t, c, "<failed/>", smEl("failed"))
		if f.Child("unexpected-request", stanza.NSStanzas) == nil {
			t.Fatalf("got %s, want unexpected-request", f)
		}
	})
	t.Run("enable twice", func(t *testing.T) {
		c := e.login("alice", "twice")
		enable(t, c, false)
		send(t, c, "<enable xmlns='urn:xmpp:sm:3'/>")
		if f := expect(t, c, "<failed/>", smEl("failed")); f.Child("unexpected-request", stanza.NSStanzas) == nil {
			t.Fatalf("got %s, want unexpected-request", f)
		}
	})
	t.Run("unknown session", func(t *testing.T) {
		c := e.authOnly("alice")
		send(t, c, "<resume xmlns='urn:xmpp:sm:3' previd='no-such-session' h='0'/>")
		if f := expect(t, c, "<failed/>", smEl("failed")); f.Child("item-not-found", stanza.NSStanzas) == nil {
			t.Fatalf("got %s, want item-not-found", f)
		}
		// XEP-0198 §5: the client may bind after a failed resumption.
		if _, err := c.Bind(ctx(t)); err != nil {
			t.Fatalf("bind after a failed resumption: %v", err)
		}
	})
	t.Run("ack of more than was sent", func(t *testing.T) {
		c := e.login("alice", "toohigh")
		enable(t, c, false)
		ack(t, c, 10)
		cx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.Expect(cx, func(*stanza.Element) bool { return false })
		var se *stanza.StreamError
		if !errors.As(err, &se) || se.Condition != stanza.StreamUndefined {
			t.Fatalf("got %v, want an undefined-condition stream error", err)
		}
	})
	t.Run("another user's session", func(t *testing.T) {
		alice := e.login("alice", "mine")
		id := enable(t, alice, true).Attr("id")
		bob := e.authOnly("bob")
		send(t, bob, "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>", id)
		if f := expect(t, bob, "<failed/>", smEl("failed")); f.Child("item-not-found", stanza.NSStanzas) == nil {
			t.Fatalf("got %s, want item-not-found", f)
		}
	})
}

// A client whose connection breaks resumes its session on a new one: it
// gets every stanza it had not acknowledged, including those that arrived
// while it was away, and learns how many of its own the server handled.
func TestSMResume(t *testing.T) {
	e := newSMEnv(t)
	bob := e.login("bob", "pc")
	alice := e.login("alice", "pc")
	en := enable(t, alice, true)
	id := en.Attr("id")
	if id == "" || en.Attr("resume") != "true" || en.Attr("max") != "300" {
		t.Fatalf("got %s, want resumption with an id and max=300", en)
	}
	send(t, alice, "<presence/>")
	expect(t, alice, "her presence echo", func(el *stanza.Element) bool { return el.Name == "presence" })
	send(t, bob, "<message to='alice@localhost/pc' type='chat'><body>one</body></message>")
	expect(t, alice, "message one", msgBody("one"))
	expect(t, alice, "<r/>", smEl("r"))
	ack(t, alice, 2) // the two stanzas she has received: her presence echo and message one
	send(t, bob, "<message to='alice@localhost/pc' type='chat'><body>two</body></message>")
	expect(t, alice, "message two", msgBody("two")) // received, never acknowledged
	send(t, alice, "<message to='bob@localhost/pc' type='chat'><body>from alice</body></message>")
	expect(t, bob, "alice's message", msgBody("from alice"))

	// The connection breaks (no closing tag).
	_ = alice.Conn().Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return e.s.Router().Count() == 2 && detachedCount(e) == 1 })
	send(t, bob, "<message to='alice@localhost/pc' type='chat'><body>three</body></message>")

	again := e.authOnly("alice")
	send(t, again, "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='2'/>", id)
	r := expect(t, again, "<resumed/>", smEl("resumed"))
	if r.Attr("previd") != id || hOf(t, r) != 2 {
		t.Fatalf("got %s, want previd=%s h=2 (her presence and message)", r, id)
	}
	expect(t, again, "message two again", msgBody("two"))
	expect(t, again, "message three, sent while she was away", msgBody("three"))
	// The session goes on: same full JID, new messages arrive, acks work.
	send(t, bob, "<message to='alice@localhost/pc' type='chat'><body>four</body></message>")
	expect(t, again, "message four", msgBody("four"))
	send(t, again, "<r xmlns='urn:xmpp:sm:3'/>")
	if a := expect(t, again, "<a/>", smEl("a")); hOf(t, a) != 2 {
		t.Fatalf("got %s, want h=2 (the count carries over)", a)
	}
	if n := e.s.Router().Count(); n != 2 {
		t.Fatalf("%d sessions bound, want 2 (alice's resumed session and bob's)", n)
	}
}

// detachedCount is how many sessions of e's server wait for a resumption:
// bound sessions minus open connections.
func detachedCount(e *smEnv) int { return e.s.Router().Count() - connCount(e) }

func connCount(e *smEnv) int { return e.s.Connections() }

// A client that comes back before the server noticed the old connection
// broke resumes anyway; the old connection is closed with <conflict/>.
func TestSMResumeWhileOldConnectionOpen(t *testing.T) {
	e := newSMEnv(t)
	alice := e.login("alice", "pc")
	id := enable(t, alice, true).Attr("id")
	again := e.authOnly("alice")
	send(t, again, "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>", id)
	expect(t, again, "<resumed/>", smEl("resumed"))
	cx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := alice.Expect(cx, func(*stanza.Element) bool { return false })
	var se *stanza.StreamError
	if !errors.As(err, &se) || se.Condition != stanza.StreamConflict {
		t.Fatalf("the old connection ended with %v, want conflict", err)
	}
	bob := e.login("bob", "pc")
	send(t, bob, "<message to='alice@localhost/pc' type='chat'><body>hi</body></message>")
	expect(t, again, "a message on the resumed session", msgBody("hi"))
}

// A session nobody resumes in time ends: its contacts see it go, and what
// it never acknowledged goes to offline storage, delivered at the next
// login.
func TestSMResumptionWindowEnds(t *testing.T) {
	e := newSMEnv(t, func(c *config.Config) { c.StreamManagement.ResumeTimeout = 300 * time.Millisecond })
	bob := e.login("bob", "pc")
	alice := e.login("alice", "pc")
	id := enable(t, alice, true).Attr("id")
	send(t, alice, "<presence/>")
	expect(t, alice, "her presence echo", func(el *stanza.Element) bool { return el.Name == "presence" })
	send(t, bob, "<message to='alice@localhost' type='chat'><body>unacked</body></message>")
	expect(t, alice, "the message", msgBody("unacked"))
	_ = alice.Conn().Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return e.s.Router().Count() == 1 })

	late := e.authOnly("alice")
	send(t, late, "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>", id)
	if f := expect(t, late, "<failed/>", smEl("failed")); f.Child("item-not-found", stanza.NSStanzas) == nil {
		t.Fatalf("got %s, want item-not-found after the window", f)
	}
	fresh := e.login("alice", "pc2")
	send(t, fresh, "<presence/>")
	m := expect(t, fresh, "the unacknowledged message from offline storage", msgBody("unacked"))
	if m.Child("delay", stanza.NSDelay) == nil {
		t.Fatalf("offline message without a delay stamp: %s", m)
	}
}

// A session that ends cleanly with stanzas unacknowledged hands them back
// too: a message the client may not have processed is not dropped.
func TestSMUnackedOnClose(t *testing.T) {
	e := newSMEnv(t)
	bob := e.login("bob", "pc")
	alice := e.login("alice", "pc")
	enable(t, alice, false)
	send(t, alice, "<presence/>")
	expect(t, alice, "her presence echo", func(el *stanza.Element) bool { return el.Name == "presence" })
	send(t, bob, "<message to='alice@localhost' type='chat'><body>in flight</body></message>")
	expect(t, alice, "the message", msgBody("in flight"))
	_ = alice.Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return e.s.Router().Count() == 1 })
	fresh := e.login("alice", "pc2")
	send(t, fresh, "<presence/>")
	expect(t, fresh, "the unacknowledged message, again", msgBody("in flight"))
}

// A node that advertises its client address tells a resumable client where
// to reconnect to resume (XEP-0198 'location'): sessions are resumed on the
// node that holds them.
func TestSMLocation(t *testing.T) {
	e := newSMEnv(t, func(c *config.Config) {
		c.Cluster.ClientAddress, c.Cluster.ClientTLSAddress = "xmpp2.example.com:5222", "xmpp2.example.com:5223"
	})
	alice := e.login("alice", "pc")
	if en := enable(t, alice, true); en.Attr("location") != "xmpp2.example.com:5222" {
		t.Fatalf("got %s, want location='xmpp2.example.com:5222'", en)
	}
	other := e.login("alice", "other")
	if en := enable(t, other, false); en.Attr("location") != "" {
		t.Fatalf("got %s: a location without resumption", en)
	}
}
