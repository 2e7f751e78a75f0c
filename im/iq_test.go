package im_test

import (
	"testing"

	"github.com/parley-im/parley/stanza"
)

// RFC 6120 §8.2.3, RFC 6121 §8.5.3.1: an iq to a connected full JID is
// delivered whatever the resource's presence, and its answer is routed
// back to the requester.
func TestIQToFullJID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		prio  int // bob's presence; noPresence for none
		typ   string
		reply string // "result" or "error"
	}{
		{"get, available resource, result", 0, "get", "result"},
		{"set, negative priority, result", -1, "set", "result"},
		{"get, no presence sent, error", noPresence, "get", "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.login("alice", "pc")
			bob := e.connect("bob", []resource{{"pc", tt.prio}})["pc"]

			alice.send("<iq type='%s' to='bob@localhost/pc' id='q1'><query xmlns='urn:example:app'><x>1</x></query></iq>", tt.typ)
			got := bob.expect("the iq", func(el *stanza.Element) bool { return el.Name == "iq" && el.ID() == "q1" })
			if got.From() != alice.jid() || got.Type() != tt.typ || got.Child("query", "urn:example:app") == nil {
				t.Errorf("bob got %s, want the iq from %s with its payload", got, alice.jid())
			}
			if tt.reply == "result" {
				bob.send("<iq type='result' to='%s' id='q1'><query xmlns='urn:example:app'><y>2</y></query></iq>", alice.jid())
			} else {
				bob.send("<iq type='error' to='%s' id='q1'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", alice.jid())
			}
			ans := alice.expect("the answer", func(el *stanza.Element) bool { return el.Name == "iq" && el.ID() == "q1" })
			if ans.Type() != tt.reply || ans.From() != bob.jid() || ans.To() != alice.jid() {
				t.Errorf("alice got %s, want type=%s from=%s to=%s", ans, tt.reply, bob.jid(), alice.jid())
			}
			if tt.reply == "result" && ans.Child("query", "urn:example:app") == nil {
				t.Errorf("result lost its payload: %s", ans)
			}
		})
	}
}

// IQs that cannot be served come back as errors (RFC 6120 §8.2.3,
// §8.3.3; RFC 6121 §8.5).
func TestIQErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stanza string
		cond   stanza.Condition
		from   string // expected from of the error; "" for none
	}{
		{"missing resource", "<iq type='get' id='e1' to='bob@localhost/gone'><query xmlns='urn:example:app'/></iq>", stanza.ServiceUnavailable, "bob@localhost/gone"},
		{"missing user, full JID", "<iq type='get' id='e1' to='nobody@localhost/x'><query xmlns='urn:example:app'/></iq>", stanza.ServiceUnavailable, "nobody@localhost/x"},
		{"missing user, bare JID", "<iq type='get' id='e1' to='nobody@localhost'><ping xmlns='urn:xmpp:ping'/></iq>", stanza.ServiceUnavailable, "nobody@localhost"},
		{"other domain", "<iq type='get' id='e1' to='carol@elsewhere.example'><query xmlns='urn:example:app'/></iq>", stanza.RemoteServerNotFound, "carol@elsewhere.example"},
		{"unknown namespace to the server", "<iq type='get' id='e1' to='localhost'><query xmlns='urn:example:app'/></iq>", stanza.ServiceUnavailable, "localhost"},
		{"unknown namespace to own account", "<iq type='get' id='e1'><query xmlns='urn:example:app'/></iq>", stanza.ServiceUnavailable, ""},
		{"unknown namespace to another account", "<iq type='set' id='e1' to='bob@localhost'><query xmlns='urn:example:app'/></iq>", stanza.ServiceUnavailable, "bob@localhost"},
		{"two children", "<iq type='get' id='e1' to='localhost'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>", stanza.BadRequest, "localhost"},
		{"two children to a full JID", "<iq type='set' id='e1' to='bob@localhost/pc'><a xmlns='urn:example:app'/><b xmlns='urn:example:app'/></iq>", stanza.BadRequest, "bob@localhost/pc"},
		{"no child", "<iq type='get' id='e1' to='localhost'/>", stanza.BadRequest, "localhost"},
		{"unknown type", "<iq type='fetch' id='e1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", stanza.BadRequest, "localhost"},
		{"no id", "<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", stanza.BadRequest, "localhost"},
		{"no id to a full JID", "<iq type='get' to='bob@localhost/pc'><query xmlns='urn:example:app'/></iq>", stanza.BadRequest, "bob@localhost/pc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			alice := e.login("alice", "pc")
			bob := e.online("bob", "pc", 0)
			in := parse(t, tt.stanza)
			alice.send("%s", tt.stanza)
			el := alice.expect(string(tt.cond), stanzaError("iq", tt.cond))
			if el.ID() != in.ID() || el.From() != tt.from || el.To() != alice.jid() {
				t.Errorf("error %s: want id=%q from=%q to=%q", el, in.ID(), tt.from, alice.jid())
			}
			if c := condition(el); c.Type() != stanza.ErrorType(el.Child("error", "").Attr("type")) {
				t.Errorf("error type %q for %s, want %q", el.Child("error", "").Attr("type"), c, c.Type())
			}
			bob.expectNone("an iq that was refused", func(el *stanza.Element) bool { return el.Name == "iq" })
		})
	}
}

// Results and errors addressed to the server are consumed silently: there
// is nobody to answer them to.
func TestIQResponsesToServerDropped(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice"})
	alice := e.login("alice", "pc")
	alice.send("<iq type='result' id='r1' to='localhost'/>")
	alice.send("<iq type='error' id='r2' to='localhost'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	alice.send("<iq type='result' id='r3'/>")
	alice.sync()
	alice.expectNone("an answer to a response", func(el *stanza.Element) bool { return el.Name == "iq" })
}
