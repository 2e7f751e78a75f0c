package im_test

import (
	"context"
	"testing"

	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// relate writes matching roster items for user and contact straight into
// storage: user's subscription to contact is sub, contact's the mirror of
// it. The subscription handshake itself is tested in subscription_test.go.
func (e *env) relate(user, contact, sub string) {
	e.t.Helper()
	mirror := map[string]string{storage.SubNone: storage.SubNone, storage.SubTo: storage.SubFrom, storage.SubFrom: storage.SubTo, storage.SubBoth: storage.SubBoth}
	for _, p := range [][3]string{{user, contact, sub}, {contact, user, mirror[sub]}} {
		it := storage.RosterItem{Contact: p[1] + "@" + domain, Subscription: p[2]}
		if _, err := e.srv.Store().PutRosterItem(context.Background(), p[0]+"@"+domain, it); err != nil {
			e.t.Fatalf("roster item %s -> %s: %v", p[0], p[1], err)
		}
	}
}

// block makes c block j (XEP-0191).
func (c *client) block(j string) {
	c.t.Helper()
	if _, err := c.request("<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='%s'/></block></iq>", j); err != nil {
		c.t.Fatalf("%s: block %s: %v", c.name, j, err)
	}
}

// contact is one of alice's contacts in the presence tests.
type contact struct {
	local string
	sub   string // alice's subscription to the contact
	// seesAlice: the contact is subscribed to alice (alice's 'from'/'both');
	// aliceSees: alice is subscribed to the contact ('to'/'both').
	seesAlice, aliceSees bool
}

var contacts = []contact{
	{"bob", storage.SubBoth, true, true},
	{"carol", storage.SubFrom, true, false},
	{"dave", storage.SubTo, false, true},
	{"eve", storage.SubNone, false, false},
	{"frank", "", false, false}, // not in the roster at all
}

// RFC 6121 §4.2-4.5: alice's availability goes to the contacts subscribed
// to it and to all her resources (including, as an echo, the one that sent
// it); at initial presence she receives the presence of the contacts she is
// subscribed to (probes) and of her other resources; her going away, by
// unavailable presence, by closing the stream or by dropping the TCP
// connection, reaches the same entities.
func TestPresenceBroadcast(t *testing.T) {
	t.Parallel()
	locals := []string{"alice"}
	for _, c := range contacts {
		locals = append(locals, c.local)
	}
	e := start(t, locals)
	for _, c := range contacts {
		if c.sub != "" {
			e.relate("alice", c.local, c.sub)
		}
	}
	peers := map[string]*client{}
	for _, c := range contacts {
		peers[c.local] = e.online(c.local, "pc", 0)
	}
	phone := e.online("alice", "phone", 0) // her other resource
	idle := e.login("alice", "idle")       // connected, never available

	// fromAlice checks who receives a presence of the type from res.
	fromAlice := func(t *testing.T, res, typ string, others ...absence) {
		t.Helper()
		full := "alice@localhost/" + res
		absent := others
		for _, c := range contacts {
			if c.seesAlice {
				peers[c.local].expect("alice's presence "+typ, presence(full, typ))
			} else {
				absent = append(absent, absence{peers[c.local], "alice's presence " + typ, presence(full, typ)})
			}
		}
		expectAbsent(t, absent...)
	}

	var desk *client
	t.Run("initial presence", func(t *testing.T) {
		desk = e.login("alice", "desk")
		desk.send("<presence><show>chat</show><status>hello</status><priority>3</priority></presence>")
		echo := desk.expect("the echo of her own presence", presence(desk.jid(), ""))
		if echo.Child("status", "") == nil || echo.Child("status", "").Text() != "hello" {
			t.Errorf("echo lost the status: %s", echo)
		}
		phone.expect("presence of the other resource", presence(desk.jid(), ""))
		desk.expect("presence of her other resource", presence(phone.jid(), ""))
		var absent []absence
		for _, c := range contacts {
			m := presence(c.local+"@localhost/pc", "")
			if c.aliceSees {
				desk.expect(c.local+"'s presence (probe)", m)
			} else {
				absent = append(absent, absence{desk, c.local + "'s presence", m})
			}
		}
		absent = append(absent,
			absence{idle, "presence: the resource is not available (§4.2.2)", anyPresenceFrom("alice@localhost")},
			absence{desk, "presence of a resource that is not available", anyPresenceFrom(idle.jid())})
		fromAlice(t, "desk", "", absent...)
	})

	t.Run("presence update", func(t *testing.T) {
		desk.send("<presence><show>away</show></presence>")
		desk.expect("the echo", presence(desk.jid(), ""))
		phone.expect("the update", presence(desk.jid(), ""))
		// An update is not initial presence: no new probes.
		var absent []absence
		for _, c := range contacts {
			absent = append(absent, absence{desk, c.local + "'s presence again", anyPresenceFrom(c.local + "@localhost")})
		}
		fromAlice(t, "desk", "", absent...)
	})

	t.Run("unavailable presence", func(t *testing.T) {
		desk.send("<presence type='unavailable'><status>bye</status></presence>")
		phone.expect("desk's unavailable", presence(desk.jid(), "unavailable"))
		fromAlice(t, "desk", "unavailable")
	})

	t.Run("closing the stream", func(t *testing.T) {
		c := e.online("alice", "laptop", 0)
		fromAlice(t, "laptop", "")
		phone.expect("laptop's presence", presence(c.jid(), ""))
		if err := c.c.Close(); err != nil {
			t.Fatal(err)
		}
		phone.expect("laptop's unavailable", presence(c.jid(), "unavailable"))
		fromAlice(t, "laptop", "unavailable")
	})

	t.Run("dropping the connection", func(t *testing.T) {
		c := e.online("alice", "tablet", 0)
		fromAlice(t, "tablet", "")
		phone.expect("tablet's presence", presence(c.jid(), ""))
		// No </stream:stream>: the TCP connection just goes.
		if err := c.c.Conn().Close(); err != nil {
			t.Fatal(err)
		}
		phone.expect("tablet's unavailable", presence(c.jid(), "unavailable"))
		fromAlice(t, "tablet", "unavailable")
	})

	t.Run("never available, then gone", func(t *testing.T) {
		c := e.login("alice", "silent")
		c.c.Close()
		e.waitGoneResource(c)
		full := "alice@localhost/silent"
		var absent []absence
		for _, c := range contacts {
			absent = append(absent, absence{peers[c.local], "presence of a resource that never was available", anyPresenceFrom(full)})
		}
		absent = append(absent, absence{phone, "presence of a resource that never was available", anyPresenceFrom(full)})
		expectAbsent(t, absent...)
	})
}

// waitGoneResource waits until the server has dropped c's session.
func (e *env) waitGoneResource(c *client) {
	e.t.Helper()
	testutil.Eventually(e.t, waitFor, func() bool { return e.srv.Router().Session(c.c.JID()) == nil })
}

// RFC 6121 §4.6: directed presence reaches entities outside the roster,
// and they are told, once, when the sender goes away (§4.6.3).
func TestDirectedPresence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		to   string // where alice sends directed presence
		end  func(a *client)
	}{
		{"to a full JID, then unavailable broadcast", "frank@localhost/pc", func(a *client) {
			a.send("<presence type='unavailable'/>")
		}},
		{"to a bare JID, then clean logout", "frank@localhost", func(a *client) { a.c.Close() }},
		{"to a full JID, then dropped connection", "frank@localhost/pc", func(a *client) { a.c.Conn().Close() }},
		{"withdrawn by directed unavailable before logout", "frank@localhost/pc", func(a *client) {
			a.send("<presence to='frank@localhost/pc' type='unavailable'/>")
			a.sync()
			a.c.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "frank"})
			frank := e.online("frank", "pc", 0)
			alice := e.online("alice", "pc", 0)
			alice.send("<presence to='%s'><status>psst</status></presence>", tt.to)
			got := frank.expect("the directed presence", presence(alice.jid(), ""))
			if s := got.Child("status", ""); s == nil || s.Text() != "psst" {
				t.Errorf("directed presence changed on the way: %s", got)
			}
			tt.end(alice)
			frank.expect("unavailable when alice goes", presence(alice.jid(), "unavailable"))
			frank.expectNone("second unavailable", presence(alice.jid(), "unavailable"))
		})
	}
}

