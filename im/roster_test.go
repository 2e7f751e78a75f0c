package im_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-im/parley/stanza"
)

// version reads the ver attribute of a roster result or push.
func version(t *testing.T, el *stanza.Element) int64 {
	t.Helper()
	q := el.Child("query", stanza.NSRoster)
	if q == nil || !q.HasAttr("ver") {
		t.Fatalf("no roster version in %s", el)
	}
	v, err := strconv.ParseInt(q.Attr("ver"), 10, 64)
	if err != nil {
		t.Fatalf("roster version %q is not the number Parley uses: %v", q.Attr("ver"), err)
	}
	return v
}

func groupsOf(it *stanza.Element) []string {
	var out []string
	for _, g := range it.Elements() {
		if g.Is("group", stanza.NSRoster) {
			out = append(out, g.Text())
		}
	}
	slices.Sort(out)
	return out
}

// RFC 6121 §2.2 and XEP-0237 §3: roster get, with and without a version.
func TestRosterGet(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice"})
	alice := e.login("alice", "pc")

	reply := alice.roster()
	q := reply.Child("query", stanza.NSRoster)
	if q == nil {
		t.Fatalf("empty roster: result %s has no query", reply)
	}
	if n := len(q.Elements()); n != 0 {
		t.Errorf("empty roster has %d items", n)
	}
	if reply.To() != alice.jid() || reply.Type() != "result" {
		t.Errorf("roster result to=%q type=%q, want to=%q type=result", reply.To(), reply.Type(), alice.jid())
	}
	empty := version(t, reply)

	if _, err := alice.request("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'/></query></iq>"); err != nil {
		t.Fatalf("roster set: %v", err)
	}
	current := version(t, alice.roster())
	if current <= empty {
		t.Fatalf("version after a set = %d, not above %d", current, empty)
	}

	tests := []struct {
		name      string
		ver       string // "-" for no ver attribute
		wantItems int    // -1: empty result, no query
	}{
		{"no ver attribute", "-", 1},
		{"empty ver: send everything", "", 1},
		{"current ver: nothing changed", strconv.FormatInt(current, 10), -1},
		{"older ver", strconv.FormatInt(empty, 10), 1},
		{"unknown ver", "garbage", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attr := ""
			if tt.ver != "-" {
				attr = " ver='" + tt.ver + "'"
			}
			reply, err := alice.request("<iq type='get'><query xmlns='jabber:iq:roster'%s/></iq>", attr)
			if err != nil {
				t.Fatalf("roster get: %v", err)
			}
			q := reply.Child("query", stanza.NSRoster)
			if tt.wantItems < 0 {
				if q != nil || len(reply.Elements()) != 0 {
					t.Errorf("got %s, want an empty result", reply)
				}
				return
			}
			if q == nil {
				t.Fatalf("got %s, want the roster", reply)
			}
			if n := len(q.Elements()); n != tt.wantItems {
				t.Errorf("%d items, want %d", n, tt.wantItems)
			}
			if v := version(t, reply); v != current {
				t.Errorf("ver = %d, want %d", v, current)
			}
		})
	}
}

// RFC 6121 §2.3, §2.1.6: a roster set is answered with a result and pushed
// to every interested resource (one that fetched the roster), including
// the sender, and to no other; each change raises the version.
func TestRosterSetPushes(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice"})
	setter := e.online("alice", "setter", 0)
	other := e.online("alice", "other", 0)
	quiet := e.online("alice", "quiet", 0) // never fetches the roster
	last := version(t, setter.roster())
	other.roster()

	tests := []struct {
		name     string
		item     string
		wantName string
		groups   []string
	}{
		{"add with name and groups", "<item jid='bob@localhost' name='Bob'><group>Friends</group><group>Work</group></item>", "Bob", []string{"Friends", "Work"}},
		{"rename, drop a group", "<item jid='bob@localhost' name='Robert'><group>Work</group></item>", "Robert", []string{"Work"}},
		{"no name, no groups", "<item jid='bob@localhost'/>", "", nil},
		{"subscription other than remove is ignored", "<item jid='bob@localhost' subscription='both' ask='subscribe' name='B'/>", "B", nil},
		{"another contact", "<item jid='carol@localhost' name='Carol'><group>Friends</group></item>", "Carol", []string{"Friends"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, err := setter.request("<iq type='set'><query xmlns='jabber:iq:roster'>%s</query></iq>", tt.item)
			if err != nil {
				t.Fatalf("roster set: %v", err)
			}
			if reply.Type() != "result" || len(reply.Elements()) != 0 {
				t.Errorf("reply %s, want an empty result", reply)
			}
			contact := parse(t, tt.item).Attr("jid")
			var ver int64
			for _, c := range []*client{setter, other} {
				p := c.expect("roster push", push(contact))
				it := pushItem(p)
				if p.To() != c.jid() {
					t.Errorf("%s: push to %q", c.name, p.To())
				}
				if f := p.From(); f != "" && f != c.bare() {
					t.Errorf("%s: push from %q, want none or the bare JID (§2.1.6)", c.name, f)
				}
				if it.Attr("name") != tt.wantName || it.Attr("subscription") != "none" || it.HasAttr("ask") {
					t.Errorf("%s: pushed item %s, want name=%q subscription=none and no ask", c.name, it, tt.wantName)
				}
				if g := groupsOf(it); !slices.Equal(g, tt.groups) {
					t.Errorf("%s: pushed groups %q, want %q", c.name, g, tt.groups)
				}
				ver = version(t, p)
				// Clients are supposed to acknowledge pushes.
				c.send("<iq type='result' id='%s'/>", p.ID())
			}
			if ver <= last {
				t.Errorf("push version %d, not above %d", ver, last)
			}
			last = ver
			if got := version(t, setter.roster()); got != ver {
				t.Errorf("roster get version %d, want the push's %d", got, ver)
			}
			it := setter.item(contact)
			if it == nil || it.Attr("name") != tt.wantName || !slices.Equal(groupsOf(it), tt.groups) {
				t.Errorf("roster now holds %v, want name=%q groups=%q", it, tt.wantName, tt.groups)
			}
		})
	}
	quiet.expectNone("roster push to a resource that never fetched the roster", anyPush)
}

