package im_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/parley-im/parley/stanza"
)

// catchUp reads c's whole archive (XEP-0313) into got (body -> stanza-id),
// failing on a body under two ids, and returns how many results came.
func (c *client) catchUp(got map[string]string) int {
	c.t.Helper()
	res, err := c.request("<iq type='set' id='mam'><query xmlns='urn:xmpp:mam:2' queryid='cu'/></iq>")
	if err != nil {
		c.t.Fatalf("%s: archive query: %v", c.name, err)
	}
	fin := res.Child("fin", "urn:xmpp:mam:2")
	if fin == nil || fin.Attr("complete") != "true" {
		c.t.Fatalf("%s: archive query answered %s, want a complete <fin/>", c.name, res)
	}
	n := 0
	for {
		el, ok := c.pending(func(el *stanza.Element) bool {
			return el.Name == "message" && el.Child("result", "urn:xmpp:mam:2") != nil
		})
		if !ok {
			return n
		}
		n++
		r := el.Child("result", "urn:xmpp:mam:2")
		m := r.Child("forwarded", "urn:xmpp:forward:0").Child("message", stanza.NSClient)
		c.note(got, bodyOf(m), r.Attr("id"))
	}
}

// pending returns an element already received that match accepts (the
// client sets aside what a request reads past).
func (c *client) pending(match func(*stanza.Element) bool) (*stanza.Element, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	el, err := c.c.Expect(ctx, match)
	return el, err == nil
}

// note records body under id, failing if it came under another id.
func (c *client) note(got map[string]string, body, id string) {
	c.t.Helper()
	if id == "" {
		c.t.Fatalf("%s: %q without a stanza-id", c.name, body)
	}
	if prev, ok := got[body]; ok && prev != id {
		c.t.Fatalf("%s: %q under two stanza-ids, %s and %s", c.name, body, prev, id)
	}
	got[body] = id
}

// A device that was away catches up from offline storage and the archive,
// and, deduplicating by stanza-id, has each message exactly once; a second
// device, whose offline messages the first one took, gets them all from
// the archive.
func TestCatchUp(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice", "bob"})
	bob := e.online("bob", "pc", 0)
	want := []string{"one", "two", "three"}
	for _, b := range want {
		bob.send("<message to='alice@localhost' type='chat'><body>%s</body></message>", b)
	}
	bob.sync()

	phone := e.online("alice", "phone", 0)
	got := map[string]string{}
	for range want {
		m := phone.expect("an offline message", func(el *stanza.Element) bool { return el.Name == "message" && bodyOf(el) != "" })
		if m.Child("delay", stanza.NSDelay) == nil {
			t.Errorf("phone: %q without a delay stamp", bodyOf(m))
		}
		phone.note(got, bodyOf(m), stanzaIDs(m)["alice@localhost"])
	}
	if n := phone.catchUp(got); n != len(want) {
		t.Errorf("phone: the archive gave %d results, want %d", n, len(want))
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"one", "three", "two"}) {
		t.Errorf("phone has %v", keys)
	}

	laptop := e.online("alice", "laptop", 0)
	laptop.expectNone("offline messages (the phone took them)", func(el *stanza.Element) bool { return el.Name == "message" })
	fromArchive := map[string]string{}
	laptop.catchUp(fromArchive)
	if !maps.Equal(fromArchive, got) {
		t.Errorf("laptop caught up %v, want what the phone has: %v", fromArchive, got)
	}
}
