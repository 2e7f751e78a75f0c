package im_test

import (
	"testing"

	"github.com/parley-im/parley/stanza"
)

// pushState matches a roster push for contact in the state ("to",
// "none+ask", "remove", ...; see subState).
func pushState(contact, state string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return push(contact)(el) && subState(pushItem(el)) == state
	}
}

// subscribe makes user subscribed to contact's presence through the
// protocol (§3.1): request, approval. Both must be online; both end up
// interested in roster pushes, with nothing left unread.
func subscribe(t *testing.T, user, contact *client) {
	t.Helper()
	user.roster()
	contact.roster()
	user.send("<presence to='%s' type='subscribe'/>", contact.bare())
	contact.expect("the subscription request", presence(user.bare(), "subscribe"))
	contact.send("<presence to='%s' type='subscribed'/>", user.bare())
	user.expect("the approval", presence(contact.bare(), "subscribed"))
	user.drain()
	contact.drain()
}

// checkItem checks c's roster item for contact.
func checkItem(t *testing.T, c *client, contact, want string) {
	t.Helper()
	if got := subState(c.item(contact)); got != want {
		t.Errorf("%s's item for %s is %s, want %s", c.name, contact, got, want)
	}
}

// RFC 6121 §3.1: the whole handshake, both ways, step by step.
func TestSubscriptionHandshake(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	alice := e.online("alice", "pc", 0)
	bob := e.online("bob", "pc", 0)
	alice.roster()
	bob.roster()

	// §3.1.1-3: alice asks.
	alice.send("<presence to='bob@localhost' type='subscribe'/>")
	alice.expect("push none+ask", pushState("bob@localhost", "none+ask"))
	req := bob.expect("the request", presence("alice@localhost", "subscribe"))
	if req.To() != "bob@localhost" {
		t.Errorf("request to=%q, want the bare JID bob@localhost", req.To())
	}
	expectAbsent(t,
		absence{bob, "roster push for a mere request (§3.1.3)", anyPush},
		absence{bob, "alice's presence before approval", presence(alice.jid(), "")},
	)
	checkItem(t, bob, "alice@localhost", "(absent)")
	checkItem(t, alice, "bob@localhost", "none+ask")

	// §3.1.5-6: bob approves.
	bob.send("<presence to='alice@localhost' type='subscribed'/>")
	bob.expect("push from", pushState("alice@localhost", "from"))
	alice.expect("push to", pushState("bob@localhost", "to"))
	alice.expect("the approval", presence("bob@localhost", "subscribed"))
	alice.expect("bob's presence after approval", presence(bob.jid(), ""))
	bob.expectNone("alice's presence: bob is not subscribed to it", presence(alice.jid(), ""))
	checkItem(t, alice, "bob@localhost", "to")
	checkItem(t, bob, "alice@localhost", "from")

	// The other way round.
	bob.send("<presence to='alice@localhost' type='subscribe'/>")
	bob.expect("push from+ask", pushState("alice@localhost", "from+ask"))
	alice.expect("bob's request", presence("bob@localhost", "subscribe"))
	alice.send("<presence to='bob@localhost' type='subscribed'/>")
	alice.expect("push both", pushState("bob@localhost", "both"))
	bob.expect("push both", pushState("alice@localhost", "both"))
	bob.expect("the approval", presence("alice@localhost", "subscribed"))
	bob.expect("alice's presence after approval", presence(alice.jid(), ""))
	checkItem(t, alice, "bob@localhost", "both")
	checkItem(t, bob, "alice@localhost", "both")

	// §3.1.3: a request for what one already has is approved by the
	// server, without bothering the contact or changing anything.
	alice.send("<presence to='bob@localhost' type='subscribe'/>")
	alice.sync()
	bob.expectNone("request bob already approved", presence("alice@localhost", "subscribe"))
	checkItem(t, alice, "bob@localhost", "both")
}

