package c2s_test

import (
	"testing"

	"github.com/parley-im/parley/stanza"
)

// XEP-0352: while a client is inactive, presence and bodiless messages wait
// (only the latest presence of each contact kept); a message with a body,
// or becoming active, releases them first, in order.
func TestCSI(t *testing.T) {
	e := newSMEnv(t)
	alice := e.login("alice", "pc")
	if alice.Features().Child("csi", "urn:xmpp:csi:0") == nil {
		t.Fatalf("no <csi/> in the features: %s", alice.Features())
	}
	bob := e.login("bob", "pc")
	isPresence := func(show string) func(*stanza.Element) bool {
		return func(el *stanza.Element) bool {
			s := el.Child("status", "")
			return el.Name == "presence" && s != nil && s.Text() == show
		}
	}
	send(t, alice, "<inactive xmlns='urn:xmpp:csi:0'/>")
	// A round trip on alice's stream: the server has read <inactive/>.
	if _, err := alice.Request(ctx(t), stanza.New("iq", stanza.NSClient, "type", "get", "to", "localhost").Append(stanza.New("ping", "urn:xmpp:ping"))); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"one", "two", "three"} {
		send(t, bob, "<presence to='alice@localhost/pc'><status>%s</status></presence>", st)
	}
	send(t, bob, "<message to='alice@localhost/pc' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	// Round trip through bob's stream: his stanzas are queued for alice by now.
	if _, err := bob.Request(ctx(t), stanza.New("iq", stanza.NSClient, "type", "get", "to", "localhost").Append(stanza.New("ping", "urn:xmpp:ping"))); err != nil {
		t.Fatal(err)
	}
	send(t, alice, "<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	// The ping's answer is urgent: it releases what was held, before it.
	var got []string
	for {
		el := expect(t, alice, "anything", func(*stanza.Element) bool { return true })
		if el.Name == "iq" {
			break
		}
		switch {
		case el.Name == "presence":
			got = append(got, el.Child("status", "").Text())
		case el.Name == "message":
			got = append(got, "composing")
		}
	}
	if want := []string{"three", "composing"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("released %v before the urgent reply, want %v (the latest presence only, in order)", got, want)
	}

	send(t, bob, "<presence to='alice@localhost/pc'><status>four</status></presence>")
	send(t, bob, "<message to='alice@localhost/pc' type='chat'><body>hello</body></message>")
	expect(t, alice, "the held presence first", isPresence("four"))
	expect(t, alice, "then the message", msgBody("hello"))

	send(t, bob, "<presence to='alice@localhost/pc'><status>five</status></presence>")
	send(t, alice, "<active xmlns='urn:xmpp:csi:0'/>")
	expect(t, alice, "the presence held until active", isPresence("five"))
	send(t, bob, "<presence to='alice@localhost/pc'><status>six</status></presence>")
	expect(t, alice, "presence at once once active", isPresence("six"))
}
