package im_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/stanza"
)

// XEP-0160 §3 and XEP-0334: what is kept for a user with no available
// resource. Every case writes to its own offline user.
func TestOfflineWhatIsStored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stanza string // %s is the recipient
		stored bool
	}{
		{"chat with body", "<message to='%s' type='chat'><body>b</body></message>", true},
		{"normal with body", "<message to='%s' type='normal'><body>b</body></message>", true},
		{"no type with body", "<message to='%s'><body>b</body></message>", true},
		{"to a full JID of a missing resource", "<message to='%s/gone' type='chat'><body>b</body></message>", true},
		{"body with chat state", "<message to='%s' type='chat'><body>b</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>", true},
		{"chat state only: active", "<message to='%s' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>", false},
		{"chat state only: composing", "<message to='%s' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", false},
		{"chat state with a store hint", "<message to='%s' type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>", true},
		{"body with a no-store hint", "<message to='%s' type='chat'><body>b</body><no-store xmlns='urn:xmpp:hints'/></message>", false},
		{"headline", "<message to='%s' type='headline'><body>b</body></message>", false},
		{"error", "<message to='%s' type='error'><body>b</body><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", false},
	}
	locals := []string{"alice"}
	for i := range tests {
		locals = append(locals, fmt.Sprintf("u%d", i))
	}
	e := start(t, locals)
	alice := e.login("alice", "pc")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := fmt.Sprintf("u%d@%s", i, domain)
			alice.send(tt.stanza, to)
			alice.sync()
			want := 0
			if tt.stored {
				want = 1
			}
			if n := e.offline(fmt.Sprintf("u%d", i)); n != want {
				t.Errorf("stored %d messages, want %d", n, want)
			}
		})
	}
	alice.expectNone("error", isError)
}

// XEP-0160: stored messages are delivered, in order and with a delay stamp
// (XEP-0203) from the server, when the user sends initial presence, not
// when it binds a resource; a second resource coming online later does not
// get them again.
func TestOfflineDeliveredAtInitialPresence(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	alice := e.login("alice", "pc")
	before := time.Now().Add(-time.Second)
	bodies := []string{"one", "two", "three", "four"}
	for i, b := range bodies {
		alice.send("<message to='bob@localhost' type='chat' id='o%d'><body>%s</body></message>", i, b)
	}
	alice.send("<message to='bob@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	alice.sync()
	if n := e.offline("bob"); n != len(bodies) {
		t.Fatalf("stored %d messages, want %d", n, len(bodies))
	}

	bob := e.login("bob", "phone")
	bob.expectNone("offline message before initial presence", func(el *stanza.Element) bool { return el.Name == "message" })
	if n := e.offline("bob"); n != len(bodies) {
		t.Fatalf("after bind: %d messages stored, want %d still", n, len(bodies))
	}

	bob.send("<presence/>")
	isMessage := func(el *stanza.Element) bool { return el.Name == "message" }
	for i, want := range bodies {
		el := bob.expect("offline message "+want, isMessage)
		if got := bodyOf(el); got != want {
			t.Fatalf("offline message %d has body %q, want %q (order must be kept)", i, got, want)
		}
		if el.From() != alice.jid() || el.To() != "bob@localhost" || el.ID() != fmt.Sprintf("o%d", i) {
			t.Errorf("offline message %d: from=%q to=%q id=%q, want from=%q to=bob@localhost id=o%d", i, el.From(), el.To(), el.ID(), alice.jid(), i)
		}
		d := el.Child("delay", stanza.NSDelay)
		if d == nil {
			t.Errorf("offline message %d has no <delay xmlns='urn:xmpp:delay'/>: %s", i, el)
			continue
		}
		if d.Attr("from") != domain {
			t.Errorf("delay from = %q, want %q", d.Attr("from"), domain)
		}
		stamp, err := time.Parse(time.RFC3339, d.Attr("stamp"))
		if err != nil || stamp.Before(before) || stamp.After(time.Now().Add(time.Second)) {
			t.Errorf("delay stamp %q: not a time during the test (err %v)", d.Attr("stamp"), err)
		}
		if stamp.Location() != time.UTC {
			t.Errorf("delay stamp %q is not in UTC (XEP-0082)", d.Attr("stamp"))
		}
	}
	bob.expectNone("chat-state-only message", isMessage)
	if n := e.offline("bob"); n != 0 {
		t.Errorf("%d messages still stored after delivery", n)
	}

	tablet := e.login("bob", "tablet")
	tablet.send("<presence/>")
	tablet.expectNone("offline message delivered twice", isMessage)
}

// XEP-0160 §3: the messages wait for a resource with non-negative
// priority; a negative initial presence does not take them.
func TestOfflineNegativePriority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// then runs after bob/neg came online with priority -1.
		then func(e *env, neg *client) *client // returns who should get the message
	}{
		{"a later non-negative presence of the same resource delivers them", func(e *env, neg *client) *client {
			neg.send("<presence><priority>1</priority></presence>")
			return neg
		}},
		{"another resource's non-negative initial presence delivers them", func(e *env, neg *client) *client {
			return e.online("bob", "pos", 0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.login("alice", "pc")
			alice.send("<message to='bob@localhost' type='chat'><body>waiting</body></message>")
			alice.sync()

			neg := e.online("bob", "neg", -1)
			neg.expectNone("offline message at negative priority", messageBody("waiting"))
			if n := e.offline("bob"); n != 1 {
				t.Fatalf("after negative initial presence %d messages stored, want 1", n)
			}
			got := tt.then(e, neg)
			got.expect("the offline message", messageBody("waiting"))
		})
	}
}

// limits.max_offline_messages bounds the store per user; beyond it the
// sender gets service-unavailable (XEP-0160 §4), and 0 stores nothing.
func TestOfflineQuota(t *testing.T) {
	t.Parallel()
	tests := []struct {
		limit   int
		send    int
		stored  int
		bounced int
	}{
		{limit: 2, send: 4, stored: 2, bounced: 2},
		{limit: 3, send: 3, stored: 3, bounced: 0},
		{limit: 0, send: 2, stored: 0, bounced: 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit %d", tt.limit), func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"}, func(c *config.Config) { c.Limits.MaxOfflineMessages = tt.limit })
			alice := e.login("alice", "pc")
			for i := range tt.send {
				alice.send("<message to='bob@localhost' type='chat' id='q%d'><body>m%d</body></message>", i, i)
			}
			alice.sync()
			if n := e.offline("bob"); n != tt.stored {
				t.Errorf("stored %d, want %d", n, tt.stored)
			}
			for i := tt.send - tt.bounced; i < tt.send; i++ {
				el := alice.expect(fmt.Sprintf("service-unavailable for m%d", i), errorWithBody(fmt.Sprintf("m%d", i), stanza.ServiceUnavailable))
				if el.ID() != fmt.Sprintf("q%d", i) || el.From() != "bob@localhost" {
					t.Errorf("bounce of m%d: id=%q from=%q, want id=q%d from=bob@localhost", i, el.ID(), el.From(), i)
				}
			}
			alice.expectNone("more errors", isError)

			bob := e.login("bob", "phone")
			bob.send("<presence/>")
			for i := range tt.stored {
				bob.expect(fmt.Sprintf("stored m%d", i), messageBody(fmt.Sprintf("m%d", i)))
			}
			if tt.stored < tt.send {
				bob.expectNone("message beyond the quota", messageBody(fmt.Sprintf("m%d", tt.stored)))
			}
		})
	}
}
