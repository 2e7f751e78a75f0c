package im_test

import (
	"testing"

	"github.com/parley-im/parley/config"
)

// With archive.enabled: false a message is delivered at once, without a
// stanza-id of ours, nothing is archived (live or offline), and MAM is
// not offered.
func TestArchiveOff(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob", "carol"}, func(c *config.Config) { c.Archive.Enabled = false })
	alice := e.online("alice", "pc", 0)
	bob := e.online("bob", "pc", 0)

	alice.send(`<message to='bob@localhost' type='chat' id='m1'><body>hello</body>
		<stanza-id xmlns='urn:xmpp:sid:0' by='bob@localhost' id='forged'/></message>`)
	got := bob.expect("the message", messageBody("hello"))
	if ids := stanzaIDs(got); len(ids) != 0 {
		t.Errorf("delivered stanza-ids = %v, want none", ids)
	}
	alice.send(`<message to='carol@localhost' type='chat'><body>while away</body></message>`)
	alice.sync()
	if n := e.offline("carol"); n != 1 {
		t.Fatalf("carol has %d offline messages, want 1", n)
	}
	carol := e.online("carol", "pc", 0)
	off := carol.expect("the offline message", messageBody("while away"))
	if ids := stanzaIDs(off); len(ids) != 0 {
		t.Errorf("offline message stanza-ids = %v, want none", ids)
	}
	for _, o := range []string{"alice", "bob", "carol"} {
		if arch := e.archiveOf(o); len(arch) != 0 {
			t.Errorf("%s's archive = %+v, want empty", o, arch)
		}
	}

	_, err := alice.request(`<iq type='set' to='alice@localhost'><query xmlns='urn:xmpp:mam:2'/></iq>`)
	if err == nil {
		t.Error("a MAM query was answered with the archive off")
	}
	info, err := alice.request(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if err != nil {
		t.Fatalf("disco#info: %v", err)
	}
	for _, f := range info.Child("query", "http://jabber.org/protocol/disco#info").Elements() {
		if f.Name == "feature" && f.Attr("var") == "urn:xmpp:mam:2" {
			t.Error("the account's disco#info offers urn:xmpp:mam:2 with the archive off")
		}
	}
}