// RFC 6121 §3.1.2-3: subscription stanzas travel between bare JIDs, even
// when the client names a full JID, and keep their content (a status, a
// nick).
func TestSubscriptionStanzaAddressing(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	alice := e.online("alice", "pc", 0)
	bob := e.online("bob", "pc", 0)
	alice.send("<presence to='bob@localhost/pc' type='subscribe' id='s1'><status>it is me</status><nick xmlns='http://jabber.org/protocol/nick'>Al</nick></presence>")
	req := bob.expect("the request", presence("alice@localhost", "subscribe"))
	if req.To() != "bob@localhost" {
		t.Errorf("request to=%q, want bob@localhost", req.To())
	}
	check := func(req *stanza.Element) {
		t.Helper()
		if s := req.Child("status", ""); s == nil || s.Text() != "it is me" {
			t.Errorf("request lost its status: %s", req)
		}
		if req.Child("nick", "http://jabber.org/protocol/nick") == nil {
			t.Errorf("request lost its nick: %s", req)
		}
	}
	check(req)

	bob.send("<presence to='alice@localhost/pc' type='subscribed'/>")
	ok := alice.expect("the approval", presence("bob@localhost", "subscribed"))
	if ok.To() != "alice@localhost" {
		t.Errorf("approval to=%q, want alice@localhost", ok.To())
	}
}

// RFC 6121 §3.2, §3.3: cancelling and unsubscribing, from several states.
func TestSubscriptionCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(t *testing.T, alice, bob *client)
		act       func(t *testing.T, alice, bob *client)
		wantAlice string // alice's item for bob afterwards
		wantBob   string // bob's item for alice afterwards
	}{
		{
			name:  "contact cancels a mutual subscription (unsubscribed)",
			setup: func(t *testing.T, alice, bob *client) { subscribe(t, alice, bob); subscribe(t, bob, alice) },
			act: func(t *testing.T, alice, bob *client) {
				bob.send("<presence to='alice@localhost' type='unsubscribed'/>")
				bob.expect("push to", pushState("alice@localhost", "to"))
				alice.expect("push from", pushState("bob@localhost", "from"))
				alice.expect("unsubscribed", presence("bob@localhost", "unsubscribed"))
				alice.expect("bob's unavailable (§3.2.3)", presence(bob.jid(), "unavailable"))
				bob.expectNone("alice's unavailable: bob still sees her", presence(alice.jid(), "unavailable"))
			},
			wantAlice: "from", wantBob: "to",
		},
		{
			name:  "user unsubscribes from a mutual subscription",
			setup: func(t *testing.T, alice, bob *client) { subscribe(t, alice, bob); subscribe(t, bob, alice) },
			act: func(t *testing.T, alice, bob *client) {
				alice.send("<presence to='bob@localhost' type='unsubscribe'/>")
				alice.expect("push from", pushState("bob@localhost", "from"))
				bob.expect("push to", pushState("alice@localhost", "to"))
				bob.expect("unsubscribe", presence("alice@localhost", "unsubscribe"))
				alice.expect("bob's unavailable (§3.3.3)", presence(bob.jid(), "unavailable"))
			},
			wantAlice: "from", wantBob: "to",
		},
		{
			name:  "contact cancels a one-way subscription",
			setup: func(t *testing.T, alice, bob *client) { subscribe(t, alice, bob) },
			act: func(t *testing.T, alice, bob *client) {
				bob.send("<presence to='alice@localhost' type='unsubscribed'/>")
				alice.expect("push none", pushState("bob@localhost", "none"))
				alice.expect("unsubscribed", presence("bob@localhost", "unsubscribed"))
				alice.expect("bob's unavailable", presence(bob.jid(), "unavailable"))
			},
			wantAlice: "none", wantBob: "none",
		},
		{
			name: "contact declines a pending request",
			setup: func(t *testing.T, alice, bob *client) {
				alice.roster()
				alice.send("<presence to='bob@localhost' type='subscribe'/>")
				bob.expect("the request", presence("alice@localhost", "subscribe"))
			},
			act: func(t *testing.T, alice, bob *client) {
				bob.send("<presence to='alice@localhost' type='unsubscribed'/>")
				alice.expect("push none, no ask", pushState("bob@localhost", "none"))
				alice.expect("unsubscribed", presence("bob@localhost", "unsubscribed"))
				alice.expectNone("bob's presence", anyPresenceFrom(bob.jid()))
			},
			wantAlice: "none", wantBob: "(absent)",
		},
		{
			name: "user withdraws a pending request",
			setup: func(t *testing.T, alice, bob *client) {
				alice.roster()
				alice.send("<presence to='bob@localhost' type='subscribe'/>")
				bob.expect("the request", presence("alice@localhost", "subscribe"))
			},
			act: func(t *testing.T, alice, bob *client) {
				alice.send("<presence to='bob@localhost' type='unsubscribe'/>")
				alice.expect("push none, no ask", pushState("bob@localhost", "none"))
			},
			wantAlice: "none", wantBob: "(absent)",
		},
		{
			name:  "unsubscribed with no subscription changes nothing",
			setup: func(t *testing.T, alice, bob *client) { alice.roster(); bob.roster() },
			act: func(t *testing.T, alice, bob *client) {
				bob.send("<presence to='alice@localhost' type='unsubscribed'/>")
				bob.sync()
				expectAbsent(t,
					absence{alice, "unsubscribed with nothing to cancel", presence("bob@localhost", "unsubscribed")},
					absence{alice, "roster push", anyPush},
					absence{bob, "roster push", anyPush},
				)
			},
			wantAlice: "(absent)", wantBob: "(absent)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.online("alice", "pc", 0)
			bob := e.online("bob", "pc", 0)
			tt.setup(t, alice, bob)
			tt.act(t, alice, bob)
			checkItem(t, alice, "bob@localhost", tt.wantAlice)
			checkItem(t, bob, "alice@localhost", tt.wantBob)
		})
	}
}

