package directory

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/parley-im/parley/cluster"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
)

// Snapshots keep the directories of all nodes converging without an
// operator, whatever messages were lost on the way.
//
// A node asks another for its sessions by publishing "asker target" on
// syncSubject. The target answers on its own subject, so that the answer
// is in order with its changes: a "snap" mark naming the asker, a bind for
// every session bound there, and a "snapped" mark carrying the snap's
// Seq. Every node applies the entries (an answer is the current state,
// whoever asked), and at "snapped" drops the target's entries that the
// snapshot did not confirm: their sessions ended while the node was not
// listening, and local contacts are told they are gone.
//
// The first whole snapshot of a node after it joined or came back also
// tells this node's users the presence of its available sessions
// (RemoteSessionBack): they were told those sessions were gone when the
// node was declared dead, and what the node broadcast since did not reach
// them. Users who did get a presence in the meantime may get it twice.
//
// A node asks every member when it starts (the membership watcher is
// first told each current member), every node that joins later or comes
// back after it was declared dead (a healed partition: both sides ask),
// and a node from which it missed a message (a gap in the Seq numbers, as
// when a route dropped for less than DeadAfter). A node that has published
// nothing for tickBeats heartbeats publishes a "tick", so that a missed
// last change is noticed within that time too. An ask that got no whole
// answer is repeated after answerWait, a few times; and at once when the
// asked node asks this one, which shows it is listening now (a node is
// seen joining before its directory has subscribed).
//
// When a node joins or comes back, this node also hands the offline
// messages of its available local users to them: the other node may have
// stored messages for them while it could not see their sessions.

// answerWait is how long a node waits for a whole answer to an ask before
// asking again, at most maxAsks times in a row.
const (
	answerWait = 5 * time.Second
	maxAsks    = 5
)

// tickBeats is how many heartbeats a node's subject may stay silent
// before it publishes a tick.
const tickBeats = 5

// tick publishes a tick whenever the node published nothing for every,
// until ctx ends.
func (d *Directory) tick(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.pubMu.Lock()
			if time.Since(d.lastPub) >= every {
				d.publishLocked(dirMsg{Op: "tick"})
			}
			d.pubMu.Unlock()
		}
	}
}

// peer is what this node knows of another node's messages. It is guarded
// by Directory.peersMu.
type peer struct {
	run  string // the run whose messages seq counts
	seq  uint64 // the last Seq seen from run
	snap uint64 // Seq of the snapshot being received, 0 when none
	// announce: the node joined or came back, and its sessions are to be
	// announced to local users at its next whole snapshot.
	announce bool

	asked  time.Time   // when the ask waiting for an answer was sent; zero when none
	asks   int         // asks sent since the last whole answer
	nudged bool        // asked again because the node asked this one
	retry  *time.Timer // asks again after answerWait
}

// peerLocked returns node's record, creating it; peersMu is held.
func (d *Directory) peerLocked(node string) *peer {
	p := d.peers[node]
	if p == nil {
		p = &peer{}
		d.peers[node] = p
	}
	return p
}

// forget drops what is known of a node that left or died.
func (d *Directory) forget(node string) {
	d.peersMu.Lock()
	defer d.peersMu.Unlock()
	if p := d.peers[node]; p != nil && p.retry != nil {
		p.retry.Stop()
	}
	delete(d.peers, node)
}

// stopAsking ends the retries, for Stop.
func (d *Directory) stopAsking() {
	d.peersMu.Lock()
	defer d.peersMu.Unlock()
	d.closed = true
	for _, p := range d.peers {
		if p.retry != nil {
			p.retry.Stop()
		}
	}
}

// sequence notes the Seq of a message from node and reports whether one
// was missed before it, so that a snapshot should be asked for (unless
// one was asked for recently and not answered yet).
func (d *Directory) sequence(node string, m dirMsg) (ask bool) {
	if m.Seq == 0 {
		return false // a node that does not number its messages
	}
	d.peersMu.Lock()
	defer d.peersMu.Unlock()
	p := d.peerLocked(node)
	if p.run != m.Run {
		// The first message of a run heard here: its Joined asks.
		p.run, p.seq, p.snap = m.Run, m.Seq, 0
		return false
	}
	gap := m.Seq != p.seq+1
	p.seq = m.Seq
	// An ask waiting for its answer covers the gap (it is retried), unless
	// it was given up.
	return gap && (p.asked.IsZero() || time.Since(p.asked) > answerWait)
}

// ask asks node for a snapshot of its sessions, and again after
// answerWait if no whole answer came.
func (d *Directory) ask(node string) {
	d.peersMu.Lock()
	if d.closed {
		d.peersMu.Unlock()
		return
	}
	p := d.peerLocked(node)
	p.asked = time.Now()
	p.asks++
	if p.retry != nil {
		p.retry.Stop()
	}
	if p.asks < maxAsks {
		p.retry = time.AfterFunc(answerWait, func() { d.reask(node, p, "no whole answer") })
	}
	d.peersMu.Unlock()
	if err := d.nc.Publish(syncSubject, []byte(d.name+" "+node)); err != nil {
		d.log.Error("directory: publish failed", "subject", syncSubject, "err", err)
	}
}

