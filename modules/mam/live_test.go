package mam_test

import (
	"testing"
	"time"

	"github.com/parley-im/parley/modules/mam"
	"github.com/parley-im/parley/stanza"
)

// Messages routed by the core are found by queries under the stanza-id
// the recipient got, and preferences set through the module take effect
// on archiving at once.
func TestLiveArchive(t *testing.T) {
	e := newEnv(t, mam.Config{})
	rc := e.Bind("romeo@example.com/orchard")
	send := func(body string) string {
		t.Helper()
		e.c.Send(stanza.New("message", stanza.NSClient, "to", "romeo@example.com/orchard", "type", "chat", "id", body).
			Append(stanza.New("body", stanza.NSClient).SetText(body)))
		got := rc.Take()
		if len(got) != 1 {
			t.Fatalf("romeo got %v", got)
		}
		sid := got[0].Child("stanza-id", "urn:xmpp:sid:0")
		if sid == nil || sid.Attr("by") != romeo {
			t.Fatalf("delivered without romeo's stanza-id: %s", got[0])
		}
		return sid.Attr("id")
	}
	id := send("first")
	e.c.Take()

	after := form(field("after-id", e.msgs[archive-1].ID))
	before, reply := run(t, e.c, "set", "", query("live", after))
	if reply.Type() != "result" || len(before) != 1 {
		t.Fatalf("juliet's query: %v then %s", before, reply)
	}
	res := before[0].Child("result", mam.NS)
	fwd := res.Child("forwarded", mam.NSForward)
	msg := fwd.Child("message", stanza.NSClient)
	stamp, err := time.Parse(time.RFC3339Nano, fwd.Child("delay", stanza.NSDelay).Attr("stamp"))
	if res.Attr("id") != id || err != nil || !stamp.Equal(e.Now) || msg == nil ||
		msg.Child("body", "").Text() != "first" || msg.From() != me || msg.To() != "romeo@example.com/orchard" {
		t.Errorf("juliet's result for %s: %s", id, before[0])
	}

	// Juliet stops archiving; romeo's archive still keeps what she sends.
	if r := e.c.IQ("set", "", prefs("never", nil, nil)); r.Type() != "result" {
		t.Fatalf("prefs: %s", r)
	}
	second := send("second")
	e.c.Take()
	before, reply = run(t, e.c, "set", "", query("live", after))
	if len(before) != 1 || before[0].Child("result", mam.NS).Attr("id") != id {
		t.Errorf("juliet's archive changed after default='never': %v then %s", before, reply)
	}
	before, reply = run(t, rc, "set", "", query("r"))
	if reply.Type() != "result" || len(before) != 2 || before[1].Child("result", mam.NS).Attr("id") != second {
		t.Errorf("romeo's archive: %v then %s", before, reply)
	}
}