// RFC 6121 §3.4: a pre-approved request is approved by the server without
// the contact seeing it.
func TestSubscriptionPreApproval(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	alice := e.online("alice", "pc", 0)
	bob := e.online("bob", "pc", 0)
	alice.roster()
	bob.roster()
	if bob.c.Features().Child("sub", stanza.NSPreAppr) == nil {
		t.Errorf("stream features do not advertise pre-approval (§3.4.1)")
	}

	bob.send("<presence to='alice@localhost' type='subscribed'/>")
	p := bob.expect("push of the pre-approval", push("alice@localhost"))
	if it := pushItem(p); it.Attr("approved") != "true" || it.Attr("subscription") != "none" {
		t.Errorf("pre-approval pushed %s, want subscription='none' approved='true'", it)
	}
	alice.expectNone("'subscribed' before alice asked", presence("bob@localhost", "subscribed"))

	alice.send("<presence to='bob@localhost' type='subscribe'/>")
	alice.expect("the automatic approval", presence("bob@localhost", "subscribed"))
	alice.expect("bob's presence", presence(bob.jid(), ""))
	bob.expect("push from", pushState("alice@localhost", "from"))
	bob.expectNone("the request: it was pre-approved", presence("alice@localhost", "subscribe"))
	checkItem(t, alice, "bob@localhost", "to")
	checkItem(t, bob, "alice@localhost", "from")
	if it := bob.item("alice@localhost"); it.HasAttr("approved") {
		t.Errorf("approved flag kept after use: %s", it)
	}
}