// reask asks node again if the ask recorded in p is still unanswered.
func (d *Directory) reask(node string, p *peer, why string) {
	d.peersMu.Lock()
	again := !d.closed && d.peers[node] == p && !p.asked.IsZero()
	d.peersMu.Unlock()
	if again {
		d.log.Info("directory: asking another node for its sessions again", "node", node, "why", why)
		d.ask(node)
	}
}

// onSync answers a node asking for this node's sessions. (A request that
// names no target, from older nodes, is for every node.)
func (d *Directory) onSync(msg *nats.Msg) {
	asker, target, _ := strings.Cut(string(msg.Data), " ")
	if asker == d.name || target != "" && target != d.name {
		return
	}
	d.nudge(asker)
	d.pubMu.Lock()
	defer d.pubMu.Unlock()
	d.publishLocked(dirMsg{Op: "snap", For: asker})
	from := d.seq
	for _, s := range d.router.Local() {
		if d.router.Session(s.JID()) != s {
			continue // unbound meanwhile; its unbind follows
		}
		m := dirMsg{Op: "bind", JID: s.JID().String(), Bound: s.Bound().UnixNano()}
		d.fillState(&m, s)
		d.publishLocked(m)
	}
	d.publishLocked(dirMsg{Op: "snapped", From: from})
}

// nudge asks node again, once per unanswered ask, when node asks this
// one: it is listening now, and may not have been when asked.
func (d *Directory) nudge(node string) {
	d.peersMu.Lock()
	p := d.peers[node]
	if p == nil || p.asked.IsZero() || p.nudged {
		d.peersMu.Unlock()
		return
	}
	p.nudged = true
	d.peersMu.Unlock()
	d.reask(node, p, "it asked this node")
}

// snapBegin starts receiving a snapshot of node.
func (d *Directory) snapBegin(node string, m dirMsg) {
	d.peersMu.Lock()
	defer d.peersMu.Unlock()
	d.peerLocked(node).snap = m.Seq
}

// snapEnd finishes a snapshot of node: its entries that the snapshot did
// not confirm are dropped, and after a join its sessions are announced.
func (d *Directory) snapEnd(node string, m dirMsg) {
	d.peersMu.Lock()
	p := d.peerLocked(node)
	whole := p.snap != 0 && p.snap == m.From
	announce := whole && p.announce
	p.snap = 0
	if whole {
		p.asked, p.asks, p.nudged, p.announce = time.Time{}, 0, false, false
		if p.retry != nil {
			p.retry.Stop()
		}
	}
	d.peersMu.Unlock()
	if !whole {
		return // its start was missed: that gap asked for another one
	}
	stale := d.router.RemoveRemoteIf(node, func(s *router.Session) bool {
		rc, ok := s.Conn().(*remoteConn)
		return s.Run() != m.Run || !ok || rc.seen.Load() < m.From
	})
	if len(stale) > 0 {
		d.log.Info("directory: dropped sessions that another node no longer has", "node", node, "sessions", len(stale))
	}
	var back []*router.Session
	if announce && d.router.Count() > 0 { // nobody here to tell otherwise
		for _, s := range d.router.OfNode(node) {
			if a, _ := s.Available(); a {
				back = append(back, s)
			}
		}
	}
	if len(stale) == 0 && len(back) == 0 {
		return
	}
	d.background(func(ctx context.Context) {
		for _, s := range stale {
			d.core.RemoteSessionGone(ctx, s)
		}
		for _, s := range back {
			d.core.RemoteSessionBack(ctx, s)
		}
	})
}

// joined asks a node that joined or came back for its sessions, to be
// announced here, and hands this node's users the offline messages it may
// have stored for them.
func (d *Directory) joined(ev cluster.Event) {
	d.peersMu.Lock()
	d.peerLocked(ev.Member.Name).announce = true
	d.peersMu.Unlock()
	d.ask(ev.Member.Name)
	d.handOverOffline()
}

// handOverOffline delivers what is stored offline for the users with an
// available local session of non-negative priority, which another node
// may have stored while it could not see them (DeliverPendingOffline:
// taking is atomic, so nothing is delivered twice). The lookup is one
// batched query per few hundred users.
func (d *Directory) handOverOffline() {
	var owners []string
	seen := make(map[string]bool)
	for _, s := range d.router.Local() {
		if a, prio := s.Available(); a && prio >= 0 {
			if b := s.JID().Bare().String(); !seen[b] {
				seen[b] = true
				owners = append(owners, b)
			}
		}
	}
	if len(owners) == 0 {
		return
	}
	d.background(func(ctx context.Context) {
		have, err := d.core.Store().HaveOffline(ctx, owners)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error("directory: offline lookup failed", "users", len(owners), "err", err)
			}
			return
		}
		for _, o := range have {
			if bare, err := jid.Parse(o); err == nil {
				d.core.DeliverPendingOffline(ctx, bare)
			}
		}
		if len(have) > 0 {
			d.log.Info("directory: handed over offline messages stored while another node could not see their users", "users", len(have))
		}
	})
}

// background runs fn on its own goroutine, unless the directory stopped;
// Stop cancels fn's context and waits for it.
func (d *Directory) background(fn func(ctx context.Context)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		fn(d.ctx)
	}()
}
