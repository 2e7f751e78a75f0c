package c2s

import (
	"slices"
	"testing"
)

// A session being taken over sends what it held once per stanza-id of its
// owner, archived messages in archive (id) order, then the rest in the
// order it came.
func TestReleaseHeld(t *testing.T) {
	o := &output{conn: &conn{srv: &Server{cfg: Config{SMMaxUnacked: 100}}}}
	o.sm.enabled, o.sm.detached = true, true // detached: queued stanzas are only kept, not written
	o.sm.needle = []byte("<stanza-id xmlns='urn:xmpp:sid:0' by='alice@x' id='")
	msg := func(id, body string) []byte {
		return []byte("<message><body>" + body + "</body><stanza-id xmlns='urn:xmpp:sid:0' by='alice@x' id='" + id + "'/></message>")
	}
	o.holding = true
	for _, b := range [][]byte{
		msg("03", "c"),                     // live, newer than what the archive replays
		[]byte("<presence from='bob@x'/>"), // not archived
		msg("01", "a"),                     // replayed
		msg("03", "c"),                     // replayed: the same message again
		msg("02", "b"),                     // kept for the old holder by another node
		[]byte("<message><body>x</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@x' id='00'/></message>"), // someone else's id
	} {
		if !o.queue(func(buf []byte) []byte { return append(buf, b...) }) {
			t.Fatal("a held stanza was refused")
		}
	}
	if len(o.sm.unacked) != 0 {
		t.Fatal("stanzas went out while held")
	}
	if n := o.releaseHeldLocked(); n != 5 {
		t.Errorf("released %d stanzas, want 5", n)
	}
	var got []string
	for _, b := range o.sm.unacked {
		got = append(got, string(b))
	}
	want := []string{string(msg("01", "a")), string(msg("02", "b")), string(msg("03", "c")),
		"<presence from='bob@x'/>", "<message><body>x</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@x' id='00'/></message>"}
	if !slices.Equal(got, want) {
		t.Errorf("released\n%q\nwant\n%q", got, want)
	}
	if o.holding || o.held != nil || o.sm.outH != 5 {
		t.Errorf("after release: holding %v, held %d, outH %d", o.holding, len(o.held), o.sm.outH)
	}
}
