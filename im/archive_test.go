package im_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

const nsSID = "urn:xmpp:sid:0"

// archiveOf returns owner's whole archive.
func (e *env) archiveOf(local string) []storage.ArchivedMessage {
	e.t.Helper()
	p, err := e.srv.Store().QueryArchive(context.Background(), local+"@"+domain, storage.ArchiveQuery{})
	if err != nil {
		e.t.Fatalf("QueryArchive(%s): %v", local, err)
	}
	return p.Messages
}

// stanzaIDs returns the by -> id of a message's <stanza-id/> elements.
func stanzaIDs(el *stanza.Element) map[string]string {
	ids := map[string]string{}
	for _, c := range el.Elements() {
		if c.Is("stanza-id", nsSID) {
			ids[c.Attr("by")] = c.Attr("id")
		}
	}
	return ids
}

// XEP-0313/0359: a message is archived for sender and recipient under one
// server-assigned id before it is delivered, and the delivered copy says
// which; the sender's carbons carry the sender's.
func TestArchiveOnRoute(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	alice := e.online("alice", "pc", 0)
	phone := e.online("alice", "phone", 0)
	enableCarbons(t, phone)
	bob := e.online("bob", "pc", 0)

	// A stanza-id claiming to be the recipient's is the sender's
	// forgery: removed. Someone else's stays.
	alice.send(`<message to='bob@localhost' type='chat' id='m1'><body>hello</body>
		<stanza-id xmlns='urn:xmpp:sid:0' by='bob@localhost' id='forged'/>
		<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example' id='theirs'/></message>`)
	got := bob.expect("the message", messageBody("hello"))
	ids := stanzaIDs(got)
	if len(ids) != 2 || ids["room@muc.example"] != "theirs" || ids["bob@localhost"] == "" || ids["bob@localhost"] == "forged" {
		t.Fatalf("delivered stanza-ids = %v", ids)
	}
	id := ids["bob@localhost"]
	if _, ok := storage.ArchiveIDTime(id); !ok {
		t.Fatalf("stanza-id %q is not an archive id", id)
	}
	carbon := phone.expect("a sent carbon", carbonOf("sent", "alice@localhost", "hello"))
	inner := carbon.Child("sent", nsCarbons).Child("forwarded", "urn:xmpp:forward:0").Child("message", stanza.NSClient)
	if sids := stanzaIDs(inner); sids["alice@localhost"] != id {
		t.Errorf("sent carbon's stanza-ids = %v, want alice's %s", sids, id)
	}

	for _, o := range []string{"alice", "bob"} {
		arch := e.archiveOf(o)
		if len(arch) != 1 || arch[0].ID != id {
			t.Fatalf("%s's archive = %+v, want the one message %s", o, arch, id)
		}
		m, err := stanza.ParseBytes(arch[0].Stanza)
		if err != nil {
			t.Fatal(err)
		}
		if bodyOf(m) != "hello" || m.From() != alice.jid() || len(stanzaIDs(m)) != 1 {
			t.Errorf("%s's archived message = %s", o, arch[0].Stanza)
		}
	}
	if w := e.archiveOf("bob")[0].With; w != alice.jid() {
		t.Errorf("bob's archive: with = %s, want %s", w, alice.jid())
	}

	// Chat states alone are not archived and get no stanza-id.
	alice.send(`<message to='bob@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`)
	cs := bob.expect("the chat state", func(el *stanza.Element) bool { return el.Name == "message" && bodyOf(el) == "" })
	if len(stanzaIDs(cs)) != 0 {
		t.Errorf("chat state got stanza-ids %v", stanzaIDs(cs))
	}
	if n := len(e.archiveOf("bob")); n != 1 {
		t.Errorf("bob's archive has %d messages after a chat state, want 1", n)
	}
}

// Messages stored offline carry the stanza-id of the archive too, so a
// client catching up from both can tell them apart.
func TestArchiveOffline(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	alice := e.online("alice", "pc", 0)
	alice.send("<message to='bob@localhost' type='chat'><body>while away</body></message>")
	alice.sync()
	arch := e.archiveOf("bob")
	if len(arch) != 1 {
		t.Fatalf("bob's archive = %+v", arch)
	}
	bob := e.online("bob", "pc", 0)
	got := bob.expect("the offline message", messageBody("while away"))
	if id := stanzaIDs(got)["bob@localhost"]; id != arch[0].ID {
		t.Errorf("offline message stanza-id %q, want %q", id, arch[0].ID)
	}
}

