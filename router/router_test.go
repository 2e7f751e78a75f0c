package router

import (
	"testing"
	"time"

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
	var changes []Change
	r := New(ObserverFunc(func(c Change) { changes = append(changes, c) }))
	bare := jid.MustParse("bob@example.com")
	local, _, _ := r.Bind(jid.MustParse("bob@example.com/here"), &rec{}, 0)
	local.SetPresence(stanza.New("presence", stanza.NSClient), true, 0)

	n2 := &rec{}
	r.PutRemote(NewRemote(jid.MustParse("bob@example.com/x"), "n2", "r1", n2, true, 0, nil, 0))
	r.PutRemote(NewRemote(jid.MustParse("bob@example.com/y"), "n2", "r1", n2, true, 0, nil, 0))
	r.PutRemote(NewRemote(jid.MustParse("bob@example.com/z"), "n3", "r1", &rec{}, false, 0, nil, 0))
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
	if d := r.PutRemote(NewRemote(jid.MustParse("bob@example.com/here"), "n3", "r1", &rec{}, true, 0, nil, 0)); d != local {
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

// What the cluster directory needs to settle two bindings of one full JID
// made without knowing of each other: the bind time of each, a conditional
// replace, and the replaced session in the Bound change.
func TestConflictingEntries(t *testing.T) {
	var changes []Change
	r := New(ObserverFunc(func(c Change) { changes = append(changes, c) }))
	full := jid.MustParse("bob@example.com/r")
	before := time.Now()
	local, _, _ := r.Bind(full, &rec{}, 0)
	if local.Bound().Before(before) || local.Bound().After(time.Now()) {
		t.Errorf("Bound() = %v, want the bind time", local.Bound())
	}

	older := NewRemote(full, "n2", "r1", &rec{}, true, 0, nil, 0).WithBound(local.Bound().Add(-time.Second))
	keepLater := func(old *Session) bool { return old.Bound().After(older.Bound()) }
	if d, put := r.PutRemoteUnless(older, keepLater); put || d != nil {
		t.Fatalf("an older remote binding was put (displaced %v)", d)
	}
	if r.Session(full) != local || r.Count() != 1 {
		t.Fatal("the local session did not stay")
	}
	newer := NewRemote(full, "n2", "r1", &rec{}, true, 0, nil, 0).WithBound(local.Bound().Add(time.Second))
	if d, put := r.PutRemoteUnless(newer, func(old *Session) bool { return old.Bound().After(newer.Bound()) }); !put || d != local {
		t.Fatalf("a newer remote binding: put %v, displaced %v; want put, displacing the local one", put, d)
	}
	if r.Session(full) != newer || r.Count() != 0 {
		t.Fatal("the newer remote binding is not the one routed to")
	}

	// A local bind replacing a remote entry tells the observer which.
	again, replaced, _ := r.Bind(full, &rec{}, 0)
	if replaced != newer {
		t.Fatalf("Bind replaced %v, want the remote entry", replaced)
	}
	last := changes[len(changes)-1]
	if last.Kind != Bound || last.Session != again || last.Replaced != newer {
		t.Errorf("last change %+v, want Bound of the new session replacing the remote entry", last)
	}

	r.PutRemote(NewRemote(jid.MustParse("bob@example.com/a"), "n2", "r1", &rec{}, true, 0, nil, 0).WithBound(before))
	r.PutRemote(NewRemote(jid.MustParse("bob@example.com/b"), "n2", "r1", &rec{}, true, 0, nil, 0))
	if got := sessionNames(r.OfNode("n2")); len(got) != 2 {
		t.Fatalf("OfNode(n2) = %v, want /a and /b", got)
	}
	if got := r.OfNode(""); len(got) != 0 {
		t.Fatalf("OfNode(\"\") = %v, want no local sessions", sessionNames(got))
	}
	gone := r.RemoveRemoteIf("n2", func(s *Session) bool { return s.Bound().IsZero() })
	if len(gone) != 1 || gone[0].JID().Resource() != "b" {
		t.Fatalf("RemoveRemoteIf removed %v, want only /b", sessionNames(gone))
	}
	if len(r.RemoveRemoteIf("", func(*Session) bool { return true })) != 0 || r.Session(full) != again {
		t.Error("RemoveRemoteIf with no node removed local sessions")
	}
}

func sessionNames(list []*Session) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.JID().String())
	}
	return out
}

// Interests only grow, each new one is published once, and the roster
// bit is what State reports.
func TestInterests(t *testing.T) {
	var updates int
	r := New(ObserverFunc(func(c Change) {
		if c.Kind == Updated {
			updates++
		}
	}))
	s, _, err := r.Bind(jid.MustParse("alice@example.com/a"), &rec{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Interests(); got != 0 {
		t.Fatalf("a new session has interests %b", got)
	}
	steps := []struct {
		add     Interests
		want    Interests
		updates int
	}{
		{BlockListInterest, BlockListInterest, 1},
		{BlockListInterest, BlockListInterest, 1}, // no change, nothing published
		{RosterInterest, RosterInterest | BlockListInterest, 2},
		{0, RosterInterest | BlockListInterest, 2},
	}
	for i, st := range steps {
		s.AddInterests(st.add)
		if got := s.Interests(); got != st.want || updates != st.updates {
			t.Errorf("step %d: interests %b, %d updates; want %b, %d", i, got, updates, st.want, st.updates)
		}
	}
	if _, _, _, roster := s.State(); !roster {
		t.Error("State does not report the roster interest")
	}
	s.RequestedRoster()
	if updates != 2 {
		t.Errorf("RequestedRoster on an interested session published (%d updates)", updates)
	}

	if i := BlockListInterest; !i.Has(BlockListInterest) || i.Has(RosterInterest) || i.Has(0) || i.Has(RosterInterest|BlockListInterest) {
		t.Errorf("Has is wrong for %b", i)
	}

	far := NewRemote(jid.MustParse("alice@example.com/far"), "n2", "r1", &rec{}, true, 0, nil, BlockListInterest)
	if _, _, _, roster := far.State(); roster || far.Interests() != BlockListInterest {
		t.Errorf("remote entry: roster %v, interests %b", roster, far.Interests())
	}
	far.SetRemoteState(true, 0, nil, RosterInterest)
	if far.Interests() != RosterInterest {
		t.Errorf("after SetRemoteState interests %b, want the roster only", far.Interests())
	}
}
