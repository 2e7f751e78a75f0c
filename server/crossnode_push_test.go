package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// TestCrossNodePushes checks, with one user's resources on two nodes, that
// what the server tells a user's resources because of their session state
// (they fetched the roster or the block list, they enabled carbons) reaches
// the resources on the other node, and that what a resource stores on one
// node is read back on the other at once.
func TestCrossNodePushes(t *testing.T) {
	t.Parallel()
	e := newCrossEnv(t, 2)
	tests := []struct {
		name string
		run  func(t *testing.T, e *crossEnv)
	}{
		{"block list push", crossBlockPush},
		{"roster push", crossRosterPushMarked},
		{"carbons", crossCarbons},
		{"private XML and vCard", crossStored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, e.with(t))
		})
	}
}

// before reads up to the element marker accepts and returns the first
// one before it that bad accepts (nil if none did). The marker is sent
// behind what is checked, along the same path, so nothing that was going
// to arrive can still be on its way. What came before the marker is
// consumed: a later check sees only what arrives after.
func (c *crossClient) before(what string, marker, bad func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	var found *stanza.Element
	for {
		el := c.expect(what, func(*stanza.Element) bool { return true })
		if marker(el) {
			return found
		}
		if found == nil && bad(el) {
			found = el
		}
	}
}

// marker sends, from c to the full JID of to, a message that takes the
// path of anything c's node sends to to's session, and returns a matcher
// for it.
func (c *crossClient) marker(to *crossClient, id string) func(*stanza.Element) bool {
	c.t.Helper()
	c.send("<message to='%s' type='chat' id='%s'><body>marker</body></message>", to.jid(), id)
	return messageID(id)
}

// blockPush matches a XEP-0191 push of the kind (block, unblock) naming
// the JID.
func blockPush(kind, j string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		if el.Name != "iq" || el.Type() != "set" {
			return false
		}
		it := dig(el, kind+" urn:xmpp:blocking", "item urn:xmpp:blocking")
		return it != nil && it.Attr("jid") == j
	}
}

// dig follows a path of children, each "name namespace", and returns the
// last, or nil where one is missing.
func dig(el *stanza.Element, path ...string) *stanza.Element {
	for _, step := range path {
		if el == nil {
			return nil
		}
		name, ns, _ := strings.Cut(step, " ")
		el = el.Child(name, ns)
	}
	return el
}

// anyPush matches any iq set of the namespace.
func anyPush(ns string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		p := el.FirstElement()
		return el.Name == "iq" && el.Type() == "set" && p != nil && p.Space == ns
	}
}

// XEP-0191 §3.3, §3.4: a block or unblock made on node1 is pushed to the
// user's resources that fetched the block list, the one on node2
// included, and not to a resource on node2 that never fetched it.
func crossBlockPush(t *testing.T, e *crossEnv) {
	u := e.accounts("alice", "mallory")
	mallory := u[1] + "@" + crossDomain
	one := e.login(0, u[0], "one")
	fetched := e.login(1, u[0], "fetched")
	quiet := e.login(1, u[0], "quiet") // never fetches the list
	for _, c := range []*crossClient{one, fetched} {
		if r := c.request("<iq type='get'><blocklist xmlns='urn:xmpp:blocking'/></iq>"); r.Type() != "result" {
			t.Fatalf("%s: block list get: %s", c.name, r)
		}
		e.waitSeen(c, "interested in the block list", func(s *router.Session) bool { return s.Interests().Has(router.BlockListInterest) })
	}

	for i, kind := range []string{"block", "unblock"} {
		r := one.request("<iq type='set'><%s xmlns='urn:xmpp:blocking'><item jid='%s'/></%s></iq>", kind, mallory, kind)
		if r.Type() != "result" {
			t.Fatalf("%s: %s", kind, r)
		}
		for _, c := range []*crossClient{one, fetched} {
			p := c.expect("the "+kind+" push", blockPush(kind, mallory))
			if p.To() != c.jid() || p.ID() == "" || (p.From() != "" && p.From() != c.bare()) {
				t.Errorf("%s: push %s, want one to %s with an id, from the account if at all", c.name, p, c.jid())
			}
		}
		if p := quiet.before("the marker behind the "+kind+" push", one.marker(quiet, fmt.Sprintf("m%d", i)), anyPush("urn:xmpp:blocking")); p != nil {
			t.Errorf("%s, which never fetched the list, got %s", quiet.name, p)
		}
		if p := fetched.before("the marker behind the "+kind+" push", one.marker(fetched, fmt.Sprintf("f%d", i)), anyPush("urn:xmpp:blocking")); p != nil {
			t.Errorf("%s got a second push: %s", fetched.name, p)
		}
	}
}

// RFC 6121 §2.1.6: a roster set on node1 is pushed to the interested
// resource on node2, and not to the one there that never fetched the
// roster.
func crossRosterPushMarked(t *testing.T, e *crossEnv) {
	u := e.accounts("alice", "carol")
	carol := u[1] + "@" + crossDomain
	one := e.login(0, u[0], "one")
	two := e.login(1, u[0], "two")
	quiet := e.login(1, u[0], "quiet") // never fetches the roster
	two.roster()
	e.waitSeen(two, "interested in the roster", func(s *router.Session) bool { return s.Interests().Has(router.RosterInterest) })

	if r := one.request("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='%s' name='Carol'/></query></iq>", carol); r.Type() != "result" {
		t.Fatalf("roster set: %s", r)
	}
	p := two.expect("the roster push for carol", rosterPush(carol, "none"))
	if it := dig(p, "query "+stanza.NSRoster, "item "+stanza.NSRoster); it.Attr("name") != "Carol" || p.To() != two.jid() || p.ID() == "" {
		t.Errorf("%s: push %s, want carol named Carol, to %s, with an id", two.name, p, two.jid())
	}
	if p := quiet.before("the marker behind the roster push", one.marker(quiet, "m"), anyPush(stanza.NSRoster)); p != nil {
		t.Errorf("%s, which never fetched the roster, got %s", quiet.name, p)
	}
	// one never fetched the roster either: the set does not make it
	// interested (§2.1.6), so it gets no push.
	if p := one.before("the marker behind the roster push", one.marker(one, "self"), anyPush(stanza.NSRoster)); p != nil {
		t.Errorf("%s, which never fetched the roster, got %s", one.name, p)
	}
}

