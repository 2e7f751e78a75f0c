package im_test

import (
	"slices"
	"testing"

	"github.com/parley-im/parley/stanza"
)

// noPresence stands for a resource that is bound but never sent presence.
const noPresence = 1000

type resource struct {
	name string
	prio int // noPresence: connected, not available
}

// connect binds the resources of local with their presence.
func (e *env) connect(local string, rs []resource) map[string]*client {
	e.t.Helper()
	out := make(map[string]*client, len(rs))
	for _, r := range rs {
		if r.prio == noPresence {
			out[r.name] = e.login(local, r.name)
		} else {
			out[r.name] = e.online(local, r.name, r.prio)
		}
	}
	return out
}

// checkDelivery checks that exactly the resources in want received a
// message with the body from sender, and runs the other absence checks
// in the same quiet period.
func checkDelivery(t *testing.T, rs map[string]*client, want []string, from, body string, others ...absence) {
	t.Helper()
	checks := others
	for name, c := range rs {
		if !slices.Contains(want, name) {
			checks = append(checks, absence{c, "message " + body, messageBody(body)})
			continue
		}
		el := c.expect("the message", messageBody(body))
		if el.From() != from {
			t.Errorf("%s got the message from %q, want %q", name, el.From(), from)
		}
	}
	expectAbsent(t, checks...)
}

// isError matches any error stanza.
func isError(el *stanza.Element) bool { return el.Type() == "error" }

// RFC 6121 §8.5.2: a message to a bare JID goes to the available resources
// with the highest non-negative priority, headlines to all non-negative
// ones; with no such resource it is stored (XEP-0160), except headlines.
func TestMessageToBareJID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		typ       string
		resources []resource
		want      []string
		offline   int
	}{
		{"chat to the highest priority", "chat", []resource{{"a", 5}, {"b", 1}, {"c", -1}}, []string{"a"}, 0},
		{"normal to the highest priority", "normal", []resource{{"a", 1}, {"b", 7}}, []string{"b"}, 0},
		{"no type is normal", "", []resource{{"a", 1}, {"b", 7}}, []string{"b"}, 0},
		{"ties all get it", "chat", []resource{{"a", 3}, {"b", 3}, {"c", 1}}, []string{"a", "b"}, 0},
		{"zero beats negative", "chat", []resource{{"a", 0}, {"b", -5}}, []string{"a"}, 0},
		{"negative never gets it", "chat", []resource{{"a", -1}, {"b", 2}}, []string{"b"}, 0},
		{"connected without presence never gets it", "chat", []resource{{"a", noPresence}, {"b", 0}}, []string{"b"}, 0},
		{"all negative: stored offline", "chat", []resource{{"a", -1}, {"b", -128}}, nil, 1},
		{"only connected, no presence: stored offline", "normal", []resource{{"a", noPresence}}, nil, 1},
		{"no resource: stored offline", "chat", nil, nil, 1},
		{"headline to every non-negative resource", "headline", []resource{{"a", 5}, {"b", 0}, {"c", -1}}, []string{"a", "b"}, 0},
		{"headline with only negative resources is dropped", "headline", []resource{{"a", -1}}, nil, 0},
		{"headline with no resource is dropped", "headline", nil, nil, 0},
		{"error type is dropped", "error", []resource{{"a", 5}}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.login("alice", "pc")
			bob := e.connect("bob", tt.resources)

			typ := ""
			if tt.typ != "" {
				typ = " type='" + tt.typ + "'"
			}
			alice.send("<message to='bob@localhost' id='m1'%s><body>hello</body></message>", typ)
			alice.sync()

			checkDelivery(t, bob, tt.want, alice.jid(), "hello", absence{alice, "error", isError})
			if n := e.offline("bob"); n != tt.offline {
				t.Errorf("offline messages for bob = %d, want %d", n, tt.offline)
			}
		})
	}
}