// RFC 6121 §2.5: removing an item pushes subscription='remove'; removing
// what is not there is item-not-found.
func TestRosterRemove(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice"})
	a := e.online("alice", "a", 0)
	b := e.online("alice", "b", 0)
	b.roster()
	if _, err := a.request("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'/></query></iq>"); err != nil {
		t.Fatalf("roster set: %v", err)
	}
	b.expect("push of the addition", push("bob@localhost"))
	before := version(t, a.roster())

	if _, err := a.request("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>"); err != nil {
		t.Fatalf("roster remove: %v", err)
	}
	for _, c := range []*client{a, b} {
		p := c.expect("push of the removal", func(el *stanza.Element) bool {
			return push("bob@localhost")(el) && pushItem(el).Attr("subscription") == "remove"
		})
		if v := version(t, p); v <= before {
			t.Errorf("%s: removal pushed with version %d, not above %d", c.name, v, before)
		}
	}
	if it := a.item("bob@localhost"); it != nil {
		t.Errorf("removed item still in the roster: %s", it)
	}

	tests := []struct {
		name string
		jid  string
	}{
		{"removed already", "bob@localhost"},
		{"never there", "nobody@localhost"},
		{"other domain", "carol@elsewhere.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.request("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='%s' subscription='remove'/></query></iq>", tt.jid)
			if se, ok := err.(*stanza.Error); !ok || se.Condition != stanza.ItemNotFound {
				t.Errorf("err = %v, want item-not-found", err)
			}
		})
	}
	a.expectNone("push after a failed removal", anyPush)
}

// RFC 6121 §2.3.3: bad roster sets are refused and change nothing.
func TestRosterSetErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 2000)
	tests := []struct {
		name  string
		query string
		cond  stanza.Condition
	}{
		{"two items", "<item jid='bob@localhost'/><item jid='carol@localhost'/>", stanza.BadRequest},
		{"no item", "", stanza.BadRequest},
		{"empty group name", "<item jid='bob@localhost'><group/></item>", stanza.NotAcceptable},
		{"duplicate group", "<item jid='bob@localhost'><group>A</group><group>A</group></item>", stanza.BadRequest},
		{"full JID", "<item jid='bob@localhost/res'/>", stanza.BadRequest},
		{"invalid JID", "<item jid='@@@'/>", stanza.BadRequest},
		{"no JID", "<item name='x'/>", stanza.BadRequest},
		{"name too long", "<item jid='bob@localhost' name='" + long + "'/>", stanza.NotAcceptable},
		{"group too long", "<item jid='bob@localhost'><group>" + long + "</group></item>", stanza.NotAcceptable},
	}
	e := start(t, []string{"alice"})
	alice := e.online("alice", "pc", 0)
	ver := version(t, alice.roster())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, err := alice.request("<iq type='set'><query xmlns='jabber:iq:roster'>%s</query></iq>", tt.query)
			se, ok := err.(*stanza.Error)
			if !ok || se.Condition != tt.cond {
				t.Fatalf("reply %v (err %v), want %s", reply, err, tt.cond)
			}
			if se.Type != tt.cond.Type() {
				t.Errorf("error type %q, want %q", se.Type, tt.cond.Type())
			}
		})
	}
	alice.expectNone("push after a refused set", anyPush)
	if v := version(t, alice.roster()); v != ver {
		t.Errorf("version moved from %d to %d after refused sets", ver, v)
	}
}