// XEP-0313 §6.1 preferences decide whose archive a message goes to.
func TestArchivePrefs(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob", "carol"})
	core := e.srv.Core()
	ctx := context.Background()
	alice := e.online("alice", "pc", 0)
	bob := e.online("bob", "pc", 0)
	carol := e.online("carol", "pc", 0)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// bob archives nothing but alice; carol archives only her roster,
	// which is empty.
	must(core.SetArchivePrefs(ctx, jid.MustParse("bob@localhost"), storage.ArchivePrefs{Default: storage.ArchiveNever, Always: []string{"alice@localhost"}}))
	must(core.SetArchivePrefs(ctx, jid.MustParse("carol@localhost"), storage.ArchivePrefs{Default: storage.ArchiveRoster}))

	carol.send("<message to='bob@localhost' type='chat'><body>from carol</body></message>")
	got := bob.expect("carol's message", messageBody("from carol"))
	if ids := stanzaIDs(got); len(ids) != 0 {
		t.Errorf("a message bob does not archive got stanza-ids %v", ids)
	}
	alice.send("<message to='bob@localhost' type='chat'><body>from alice</body></message>")
	got = bob.expect("alice's message", messageBody("from alice"))
	if stanzaIDs(got)["bob@localhost"] == "" {
		t.Errorf("a message bob archives got no stanza-id")
	}
	alice.send("<message to='carol@localhost' type='chat'><body>to carol</body></message>")
	carol.expect("alice's message", messageBody("to carol"))
	if n := len(e.archiveOf("bob")); n != 1 {
		t.Errorf("bob's archive has %d messages, want 1 (alice's)", n)
	}
	if n := len(e.archiveOf("carol")); n != 0 {
		t.Errorf("carol's archive has %d messages, want none (nobody in her roster)", n)
	}
	if n := len(e.archiveOf("alice")); n != 2 {
		t.Errorf("alice's archive has %d messages, want 2", n)
	}
	// Once alice is in carol's roster, carol archives her messages.
	if _, err := carol.request("<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='alice@localhost'/></query></iq>"); err != nil {
		t.Fatal(err)
	}
	alice.send("<message to='carol@localhost' type='chat'><body>in roster</body></message>")
	carol.expect("alice's message", messageBody("in roster"))
	if n := len(e.archiveOf("carol")); n != 1 {
		t.Errorf("carol's archive has %d messages, want 1", n)
	}
}

// A message refused because the recipient blocks the sender is not in the
// recipient's archive.
func TestArchiveBlocked(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	alice := e.online("alice", "pc", 0)
	bob := e.online("bob", "pc", 0)
	if _, err := bob.request("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='alice@localhost'/></block></iq>"); err != nil {
		t.Fatal(err)
	}
	alice.send("<message to='bob@localhost' type='chat' id='x'><body>blocked</body></message>")
	alice.expect("the error", func(el *stanza.Element) bool { return el.Name == "message" && el.Type() == "error" })
	if n := len(e.archiveOf("bob")); n != 0 {
		t.Errorf("bob's archive has %d messages from a blocked sender", n)
	}
}

// Read-your-writes: once the server has acknowledged a message (XEP-0198
// <a/>), it is in both archives, with its origin-id (XEP-0359) kept.
func TestArchiveReadYourWrites(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	alice := e.online("alice", "pc", 0)
	e.online("bob", "pc", 0)
	alice.send("<enable xmlns='urn:xmpp:sm:3'/>")
	alice.expect("<enabled/>", func(el *stanza.Element) bool { return el.Is("enabled", "urn:xmpp:sm:3") })
	for i := range 20 {
		alice.send("<message to='bob@localhost' type='chat'><body>m%d</body><origin-id xmlns='urn:xmpp:sid:0' id='o%d'/></message>", i, i)
		alice.send("<r xmlns='urn:xmpp:sm:3'/>")
		a := alice.expect("the server's <a/>", func(el *stanza.Element) bool { return el.Is("a", "urn:xmpp:sm:3") })
		if a.Attr("h") != fmt.Sprint(i+1) {
			t.Fatalf("<a h=%s/>, want %d", a.Attr("h"), i+1)
		}
		// Acknowledged: both archives have it, now.
		for _, o := range []string{"alice", "bob"} {
			arch := e.archiveOf(o)
			if len(arch) != i+1 {
				t.Fatalf("after the ack of m%d, %s's archive holds %d messages", i, o, len(arch))
			}
			m, err := stanza.ParseBytes(arch[i].Stanza)
			if err != nil {
				t.Fatal(err)
			}
			if oid := m.Child("origin-id", nsSID); bodyOf(m) != fmt.Sprintf("m%d", i) || oid == nil || oid.Attr("id") != fmt.Sprintf("o%d", i) {
				t.Fatalf("%s's archive has %s, want m%d with origin-id o%d", o, arch[i].Stanza, i, i)
			}
		}
	}
}