// RFC 6121 §8.5.3: to a full JID, the resource gets the message whatever
// its priority; when the resource does not exist, chat and normal are
// treated as if sent to the bare JID, groupchat bounces, error is dropped
// and headline is not delivered elsewhere (§8.5.3.2.1: ignore or error).
func TestMessageToFullJID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		to        string
		typ       string
		resources []resource
		want      []string
		offline   int
		bounce    stanza.Condition // "" for none
	}{
		{"existing resource with negative priority", "bob@localhost/low", "chat", []resource{{"high", 5}, {"low", -1}}, []string{"low"}, 0, ""},
		{"existing resource without presence", "bob@localhost/quiet", "normal", []resource{{"high", 5}, {"quiet", noPresence}}, []string{"quiet"}, 0, ""},
		{"existing resource, groupchat", "bob@localhost/low", "groupchat", []resource{{"high", 5}, {"low", -1}}, []string{"low"}, 0, ""},
		{"existing resource, headline", "bob@localhost/low", "headline", []resource{{"high", 5}, {"low", -1}}, []string{"low"}, 0, ""},
		{"missing resource, chat: as bare", "bob@localhost/gone", "chat", []resource{{"high", 5}, {"low", -1}}, []string{"high"}, 0, ""},
		{"missing resource, normal: as bare", "bob@localhost/gone", "normal", []resource{{"high", 5}, {"mid", 5}, {"low", -1}}, []string{"high", "mid"}, 0, ""},
		{"missing resource, chat, user offline: stored", "bob@localhost/gone", "chat", nil, nil, 1, ""},
		{"missing resource, chat, only negative: stored", "bob@localhost/gone", "chat", []resource{{"low", -1}}, nil, 1, ""},
		{"missing resource, groupchat: service-unavailable", "bob@localhost/gone", "groupchat", []resource{{"high", 5}}, nil, 0, stanza.ServiceUnavailable},
		{"missing resource, error: dropped", "bob@localhost/gone", "error", []resource{{"high", 5}}, nil, 0, ""},
		{"missing resource, headline: not delivered elsewhere", "bob@localhost/gone", "headline", []resource{{"high", 5}}, nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.login("alice", "pc")
			bob := e.connect("bob", tt.resources)

			alice.send("<message to='%s' type='%s' id='m1'><body>hello</body></message>", tt.to, tt.typ)
			alice.sync()

			var others []absence
			if tt.bounce == "" {
				others = append(others, absence{alice, "error", isError})
			}
			checkDelivery(t, bob, tt.want, alice.jid(), "hello", others...)
			if n := e.offline("bob"); n != tt.offline {
				t.Errorf("offline messages for bob = %d, want %d", n, tt.offline)
			}
			if tt.bounce == "" {
				return
			}
			el := alice.expect("a "+string(tt.bounce)+" error", errorWithBody("hello", tt.bounce))
			if el.From() != tt.to || el.To() != alice.jid() || el.ID() != "m1" {
				t.Errorf("error reply addressed from=%q to=%q id=%q, want from=%q to=%q id=m1", el.From(), el.To(), el.ID(), tt.to, alice.jid())
			}
		})
	}
}

// Messages that cannot be delivered come back as errors (RFC 6121 §8.5.1,
// §8.5.2.1.1; RFC 6120 §10.4 for other domains, with no federation).
func TestMessageBounces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		to   string
		typ  string
		cond stanza.Condition
	}{
		{"no such user, chat", "nobody@localhost", "chat", stanza.ServiceUnavailable},
		{"no such user, normal", "nobody@localhost", "normal", stanza.ServiceUnavailable},
		{"no such user, full JID", "nobody@localhost/res", "chat", stanza.ServiceUnavailable},
		{"other domain", "carol@elsewhere.example", "chat", stanza.RemoteServerNotFound},
		{"other domain, full JID", "carol@elsewhere.example/res", "normal", stanza.RemoteServerNotFound},
		{"groupchat to a bare JID", "bob@localhost", "groupchat", stanza.ServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.login("alice", "pc")
			bob := e.online("bob", "desk", 0)

			alice.send("<message to='%s' type='%s' id='x1'><body>lost</body></message>", tt.to, tt.typ)
			el := alice.expect("a "+string(tt.cond)+" error", errorWithBody("lost", tt.cond))
			if el.From() != tt.to || el.To() != alice.jid() || el.ID() != "x1" {
				t.Errorf("error reply addressed from=%q to=%q id=%q, want from=%q to=%q id=x1", el.From(), el.To(), el.ID(), tt.to, alice.jid())
			}
			bob.expectNone("the message", messageBody("lost"))
			if n := e.offline("nobody"); n != 0 {
				t.Errorf("%d offline messages kept for a user that does not exist", n)
			}
		})
	}
}

