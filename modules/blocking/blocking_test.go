package blocking_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/modules/blocking"
	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/stanza"
)

func newEnv(t *testing.T, maxItems int) (*modtest.Env, *blocking.Blocking) {
	env := modtest.New(t)
	b := blocking.New(env.Server, nil, maxItems)
	b.Register(env.Server)
	return env, b
}

func blockEl(name string, jids ...string) *stanza.Element {
	el := stanza.New(name, blocking.NS)
	for _, j := range jids {
		el.Append(stanza.New("item", blocking.NS, "jid", j))
	}
	return el
}

// list returns the block list as the user's client sees it.
func list(t *testing.T, c *modtest.Client) []string {
	t.Helper()
	reply := c.IQ("get", "", stanza.New("blocklist", blocking.NS))
	bl := reply.Child("blocklist", blocking.NS)
	if bl == nil {
		t.Fatalf("blocklist reply %s", reply)
	}
	var out []string
	for _, it := range bl.Elements() {
		out = append(out, it.Attr("jid"))
	}
	return out
}

// pushes returns the blocking pushes among stanzas, as "name:jid,jid".
func pushes(t *testing.T, got []*stanza.Element) []string {
	t.Helper()
	var out []string
	for _, el := range got {
		p := el.FirstElement()
		if el.Name != "iq" || el.Type() != "set" || p == nil || p.Space != blocking.NS {
			continue
		}
		if el.ID() == "" || el.To() == "" {
			t.Errorf("push without id or to: %s", el)
		}
		var jids []string
		for _, it := range p.Elements() {
			jids = append(jids, it.Attr("jid"))
		}
		out = append(out, p.Name+":"+strings.Join(jids, ","))
	}
	return out
}

// presences returns the presence stanzas among got, as "from type".
func presences(got []*stanza.Element) []string {
	var out []string
	for _, el := range got {
		if el.Name == "presence" {
			out = append(out, strings.TrimSpace(el.From()+" "+el.Type()))
		}
	}
	slices.Sort(out)
	return out
}

func TestErrors(t *testing.T) {
	env, _ := newEnv(t, 3)
	env.Account("juliet")
	c := env.Bind("juliet@example.com/balcony")
	if r := c.IQ("set", "", blockEl("block", "a@example.com", "b@example.com")); r.Type() != "result" {
		t.Fatalf("block: %s", r)
	}
	tests := []struct {
		name    string
		typ, to string
		payload *stanza.Element
		cond    stanza.Condition
	}{
		{name: "block without items", typ: "set", payload: blockEl("block"), cond: stanza.BadRequest},
		{name: "item without jid", typ: "set", payload: stanza.New("block", blocking.NS).Append(stanza.New("item", blocking.NS)), cond: stanza.BadRequest},
		{name: "malformed jid", typ: "set", payload: blockEl("block", "romeo@"), cond: stanza.JIDMalformed},
		{name: "malformed jid in unblock", typ: "set", payload: blockEl("unblock", "a@b/"), cond: stanza.JIDMalformed},
		{name: "unknown child", typ: "set", payload: stanza.New("block", blocking.NS).Append(stanza.New("entry", blocking.NS, "jid", "a@example.com")), cond: stanza.BadRequest},
		{name: "own account", typ: "set", payload: blockEl("block", "juliet@example.com"), cond: stanza.NotAcceptable},
		{name: "own resource", typ: "set", payload: blockEl("block", "juliet@example.com/chamber"), cond: stanza.NotAcceptable},
		{name: "list too long", typ: "set", payload: blockEl("block", "c@example.com", "d@example.com"), cond: stanza.NotAcceptable},
		{name: "get with block", typ: "get", payload: blockEl("block", "c@example.com"), cond: stanza.BadRequest},
		{name: "set with blocklist", typ: "set", payload: blockEl("blocklist"), cond: stanza.BadRequest},
		{name: "someone else's list", typ: "get", to: "romeo@example.com", payload: blockEl("blocklist"), cond: stanza.ServiceUnavailable},
		{name: "the server's list", typ: "get", to: "example.com", payload: blockEl("blocklist"), cond: stanza.ServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := c.IQ(tt.typ, tt.to, tt.payload)
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q, want %q: %s", got, tt.cond, reply)
			}
		})
	}
	if got, want := list(t, c), []string{"a@example.com", "b@example.com"}; !slices.Equal(got, want) {
		t.Errorf("list after errors = %v, want %v", got, want)
	}
	// Re-blocking an entry does not count twice against the limit.
	if r := c.IQ("set", "", blockEl("block", "a@example.com", "c@example.com")); r.Type() != "result" {
		t.Errorf("block at the limit: %s", r)
	}
}

