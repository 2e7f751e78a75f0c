package cluster

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Member is one live node as this node last heard of it.
type Member struct {
	Name string
	// ID identifies one run of the node: a restarted node keeps its Name
	// and gets a new ID. State owned by a dead node's run (its sessions)
	// is keyed by Name and ID together.
	ID       string
	Version  string
	Sessions int
	Started  time.Time // by the member's own clock
	LastSeen time.Time // by this node's clock, when its last heartbeat arrived
	// Draining: the node accepts no clients and is moving its own away.
	Draining bool
	// C2S and C2STLS are where clients may be sent to reach the node
	// (STARTTLS and direct TLS), "" when it does not advertise one.
	C2S, C2STLS string
}

// EventKind says what happened to a member.
type EventKind int

const (
	// Joined: a node (or a new run of a restarted node) is alive.
	Joined EventKind = iota + 1
	// Left: a node shut down cleanly and said so.
	Left
	// Died: a node was silent for DeadAfter, or was replaced by a new run
	// of itself before it was declared dead.
	Died
)

func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Left:
		return "left"
	case Died:
		return "died"
	}
	return "unknown"
}

// Event is one change in membership.
type Event struct {
	Kind   EventKind
	Member Member
	// Returned is set on Joined for a run this node had declared dead
	// after silence: it was cut off (a network partition that healed, or
	// a process paused for longer than DeadAfter) and has been running all
	// along. It had declared this node dead too, so the two have to
	// exchange their state again.
	Returned bool
}

// result is what receive found in a message that the caller must act on.
type result struct {
	dup    *Member // a live instance of another run with this node's name
	probed bool    // someone asked for heartbeats now
}

// receive applies one membership message to the member table. It is only
// ever called from one goroutine at a time (Start's join, then loop).
func (n *Node) receive(m *nats.Msg) result {
	switch m.Subject {
	case subjectHeartbeat:
		var hb heartbeat
		if err := json.Unmarshal(m.Data, &hb); err != nil || hb.Name == "" || hb.ID == "" {
			n.log.Warn("cluster: bad heartbeat", "err", err, "len", len(m.Data))
			return result{}
		}
		if hb.ID == n.self.ID {
			return result{}
		}
		mem := Member{
			Name:     hb.Name,
			ID:       hb.ID,
			Version:  hb.Version,
			Sessions: hb.Sessions,
			Started:  hb.Started,
			LastSeen: time.Now(),
			Draining: hb.Draining,
			C2S:      hb.C2S,
			C2STLS:   hb.C2STLS,
		}
		if mem.Name == n.self.Name {
			return result{dup: &mem}
		}
		n.observe(mem)
	case subjectLeave:
		var lv leave
		if err := json.Unmarshal(m.Data, &lv); err != nil {
			n.log.Warn("cluster: bad leave message", "err", err, "len", len(m.Data))
			return result{}
		}
		if lv.Name != n.self.Name {
			n.depart(lv)
		}
	case subjectProbe:
		var p leave
		_ = json.Unmarshal(m.Data, &p) // only for the check below
		return result{probed: p.ID != n.self.ID}
	}
	return result{}
}

// observe records a heartbeat from another node.
func (n *Node) observe(mem Member) {
	n.mu.Lock()
	defer n.mu.Unlock()
	old, ok := n.members[mem.Name]
	switch {
	case !ok:
		n.members[mem.Name] = mem
		returned := n.silent[mem.Name] == mem.ID
		delete(n.silent, mem.Name)
		n.emitLocked(Event{Kind: Joined, Member: mem, Returned: returned})
		if returned {
			n.log.Warn("cluster: node returned: it had been declared dead but kept running (a partition healed?)", "member", mem.Name, "id", mem.ID)
		} else {
			n.log.Info("cluster: node joined", "member", mem.Name, "id", mem.ID, "version", mem.Version)
		}
	case old.ID == mem.ID:
		n.members[mem.Name] = mem
	case newer(mem, old):
		// A restart: the old run is gone, whether or not we had noticed.
		n.members[mem.Name] = mem
		n.emitLocked(Event{Kind: Died, Member: old})
		n.emitLocked(Event{Kind: Joined, Member: mem})
		n.log.Warn("cluster: node restarted", "member", mem.Name, "old_id", old.ID, "id", mem.ID)
	default:
		// An older run than the one we follow: a stale message, or two live
		// nodes with one name. The newest run wins; the duplicates log it.
		n.log.Debug("cluster: ignoring heartbeat of an older run", "member", mem.Name, "id", mem.ID, "current_id", old.ID)
	}
}

// depart removes a node that announced a clean shutdown.
func (n *Node) depart(lv leave) {
	n.mu.Lock()
	defer n.mu.Unlock()
	old, ok := n.members[lv.Name]
	if !ok || old.ID != lv.ID {
		return
	}
	delete(n.members, lv.Name)
	n.emitLocked(Event{Kind: Left, Member: old})
	n.log.Info("cluster: node left", "member", old.Name, "id", old.ID)
}

// sweep declares dead every member silent for longer than DeadAfter.
func (n *Node) sweep(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, m := range n.members {
		if silent := now.Sub(m.LastSeen); silent > n.cfg.DeadAfter {
			delete(n.members, name)
			n.silent[name] = m.ID
			n.emitLocked(Event{Kind: Died, Member: m})
			n.log.Warn("cluster: node died", "member", m.Name, "id", m.ID, "silent", silent.Round(time.Millisecond))
		}
	}
}

// duplicate logs, once per other run, that another live node uses this
// node's name. Which run the cluster follows is decided by observe on each
// node: the newest.
func (n *Node) duplicate(other Member) {
	if n.dups[other.ID] {
		return
	}
	n.dups[other.ID] = true
	who := "this run is older and other nodes will follow the other one"
	if newer(n.self, other) {
		who = "this run is newer and other nodes follow it; the other run should be stopped"
	}
	n.log.Error("cluster: DUPLICATE NODE NAME: another live node uses this node's name; "+who,
		slog.String("id", n.self.ID),
		slog.String("other_id", other.ID), slog.Time("other_started", other.Started))
}