// A contact subscribed to alice who also got directed presence from her
// is told once that she left (RFC 6121 §4.6.3 adds nothing for contacts
// already subscribed).
func TestDirectedPresenceToSubscriber(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	e.relate("alice", "bob", storage.SubBoth)
	bob := e.online("bob", "pc", 0)
	alice := e.online("alice", "pc", 0)
	bob.expect("alice's presence", presence(alice.jid(), ""))
	alice.send("<presence to='bob@localhost/pc'/>")
	bob.expect("the directed presence", presence(alice.jid(), ""))
	alice.c.Close()
	bob.expect("alice's unavailable", presence(alice.jid(), "unavailable"))
	bob.expectNone("second unavailable", presence(alice.jid(), "unavailable"))
}

// XEP-0191 §3.3 with RFC 6121 §4: a blocked contact neither sees the
// blocker's presence nor gets its own presence through to the blocker.
func TestPresenceBlocked(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob", "eve"})
	e.relate("alice", "bob", storage.SubBoth)
	bob := e.online("bob", "pc", 0)
	bob.block("alice@localhost")
	bob.block("eve@localhost")

	alice := e.online("alice", "pc", 0)
	eve := e.online("eve", "pc", 0)
	eve.send("<presence to='bob@localhost'/>")
	eve.send("<presence to='bob@localhost/pc'><status>let me in</status></presence>")
	eve.sync()
	expectAbsent(t,
		absence{bob, "presence of blocked alice", anyPresenceFrom("alice@localhost")},
		absence{bob, "directed presence of blocked eve", anyPresenceFrom("eve@localhost")},
		absence{alice, "presence of bob, who blocks her (probe)", anyPresenceFrom("bob@localhost")},
		absence{eve, "presence of bob", anyPresenceFrom("bob@localhost")},
	)

	alice.send("<presence><show>dnd</show></presence>")
	alice.c.Close()
	e.waitGoneResource(alice)
	bob.expectNone("presence of blocked alice", anyPresenceFrom("alice@localhost"))

	// Unblocked, she is seen again at her next initial presence.
	if _, err := bob.request("<iq type='set'><unblock xmlns='urn:xmpp:blocking'><item jid='alice@localhost'/></unblock></iq>"); err != nil {
		t.Fatalf("unblock: %v", err)
	}
	again := e.online("alice", "pc", 0)
	bob.expect("alice's presence after unblocking", presence(again.jid(), ""))
	again.expect("bob's presence after unblocking (probe)", presence(bob.jid(), ""))
}

// Presence of unknown type is refused; presence to another domain cannot
// be delivered.
func TestPresenceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stanza string
		cond   stanza.Condition
	}{
		{"unknown type", "<presence type='bogus'/>", stanza.BadRequest},
		{"directed to another domain", "<presence to='carol@elsewhere.example'/>", stanza.RemoteServerNotFound},
		{"subscribe without to", "<presence type='subscribe'/>", stanza.BadRequest},
	}
	e := start(t, []string{"alice"})
	alice := e.online("alice", "pc", 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alice.send("%s", tt.stanza)
			alice.expect(string(tt.cond), stanzaError("presence", tt.cond))
		})
	}
}