func TestListAndPushes(t *testing.T) {
	env, _ := newEnv(t, 0)
	env.Account("juliet")
	balcony := env.Bind("juliet@example.com/balcony")
	chamber := env.Bind("juliet@example.com/chamber") // never fetches the list

	if got := list(t, balcony); len(got) != 0 {
		t.Fatalf("initial list = %v", got)
	}
	steps := []struct {
		name    string
		payload *stanza.Element
		push    []string
		list    []string
	}{
		{name: "block", payload: blockEl("block", "Romeo@Example.com", "montague.example"), push: []string{"block:romeo@example.com,montague.example"}, list: []string{"montague.example", "romeo@example.com"}},
		{name: "block full JID", payload: blockEl("block", "iago@example.com/x"), push: []string{"block:iago@example.com/x"}, list: []string{"iago@example.com/x", "montague.example", "romeo@example.com"}},
		{name: "unblock one", payload: blockEl("unblock", "montague.example"), push: []string{"unblock:montague.example"}, list: []string{"iago@example.com/x", "romeo@example.com"}},
		{name: "unblock unknown", payload: blockEl("unblock", "nobody@example.com"), push: []string{"unblock:nobody@example.com"}, list: []string{"iago@example.com/x", "romeo@example.com"}},
		{name: "unblock all", payload: blockEl("unblock"), push: []string{"unblock:"}, list: nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			reply := chamber.IQ("set", "", st.payload)
			if reply.Type() != "result" {
				t.Fatalf("reply %s", reply)
			}
			if got := pushes(t, balcony.Take()); !slices.Equal(got, st.push) {
				t.Errorf("balcony pushes = %v, want %v", got, st.push)
			}
			if got := pushes(t, chamber.Take()); len(got) != 0 {
				t.Errorf("chamber, which never fetched the list, got %v", got)
			}
			if got := list(t, balcony); !slices.Equal(got, st.list) {
				t.Errorf("list = %v, want %v", got, st.list)
			}
		})
	}
}

func TestPushesForgetEndedSessions(t *testing.T) {
	env, _ := newEnv(t, 0)
	env.Account("juliet")
	old := env.Bind("juliet@example.com/balcony")
	list(t, old)
	gone := env.Bind("juliet@example.com/chamber")
	list(t, gone)
	env.Router.Unbind(gone.Session)
	env.Server.SessionEnded(env.Ctx, gone.Session) // as c2s ends it
	env.Router.Unbind(old.Session)                 // without the core's SessionEnded
	// The same full JID bound again is a new session that has not asked.
	again := env.Bind("juliet@example.com/balcony")
	other := env.Bind("juliet@example.com/hall")
	other.IQ("set", "", blockEl("block", "romeo@example.com"))
	for name, c := range map[string]*modtest.Client{"old": old, "gone": gone, "again": again, "other": other} {
		if got := pushes(t, c.Take()); len(got) != 0 {
			t.Errorf("%s got pushes %v", name, got)
		}
	}
}