// RFC 6120 §10.3.1: a message without 'to' is for the sender's bare JID.
func TestMessageWithoutTo(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice"})
	low := e.online("alice", "low", 1)
	high := e.online("alice", "high", 5)

	low.send("<message type='chat' id='n1'><body>note to self</body></message>")
	el := high.expect("the message", messageBody("note to self"))
	if el.From() != low.jid() {
		t.Errorf("from = %q, want the sender's full JID %q", el.From(), low.jid())
	}
	low.expectNone("the message at the lower priority resource", messageBody("note to self"))
}

// RFC 6120 §8.1.2.1: the server stamps 'from' with the sender's full JID,
// whether the client left it out or gave its bare or full JID; a 'from'
// that is not the client's ends the stream with <invalid-from/>.
func TestMessageFromStamped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		from string // the from the client writes; "" for none
	}{
		{"omitted", ""},
		{"bare JID", "alice@localhost"},
		{"full JID", "alice@localhost/pc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.login("alice", "pc")
			bob := e.online("bob", "desk", 0)
			from := ""
			if tt.from != "" {
				from = " from='" + tt.from + "'"
			}
			alice.send("<message to='bob@localhost/desk' type='chat'%s><body>hi</body></message>", from)
			el := bob.expect("the message", messageBody("hi"))
			if el.From() != "alice@localhost/pc" {
				t.Errorf("from = %q, want alice@localhost/pc", el.From())
			}
		})
	}
	t.Run("someone else's JID", func(t *testing.T) {
		t.Parallel()
		e := start(t, []string{"alice", "bob"})
		alice := e.login("alice", "pc")
		bob := e.online("bob", "desk", 0)
		alice.send("<message to='bob@localhost/desk' from='bob@localhost/desk' type='chat'><body>forged</body></message>")
		if cond := alice.expectStreamError(); cond != stanza.InvalidFrom {
			t.Errorf("stream error = %q, want invalid-from", cond)
		}
		bob.expectNone("the forged message", messageBody("forged"))
	})
}

// XEP-0191 §3.3 on top of §8.5: the blocker is invisible to the blocked
// sender, who learns only service-unavailable; a user writing to someone
// they block is told not-acceptable with <blocked/>.
func TestMessageBlocked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		blocker string // who blocks whom: "bob" blocks alice, "alice" blocks bob
		cond    stanza.Condition
		app     bool // carries <blocked xmlns='urn:xmpp:blocking:errors'/>
	}{
		{"recipient blocks the sender", "bob", stanza.ServiceUnavailable, false},
		{"sender blocks the recipient", "alice", stanza.NotAcceptable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.login("alice", "pc")
			bob := e.online("bob", "pc", 0)
			if tt.blocker == "bob" {
				bob.block("alice@localhost")
			} else {
				alice.block("bob@localhost")
			}
			alice.send("<message to='bob@localhost' type='chat' id='b1'><body>blocked?</body></message>")
			el := alice.expect(string(tt.cond), errorWithBody("blocked?", tt.cond))
			if got := el.Child("error", "").Child("blocked", "urn:xmpp:blocking:errors") != nil; got != tt.app {
				t.Errorf("<blocked/> in the error: %v, want %v: %s", got, tt.app, el)
			}
			bob.expectNone("the message", messageBody("blocked?"))
			if n := e.offline("bob"); n != 0 {
				t.Errorf("%d messages stored for bob", n)
			}
		})
	}
}