// RFC 6121 §3.1.3: a request that arrives while the contact is offline is
// delivered when the contact sends initial presence (not at bind), and
// again at every login until answered; once answered, no more.
func TestSubscriptionRequestRedelivered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env) // bob is offline when it ends
	}{
		{"requester not in the roster", func(t *testing.T, e *env) {}},
		{"requester in the roster without subscription", func(t *testing.T, e *env) {
			bob := e.login("bob", "setup")
			if _, err := bob.request("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='alice@localhost' name='Alice'/></query></iq>"); err != nil {
				t.Fatalf("roster set: %v", err)
			}
			bob.c.Close()
			e.waitGone("bob")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			tt.setup(t, e)
			alice := e.online("alice", "pc", 0)
			alice.send("<presence to='bob@localhost' type='subscribe'><status>it is me</status></presence>")
			alice.sync()

			for _, res := range []string{"first", "second"} {
				bob := e.login("bob", res)
				bob.expectNone("request before initial presence", presence("alice@localhost", "subscribe"))
				bob.send("<presence/>")
				req := bob.expect("the pending request at initial presence", presence("alice@localhost", "subscribe"))
				if s := req.Child("status", ""); s == nil || s.Text() != "it is me" || req.To() != "bob@localhost" {
					t.Errorf("redelivered request %s, want to=bob@localhost with the original status", req)
				}
				bob.c.Close()
				e.waitGone("bob")
			}

			bob := e.online("bob", "third", 0)
			bob.roster()
			bob.send("<presence to='alice@localhost' type='subscribed'/>")
			bob.expect("push from", pushState("alice@localhost", "from"))
			alice.expect("the approval", presence("bob@localhost", "subscribed"))
			bob.c.Close()
			e.waitGone("bob")

			again := e.login("bob", "fourth")
			again.send("<presence/>")
			again.expectNone("an answered request", presence("alice@localhost", "subscribe"))
		})
	}
}

// RFC 6121 §3.1.3: asking a contact that does not exist comes back as
// "unsubscribed"; a contact on another domain cannot be reached.
func TestSubscribeUnreachable(t *testing.T) {
	t.Parallel()
	t.Run("no such user", func(t *testing.T) {
		t.Parallel()
		e := start(t, []string{"alice"})
		alice := e.online("alice", "pc", 0)
		alice.roster()
		alice.send("<presence to='nobody@localhost' type='subscribe'/>")
		alice.expect("unsubscribed", presence("nobody@localhost", "unsubscribed"))
		checkItem(t, alice, "nobody@localhost", "none")
	})
	t.Run("other domain", func(t *testing.T) {
		t.Parallel()
		e := start(t, []string{"alice"})
		alice := e.online("alice", "pc", 0)
		alice.send("<presence to='carol@elsewhere.example' type='subscribe'/>")
		alice.expect("remote-server-not-found", stanzaError("presence", stanza.RemoteServerNotFound))
	})
}

// RFC 6121 §2.5.2: removing a contact cancels the subscriptions in both
// directions; the contact's server sees unsubscribe and/or unsubscribed
// and the contact's roster reflects it.
func TestRosterRemoveCancelsSubscriptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, alice, bob *client)
		// what bob (the contact) receives from alice@localhost
		unsubscribe, unsubscribed bool
		// whether each side loses the other's presence
		aliceSeesBobGo, bobSeesAliceGo bool
	}{
		{"both", func(t *testing.T, alice, bob *client) { subscribe(t, alice, bob); subscribe(t, bob, alice) }, true, true, true, true},
		{"to", func(t *testing.T, alice, bob *client) { subscribe(t, alice, bob) }, true, false, true, false},
		{"from", func(t *testing.T, alice, bob *client) { subscribe(t, bob, alice) }, false, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.online("alice", "pc", 0)
			bob := e.online("bob", "pc", 0)
			tt.setup(t, alice, bob)
			checkItem(t, alice, "bob@localhost", tt.name)

			if _, err := alice.request("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>"); err != nil {
				t.Fatalf("roster remove: %v", err)
			}
			alice.expect("push remove", pushState("bob@localhost", "remove"))
			bob.expect("push none", pushState("alice@localhost", "none"))
			var absent []absence
			check := func(c *client, want bool, what string, match func(*stanza.Element) bool) {
				if want {
					c.expect(what, match)
				} else {
					absent = append(absent, absence{c, what, match})
				}
			}
			check(bob, tt.unsubscribe, "unsubscribe", presence("alice@localhost", "unsubscribe"))
			check(bob, tt.unsubscribed, "unsubscribed", presence("alice@localhost", "unsubscribed"))
			check(alice, tt.aliceSeesBobGo, "bob's unavailable", presence(bob.jid(), "unavailable"))
			check(bob, tt.bobSeesAliceGo, "alice's unavailable", presence(alice.jid(), "unavailable"))
			expectAbsent(t, absent...)
			checkItem(t, alice, "bob@localhost", "(absent)")
			checkItem(t, bob, "alice@localhost", "none")
		})
	}
}