// The interest is the session's: a resource of the user on another node
// of the cluster whose node replicated that it fetched the list gets the
// pushes (forwarded to it), one that did not gets none, and a local
// resource that fetched the list carries the interest for its node to
// replicate.
func TestPushesReachOtherNodes(t *testing.T) {
	env, _ := newEnv(t, 0)
	env.Account("juliet")
	here := env.Bind("juliet@example.com/balcony")
	list(t, here)
	if !here.Session.Interests().Has(im.BlockListInterest) {
		t.Fatalf("after fetching the list the session's interests are %b", here.Session.Interests())
	}
	fetched := env.Remote("juliet@example.com/far", "n2", im.BlockListInterest)
	rosterOnly := env.Remote("juliet@example.com/roster", "n2", im.RosterInterest)
	none := env.Remote("juliet@example.com/none", "n3", 0)
	if r := here.IQ("set", "", blockEl("block", "romeo@example.com")); r.Type() != "result" {
		t.Fatalf("block: %s", r)
	}
	want := []string{"block:romeo@example.com"}
	for name, c := range map[string]*modtest.Client{"here": here, "fetched": fetched} {
		if got := pushes(t, c.Take()); !slices.Equal(got, want) {
			t.Errorf("%s got pushes %v, want %v", name, got, want)
		}
	}
	for name, c := range map[string]*modtest.Client{"rosterOnly": rosterOnly, "none": none} {
		if got := c.Take(); len(got) != 0 {
			t.Errorf("%s, which never fetched the list, got %v", name, got)
		}
	}
}

// After a block the core refuses to route to the blocked JID, so the core's
// cache was told of the change.
func TestEnforcedByCore(t *testing.T) {
	env, _ := newEnv(t, 0)
	env.Account("juliet")
	env.Account("romeo")
	jc := env.Bind("juliet@example.com/balcony")
	rc := env.Bind("romeo@example.com/orchard")
	msg := func() *stanza.Element {
		return stanza.New("message", stanza.NSClient, "type", "chat", "to", "romeo@example.com/orchard").Append(stanza.New("body", stanza.NSClient).SetText("hi"))
	}
	jc.Send(msg()) // loads the (empty) list into the core's cache
	if got := rc.Take(); len(got) != 1 {
		t.Fatalf("before block romeo got %v", got)
	}
	jc.IQ("set", "", blockEl("block", "romeo@example.com"))
	jc.Send(msg())
	if got := rc.Take(); len(got) != 0 {
		t.Errorf("romeo still gets messages: %v", got)
	}
	got := jc.Take()
	if len(got) != 1 || modtest.Condition(got[0]) != stanza.NotAcceptable || got[0].Child("error", "").Child("blocked", blocking.NSErrors) == nil {
		t.Errorf("juliet got %v, want a not-acceptable <blocked/> error", got)
	}
	jc.IQ("set", "", blockEl("unblock", "romeo@example.com"))
	jc.Send(msg())
	if got := rc.Take(); len(got) != 1 {
		t.Errorf("after unblock romeo got %v", got)
	}
}

