package c2s

import (
	"strings"
	"testing"
)

// RFC 7395 framing, server to client: each top-level element its own
// message with its namespace declared; the header and closing tag become
// <open/> and <close/>; partial elements wait for the rest.
func TestWebSocketFromStream(t *testing.T) {
	in := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en' id='abc' from='localhost'>` +
		`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>` +
		`<message to='a@localhost' title='x > y &apos;q&apos;'><body>a &lt; b &gt; c</body><x xmlns='urn:test'><y/></x></message>` +
		`<a xmlns='urn:xmpp:sm:3' h='1'/>` +
		`<presence/>` +
		`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`
	want := []string{
		`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' xml:lang='en' id='abc' from='localhost'/>`,
		`<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>`,
		`<message xmlns='jabber:client' to='a@localhost' title='x > y &apos;q&apos;'><body>a &lt; b &gt; c</body><x xmlns='urn:test'><y/></x></message>`,
		`<a xmlns='urn:xmpp:sm:3' h='1'/>`,
		`<presence xmlns='jabber:client'/>`,
		`<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
		`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`,
	}
	// Whole, and cut at every byte: the same messages come out.
	for cut := 0; cut <= len(in); cut++ {
		msgs, rest := WebSocketFromStream([]byte(in[:cut]))
		more, rest := WebSocketFromStream(append(rest, in[cut:]...))
		msgs = append(msgs, more...)
		if len(rest) != 0 {
			t.Fatalf("cut at %d: %q left over", cut, rest)
		}
		if len(msgs) != len(want) {
			t.Fatalf("cut at %d: %d messages, want %d:\n%s", cut, len(msgs), len(want), joinMsgs(msgs))
		}
		for i := range want {
			if string(msgs[i]) != want[i] {
				t.Fatalf("cut at %d: message %d\n got %s\nwant %s", cut, i, msgs[i], want[i])
			}
		}
	}
}

func joinMsgs(m [][]byte) string {
	var s []string
	for _, b := range m {
		s = append(s, string(b))
	}
	return strings.Join(s, "\n")
}

// Client to server: <open/> becomes a stream header, <close/> the closing
// tag; stanzas pass as they are.
func TestStreamFromWebSocket(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0" xml:lang="en"/>`,
			`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='en'>`},
		{`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`, `</stream:stream>`},
		{`<message xmlns="jabber:client" to="b@localhost"><body>hi</body></message>`, `<message xmlns="jabber:client" to="b@localhost"><body>hi</body></message>`},
		{`<open xmlns="urn:other"/>`, `<open xmlns="urn:other"/>`},
	} {
		if got := string(StreamFromWebSocket([]byte(tc.in))); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
