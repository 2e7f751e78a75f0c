package im_test

import (
	"testing"

	"github.com/parley-im/parley/stanza"
)

const nsCarbons = "urn:xmpp:carbons:2"

// carbonOf matches a carbon copy of the kind ("sent" or "received") from
// the owner's bare JID, wrapping a message with the body.
func carbonOf(kind, owner, body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		w := el.Child(kind, nsCarbons)
		if el.Name != "message" || el.From() != owner || w == nil {
			return false
		}
		fwd := w.Child("forwarded", "urn:xmpp:forward:0")
		if fwd == nil {
			return false
		}
		inner := fwd.Child("message", stanza.NSClient)
		return inner != nil && bodyOf(inner) == body
	}
}

func anyCarbon(el *stanza.Element) bool {
	return el.Name == "message" && (el.Child("sent", nsCarbons) != nil || el.Child("received", nsCarbons) != nil)
}

func enableCarbons(t *testing.T, c *client) {
	t.Helper()
	if _, err := c.request("<iq type='set' id='cc'><enable xmlns='urn:xmpp:carbons:2'/></iq>"); err != nil {
		t.Fatalf("%s: enable carbons: %v", c.name, err)
	}
}

// XEP-0280: every resource that enabled carbons sees the conversations its
// account's other resources have.
func TestCarbons(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	pc := e.online("alice", "pc", 1)
	phone := e.online("alice", "phone", 0)
	quiet := e.online("alice", "quiet", 0) // never enables carbons
	bob := e.online("bob", "pc", 0)
	enableCarbons(t, pc)
	enableCarbons(t, phone)

	t.Run("received, to a full JID", func(t *testing.T) {
		bob.send("<message to='alice@localhost/pc' type='chat'><body>to pc</body></message>")
		pc.expect("the message", messageBody("to pc"))
		m := phone.expect("a received carbon", carbonOf("received", "alice@localhost", "to pc"))
		if m.To() != phone.jid() {
			t.Errorf("carbon addressed to %s, want %s", m.To(), phone.jid())
		}
		inner := m.Child("received", nsCarbons).Child("forwarded", "urn:xmpp:forward:0").Child("message", stanza.NSClient)
		if inner.From() != bob.jid() || inner.To() != pc.jid() {
			t.Errorf("forwarded message from %s to %s, want from %s to %s", inner.From(), inner.To(), bob.jid(), pc.jid())
		}
		pc.expectNone("a carbon of its own message", anyCarbon)
	})
	t.Run("received, to the bare JID", func(t *testing.T) {
		bob.send("<message to='alice@localhost' type='chat'><body>to alice</body></message>")
		pc.expect("the message (highest priority)", messageBody("to alice"))
		phone.expect("a received carbon", carbonOf("received", "alice@localhost", "to alice"))
	})
	t.Run("sent", func(t *testing.T) {
		pc.send("<message to='bob@localhost' type='chat'><body>from pc</body></message>")
		bob.expect("alice's message", messageBody("from pc"))
		m := phone.expect("a sent carbon", carbonOf("sent", "alice@localhost", "from pc"))
		inner := m.Child("sent", nsCarbons).Child("forwarded", "urn:xmpp:forward:0").Child("message", stanza.NSClient)
		if inner.From() != pc.jid() || inner.To() != "bob@localhost" {
			t.Errorf("forwarded message from %s to %s, want from %s to bob@localhost", inner.From(), inner.To(), pc.jid())
		}
		pc.expectNone("a carbon of what it sent", anyCarbon)
	})
	t.Run("not copied", func(t *testing.T) {
		for _, m := range []string{
			"<message to='alice@localhost/pc' type='chat'><body>private</body><private xmlns='urn:xmpp:carbons:2'/></message>",
			"<message to='alice@localhost/pc' type='chat'><body>no-copy</body><no-copy xmlns='urn:xmpp:hints'/></message>",
			"<message to='alice@localhost/pc' type='headline'><body>headline</body></message>",
			"<message to='alice@localhost/pc'><subject>normal without a body</subject></message>",
		} {
			bob.send("%s", m)
		}
		bob.send("<message to='alice@localhost/pc' type='chat'><body>marker</body></message>")
		pc.expect("the last message", messageBody("marker"))
		phone.expect("the carbon of the last one", carbonOf("received", "alice@localhost", "marker"))
		phone.expectNone("a carbon of an ineligible message", func(el *stanza.Element) bool {
			return anyCarbon(el) && !carbonOf("received", "alice@localhost", "marker")(el)
		})
		quiet.expectNone("a carbon to a resource that never enabled them", anyCarbon)
	})
	t.Run("disabled", func(t *testing.T) {
		if _, err := phone.request("<iq type='set' id='cd'><disable xmlns='urn:xmpp:carbons:2'/></iq>"); err != nil {
			t.Fatal(err)
		}
		bob.send("<message to='alice@localhost/pc' type='chat'><body>after disable</body></message>")
		pc.expect("the message", messageBody("after disable"))
		phone.expectNone("a carbon after disabling", anyCarbon)
	})
	t.Run("bad request", func(t *testing.T) {
		if _, err := pc.request("<iq type='get' id='cg'><enable xmlns='urn:xmpp:carbons:2'/></iq>"); err == nil {
			t.Fatal("enable as an iq get was accepted")
		}
	})
}