func TestPresence(t *testing.T) {
	env, _ := newEnv(t, 0)
	juliet, romeo := env.Account("juliet"), env.Account("romeo")
	env.Account("tybalt")
	nurse := env.Account("nurse")
	env.Subscribe(juliet, romeo)
	env.Subscribe(juliet, nurse)
	jb := env.Bind("juliet@example.com/balcony")
	jc := env.Bind("juliet@example.com/chamber") // bound, never available
	ro := env.Bind("romeo@example.com/orchard")
	rh := env.Bind("romeo@example.com/home")
	ty := env.Bind("tybalt@example.com/street")
	nu := env.Bind("nurse@example.com/kitchen")
	for _, c := range []*modtest.Client{ro, rh, ty, nu} {
		c.Send(stanza.New("presence", stanza.NSClient))
	}
	jb.Send(stanza.New("presence", stanza.NSClient).Append(stanza.New("show", stanza.NSClient).SetText("away")))
	all := []*modtest.Client{jb, jc, ro, rh, ty, nu}
	for _, c := range all {
		c.Take()
	}
	const unavail = "juliet@example.com/balcony unavailable"
	const avail = "juliet@example.com/balcony"

	steps := []struct {
		name    string
		payload *stanza.Element
		want    map[*modtest.Client][]string
	}{
		{name: "block a contact", payload: blockEl("block", "romeo@example.com"), want: map[*modtest.Client][]string{ro: {unavail}, rh: {unavail}}},
		{name: "block a stranger", payload: blockEl("block", "tybalt@example.com"), want: nil},
		{name: "block a blocked contact's resource", payload: blockEl("block", "romeo@example.com/orchard"), want: nil},
		{name: "unblock the bare JID", payload: blockEl("unblock", "romeo@example.com"), want: map[*modtest.Client][]string{rh: {avail}}},
		{name: "unblock the resource", payload: blockEl("unblock", "romeo@example.com/orchard"), want: map[*modtest.Client][]string{ro: {avail}}},
		{name: "block the domain", payload: blockEl("block", "example.com"), want: map[*modtest.Client][]string{ro: {unavail}, rh: {unavail}, nu: {unavail}}},
		{name: "unblock all", payload: blockEl("unblock"), want: map[*modtest.Client][]string{ro: {avail}, rh: {avail}, nu: {avail}}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if r := jc.IQ("set", "", st.payload); r.Type() != "result" {
				t.Fatalf("reply %s", r)
			}
			for i, c := range all {
				got := presences(c.Take())
				if !slices.Equal(got, st.want[c]) {
					t.Errorf("client %d (%s) got %v, want %v", i, c.Session.JID(), got, st.want[c])
				}
			}
		})
	}

	t.Run("current presence is sent", func(t *testing.T) {
		jc.IQ("set", "", blockEl("block", "nurse@example.com"))
		nu.Take()
		jc.IQ("set", "", blockEl("unblock", "nurse@example.com"))
		got := nu.Take()
		if len(got) != 1 || got[0].Child("show", "").Text() != "away" || got[0].To() != "nurse@example.com/kitchen" {
			t.Errorf("nurse got %v", got)
		}
	})
}

// A contact who blocks the user gets no presence from them either way.
func TestPresenceToContactWhoBlocks(t *testing.T) {
	env, _ := newEnv(t, 0)
	juliet, romeo := env.Account("juliet"), env.Account("romeo")
	env.Subscribe(juliet, romeo)
	jb := env.Bind("juliet@example.com/balcony")
	ro := env.Bind("romeo@example.com/orchard")
	ro.Send(stanza.New("presence", stanza.NSClient))
	jb.Send(stanza.New("presence", stanza.NSClient))
	if r := ro.IQ("set", "", blockEl("block", "juliet@example.com")); r.Type() != "result" {
		t.Fatalf("romeo's block: %s", r)
	}
	ro.Take()
	for _, p := range []*stanza.Element{blockEl("block", "romeo@example.com"), blockEl("unblock")} {
		jb.IQ("set", "", p)
		if got := presences(ro.Take()); len(got) != 0 {
			t.Errorf("after %s romeo got %v", p.Name, got)
		}
	}
}

func TestBlockManyAtOnce(t *testing.T) {
	env, _ := newEnv(t, 0)
	env.Account("juliet")
	c := env.Bind("juliet@example.com/balcony")
	var jids []string
	for i := range 50 {
		jids = append(jids, fmt.Sprintf("u%02d@example.com", i))
	}
	if r := c.IQ("set", "", blockEl("block", jids...)); r.Type() != "result" {
		t.Fatalf("block: %s", r)
	}
	if got := list(t, c); !slices.Equal(got, jids) {
		t.Errorf("list has %d entries, want %d", len(got), len(jids))
	}
}