// XEP-0280 §7: a message received by, and one sent by, alice's resource on
// node1 is copied to her carbons-enabled resource on node2, and not to her
// resource there that did not enable carbons.
func crossCarbons(t *testing.T, e *crossEnv) {
	u := e.accounts("alice", "bob")
	pc := e.online(0, u[0], "pc", 1)
	phone := e.online(1, u[0], "phone", 0)
	plain := e.online(1, u[0], "plain", 0) // no carbons
	bob := e.online(0, u[1], "pc", 0)
	if r := phone.request("<iq type='set'><enable xmlns='urn:xmpp:carbons:2'/></iq>"); r.Type() != "result" {
		t.Fatalf("%s: enable carbons: %s", phone.name, r)
	}
	e.waitSeen(phone, "with carbons enabled", (*router.Session).Carbons)

	forwarded := func(el *stanza.Element, kind string) *stanza.Element {
		return dig(el, kind+" urn:xmpp:carbons:2", "forwarded urn:xmpp:forward:0", "message "+stanza.NSClient)
	}
	isCarbon := func(kind, id string) func(*stanza.Element) bool {
		return func(el *stanza.Element) bool {
			inner := forwarded(el, kind)
			return el.Name == "message" && inner != nil && inner.ID() == id
		}
	}
	anyCarbon := func(el *stanza.Element) bool {
		return el.Name == "message" && (el.Child("received", "urn:xmpp:carbons:2") != nil || el.Child("sent", "urn:xmpp:carbons:2") != nil)
	}

	bob.send("<message to='%s' type='chat' id='r1'><body>to pc</body></message>", pc.jid())
	pc.expect("bob's message", messageID("r1"))
	c := phone.expect("a received carbon on node2", isCarbon("received", "r1"))
	if c.From() != pc.bare() || c.To() != phone.jid() {
		t.Errorf("received carbon from %q to %q, want from %s to %s", c.From(), c.To(), pc.bare(), phone.jid())
	}
	if inner := forwarded(c, "received"); inner.From() != bob.jid() || inner.To() != pc.jid() {
		t.Errorf("received carbon wraps %s, want bob's message to %s", inner, pc.jid())
	}

	pc.send("<message to='%s' type='chat' id='s1'><body>from pc</body></message>", bob.jid())
	bob.expect("the message from pc", messageID("s1"))
	c = phone.expect("a sent carbon on node2", isCarbon("sent", "s1"))
	if inner := forwarded(c, "sent"); inner.From() != pc.jid() || inner.To() != bob.jid() {
		t.Errorf("sent carbon wraps %s, want pc's message to bob", inner)
	}

	if el := plain.before("the marker behind the carbons", pc.marker(plain, "m"), anyCarbon); el != nil {
		t.Errorf("%s, which did not enable carbons, got %s", plain.name, el)
	}
}

// XEP-0049 and XEP-0054: what a resource on node1 stores is what a
// resource on node2 reads as soon as the store was answered.
func crossStored(t *testing.T, e *crossEnv) {
	u := e.accounts("alice", "bob")
	one := e.login(0, u[0], "one")
	two := e.login(1, u[0], "two")
	bob := e.login(1, u[1], "pc")

	const bookmarks = "<storage xmlns='storage:bookmarks'><conference jid='room@conference.example' autojoin='true'/></storage>"
	if r := one.request("<iq type='set'><query xmlns='jabber:iq:private'>%s</query></iq>", bookmarks); r.Type() != "result" {
		t.Fatalf("private set: %s", r)
	}
	r := two.request("<iq type='get'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
	if conf := dig(r, "query jabber:iq:private", "storage storage:bookmarks", "conference storage:bookmarks"); r.Type() != "result" || conf == nil || conf.Attr("jid") != "room@conference.example" {
		t.Errorf("%s: private get answered %s, want the bookmarks stored on node1", two.name, r)
	}

	if r := one.request("<iq type='set'><vCard xmlns='vcard-temp'><FN>Alice on node1</FN></vCard></iq>"); r.Type() != "result" {
		t.Fatalf("vCard set: %s", r)
	}
	for _, c := range []struct {
		who *crossClient
		to  string
	}{{two, ""}, {bob, one.bare()}} {
		var r *stanza.Element
		if c.to == "" {
			r = c.who.request("<iq type='get'><vCard xmlns='vcard-temp'/></iq>")
		} else {
			r = c.who.request("<iq type='get' to='%s'><vCard xmlns='vcard-temp'/></iq>", c.to)
		}
		if fn := dig(r, "vCard vcard-temp", "FN vcard-temp"); r.Type() != "result" || fn == nil || fn.Text() != "Alice on node1" {
			t.Errorf("%s: vCard get answered %s, want FN 'Alice on node1'", c.who.name, r)
		}
	}
}
