package directory

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

type nopConn struct{}

func (nopConn) Deliver(*stanza.Element)   {}
func (nopConn) Close(*stanza.StreamError) {}

var full = jid.MustParse("bob@example.com/r")

func remoteAt(node string, bound time.Time) *router.Session {
	return router.NewRemote(full, node, "run-"+node, nopConn{}, true, 0, nil, 0).WithBound(bound)
}

func TestKeeps(t *testing.T) {
	d := &Directory{name: "n2"}
	t0 := time.Unix(1700000000, 0)
	local, _, err := router.New().Bind(full, nopConn{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tl := local.Bound()
	tests := []struct {
		name string
		old  *router.Session
		node string    // of the new binding
		at   time.Time // of the new binding
		m    dirMsg
		keep bool
	}{
		{"a later binding of the same node replaces", remoteAt("n3", t0), "n3", t0.Add(time.Second), dirMsg{}, false},
		{"an earlier binding of the same node replaces too (its messages are in order)", remoteAt("n3", t0), "n3", t0.Add(-time.Second), dirMsg{}, false},
		{"the later of two concurrent bindings wins", remoteAt("n3", t0), "n1", t0.Add(time.Second), dirMsg{}, false},
		{"the earlier of two concurrent bindings loses", remoteAt("n3", t0), "n1", t0.Add(-time.Second), dirMsg{}, true},
		{"a tie goes to the greater node name (old)", remoteAt("n3", t0), "n1", t0, dirMsg{}, true},
		{"a tie goes to the greater node name (new)", remoteAt("n1", t0), "n3", t0, dirMsg{}, false},
		{"a local session is this node's", local, "n1", tl, dirMsg{}, true},
		{"a later binding replaces a local session", local, "n1", tl.Add(time.Nanosecond), dirMsg{}, false},
		{
			"a binding that knowingly replaced old wins, however early",
			remoteAt("n3", t0), "n1", t0.Add(-time.Hour),
			dirMsg{Replaces: "n3", ReplacesAt: t0.UnixNano()}, false,
		},
		{
			"it knowingly replaced a local session",
			local, "n1", tl.Add(-time.Hour),
			dirMsg{Replaces: "n2", ReplacesAt: tl.UnixNano()}, false,
		},
		{
			"it replaced another binding of the node: concurrent with old",
			remoteAt("n3", t0), "n1", t0.Add(-time.Hour),
			dirMsg{Replaces: "n3", ReplacesAt: t0.Add(-2 * time.Hour).UnixNano()}, true,
		},
		{"a binding from a node that sent no bind time loses", remoteAt("n3", t0), "n4", time.Time{}, dirMsg{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.keeps(tt.old, tt.node, tt.at, tt.m); got != tt.keep {
				t.Errorf("keeps = %v, want %v", got, tt.keep)
			}
		})
	}
}

// Two nodes that each learn the other's concurrent binding agree on which
// survives: exactly one of them keeps its own.
func TestKeepsAgrees(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	for _, c := range []struct {
		a, b   string
		ta, tb time.Time
	}{
		{"n1", "n2", t0, t0.Add(time.Millisecond)},
		{"n1", "n2", t0.Add(time.Millisecond), t0},
		{"n1", "n2", t0, t0},
		{"node-b", "node-a", t0, t0},
	} {
		t.Run(fmt.Sprintf("%s@%d vs %s@%d", c.a, c.ta.UnixMilli(), c.b, c.tb.UnixMilli()), func(t *testing.T) {
			onA := (&Directory{name: c.a}).keeps(remoteAt(c.a, c.ta), c.b, c.tb, dirMsg{})
			onB := (&Directory{name: c.b}).keeps(remoteAt(c.b, c.tb), c.a, c.ta, dirMsg{})
			if onA == onB {
				t.Errorf("%s keeps its binding: %v; %s keeps its binding: %v; want exactly one", c.a, onA, c.b, onB)
			}
		})
	}
}

func TestSequence(t *testing.T) {
	d := &Directory{name: "n1", peers: make(map[string]*peer)}
	steps := []struct {
		run  string
		seq  uint64
		ask  bool
		what string
	}{
		{"r1", 7, false, "the first message heard of a run"},
		{"r1", 8, false, "the next one"},
		{"r1", 10, true, "one was missed"},
		{"r1", 11, false, "in order again"},
		{"r2", 3, false, "a new run starts counting afresh"},
		{"r2", 0, false, "a message without a number (an older node)"},
		{"r2", 4, false, "numbers go on"},
	}
	for _, s := range steps {
		if got := d.sequence("n2", dirMsg{Run: s.run, Seq: s.seq}); got != s.ask {
			t.Errorf("%s (%s #%d): ask = %v, want %v", s.what, s.run, s.seq, got, s.ask)
		}
	}
	// While an ask waits for its answer, a gap does not ask again.
	d.peers["n2"].asked = time.Now()
	if d.sequence("n2", dirMsg{Run: "r2", Seq: 9}) {
		t.Error("a gap asked again while an ask waits for its answer")
	}
	d.peers["n2"].asked = time.Now().Add(-2 * answerWait)
	if !d.sequence("n2", dirMsg{Run: "r2", Seq: 12}) {
		t.Error("a gap did not ask after the last ask was given up")
	}
}
