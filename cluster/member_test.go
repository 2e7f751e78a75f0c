package cluster

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestMemberTable drives the member table with heartbeats, leaves and
// sweeps directly (no NATS) and checks the events it emits.
func TestMemberTable(t *testing.T) {
	t0 := time.Now()
	run := func(name, id string, started time.Duration) Member {
		return Member{Name: name, ID: id, Started: t0.Add(started)}
	}
	a1, a2, b1 := run("a", "a1", 0), run("a", "a2", time.Minute), run("b", "b1", 0)

	type step struct {
		hb    *Member       // a heartbeat arrives, at the given offset
		leave *Member       // a leave arrives
		sweep time.Duration // a sweep runs at t0+sweep (when hb and leave are nil)
		at    time.Duration
	}
	hb := func(m Member, at time.Duration) step { return step{hb: &m, at: at} }
	lv := func(m Member) step { return step{leave: &m} }
	sw := func(at time.Duration) step { return step{sweep: at} }

	tests := []struct {
		name  string
		steps []step
		want  []string
		live  []string
	}{
		{"join", []step{hb(a1, 0), hb(a1, time.Second)}, []string{"joined a/a1"}, []string{"a/a1"}},
		{"leave", []step{hb(a1, 0), lv(a1)}, []string{"joined a/a1", "left a/a1"}, nil},
		{"leave of another run is ignored", []step{hb(a2, 0), lv(a1)}, []string{"joined a/a2"}, []string{"a/a2"}},
		{"silent dies", []step{hb(a1, 0), hb(b1, 4*time.Second), sw(6 * time.Second)},
			[]string{"joined a/a1", "joined b/b1", "died a/a1"}, []string{"b/b1"}},
		{"not dead at DeadAfter exactly", []step{hb(a1, 0), sw(5 * time.Second)}, []string{"joined a/a1"}, []string{"a/a1"}},
		{"restart replaces", []step{hb(a1, 0), hb(a2, time.Second)},
			[]string{"joined a/a1", "died a/a1", "joined a/a2"}, []string{"a/a2"}},
		{"restart after death", []step{hb(a1, 0), sw(6 * time.Second), hb(a2, 7*time.Second)},
			[]string{"joined a/a1", "died a/a1", "joined a/a2"}, []string{"a/a2"}},
		{"older run is ignored", []step{hb(a2, 0), hb(a1, time.Second), hb(a2, 2*time.Second)},
			[]string{"joined a/a2"}, []string{"a/a2"}},
		{"declared dead, heard again: returned", []step{hb(a1, 0), sw(6 * time.Second), hb(a1, 7*time.Second)},
			[]string{"joined a/a1", "died a/a1", "joined a/a1 returned"}, []string{"a/a1"}},
		{"left, heard again: not returned", []step{hb(a1, 0), lv(a1), hb(a1, time.Second)},
			[]string{"joined a/a1", "left a/a1", "joined a/a1"}, []string{"a/a1"}},
		{"another run after a death: not returned", []step{hb(a1, 0), sw(6 * time.Second), hb(a2, 7*time.Second), sw(13 * time.Second), hb(a1, 14*time.Second)},
			[]string{"joined a/a1", "died a/a1", "joined a/a2", "died a/a2", "joined a/a1"}, []string{"a/a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &Node{
				cfg:      Config{DeadAfter: 5 * time.Second},
				log:      slog.New(slog.DiscardHandler),
				members:  make(map[string]Member),
				silent:   make(map[string]string),
				watchers: []*watcher{{fn: func(Event) {}}},
				wake:     make(chan struct{}, 1),
			}
			for _, s := range tt.steps {
				switch {
				case s.hb != nil:
					m := *s.hb
					m.LastSeen = t0.Add(s.at)
					n.observe(m)
				case s.leave != nil:
					n.depart(leave{Name: s.leave.Name, ID: s.leave.ID})
				default:
					n.sweep(t0.Add(s.sweep))
				}
			}
			var got []string
			for _, q := range n.queue {
				e := fmt.Sprintf("%v %s/%s", q.ev.Kind, q.ev.Member.Name, q.ev.Member.ID)
				if q.ev.Returned {
					e += " returned"
				}
				got = append(got, e)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events %q, want %q", got, tt.want)
			}
			var live []string
			for _, m := range n.members {
				live = append(live, m.Name+"/"+m.ID)
			}
			slices.Sort(live)
			if !slices.Equal(live, tt.live) {
				t.Errorf("members %q, want %q", live, tt.live)
			}
		})
	}
}
