package router

import (
	"testing"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

type rec struct {
	got    []*stanza.Element
	fanout []jid.JID
	closed *stanza.StreamError
}

func (r *rec) Deliver(el *stanza.Element)                    { r.got = append(r.got, el) }
func (r *rec) Close(err *stanza.StreamError)                 { r.closed = err }
func (r *rec) DeliverAvailable(b jid.JID, _ *stanza.Element) { r.fanout = append(r.fanout, b) }

func TestBindConflictAndLimits(t *testing.T) {
	r := New()
	a := jid.MustParse("alice@example.com/a")
	s1, old, err := r.Bind(a, &rec{}, 2)
	if err != nil || old != nil {
		t.Fatal(err, old)
	}
	s2, old, err := r.Bind(a, &rec{}, 2)
	if err != nil || old != s1 {
		t.Fatalf("rebind: replaced %v, err %v", old, err)
	}
	if r.Unbind(s1) {
		t.Fatal("a replaced session was still bound")
	}
	if _, _, err := r.Bind(jid.MustParse("alice@example.com/b"), &rec{}, 2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Bind(jid.MustParse("alice@example.com/c"), &rec{}, 2); err != ErrTooManyResources {
		t.Fatalf("third resource: %v", err)
	}
	if r.Count() != 2 || !r.Unbind(s2) || r.Count() != 1 {
		t.Fatalf("count %d", r.Count())
	}
}

func TestRemoteEntries(t *testing.T) {
	r := New()
	var changes []Change
	r.Observe(func(c Change) { changes = append(changes, c) })
	bare := jid.MustParse("bob@example.com")
	local, _, _ := r.Bind(jid.MustParse("bob@example.com/here"), &rec{}, 0)
	local.SetPresence(stanza.New("presence", stanza.NSClient), true, 0)

	n2 := &rec{}
	r.PutRemote(NewRemote(jid.MustParse("bob@example.com/x"), "n2", "r1", n2, true, 0, nil, false))
	r.PutRemote(NewRemote(jid.MustParse("bob@example.com/y"), "n2", "r1", n2, true, 0, nil, false))
	r.PutRemote(NewRemote(jid.MustParse("bob@example.com/z"), "n3", "r1", &rec{}, false, 0, nil, false))
	if len(r.Sessions(bare)) != 4 || r.Count() != 1 {
		t.Fatalf("sessions %d, local count %d", len(r.Sessions(bare)), r.Count())
	}
	// Remote entries are not local changes: only bind and presence were observed.
	if len(changes) != 2 || changes[0].Kind != Bound || changes[1].Kind != Updated {
		t.Fatalf("changes %+v", changes)
	}
	// One message per node with available resources; local ones directly.
	el := stanza.New("presence", stanza.NSClient)
	r.DeliverAvailable(bare, el)
	if len(n2.fanout) != 1 || len(n2.got) != 0 {
		t.Fatalf("node n2 got %d fan-outs, %d deliveries", len(n2.fanout), len(n2.got))
	}
	// A remote binding of a JID bound here displaces the local session.
	if d := r.PutRemote(NewRemote(jid.MustParse("bob@example.com/here"), "n3", "r1", &rec{}, true, 0, nil, false)); d != local {
		t.Fatalf("displaced %v", d)
	}
	if r.Count() != 0 {
		t.Fatalf("local count %d after displacement", r.Count())
	}
	if g := r.RemoveNode("n3", "r0"); len(g) != 0 {
		t.Fatalf("removed %d entries of another run", len(g))
	}
	gone := r.RemoveNode("n3", "r1")
	if len(gone) != 2 || len(r.Sessions(bare)) != 2 {
		t.Fatalf("removed %d, left %d", len(gone), len(r.Sessions(bare)))
	}
	if r.RemoveRemote(jid.MustParse("bob@example.com/x"), "n3") != nil {
		t.Fatal("removed another node's entry")
	}
	if r.RemoveRemote(jid.MustParse("bob@example.com/x"), "n2") == nil || len(r.Sessions(bare)) != 1 {
		t.Fatal("remote entry not removed")
	}
}
