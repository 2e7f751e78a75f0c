package c2s

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Durable stream management: a resumable session outlives the process
// that holds it. Its record in storage (storage.SMSession) says who holds
// it and how far both sides got:
//
//   - handled, the client's stanzas known durable, moves in the
//     transaction that archives each message the client sends (the core
//     reads router.Session.DurableSM), before that message is acknowledged;
//   - acked, the stanza-id of the newest archived message the client
//     acknowledged, and the session's presence move lazily (markFlusher).
//
// When a client resumes a session whose holder is gone (killed, crashed,
// or this very node before a restart), the node it reached claims the
// record, answers <resumed/> with handled, and sends again, from the
// archive, every message newer than acked (less a margin for clock skew
// between nodes): the client may get some twice, under the same
// stanza-id, and none is missing. What was never archived (presence,
// chat states, iq results) is not replayed; the session's presence is
// broadcast again and its contacts' presence probed, as at a login.

// marksEvery is how often acknowledged marks and presence are written.
const marksEvery = time.Second

// durable reports whether resumable sessions are recorded in storage.
func (s *Server) durable() bool { return s.cfg.Member != "" }

// holderAlive reports whether the process holding a recorded session
// still runs.
func (s *Server) holderAlive(node, member string) bool {
	if member == s.cfg.Member {
		return true
	}
	return s.cfg.HolderAlive != nil && s.cfg.HolderAlive(node, member)
}

// smPersist records a session that was just made resumable; on failure it
// stays resumable on this node only.
func (c *conn) smPersist(id string) {
	if !c.srv.durable() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now()
	err := c.srv.store.PutSMSession(ctx, storage.SMSession{
		Owner: c.user.String(), ID: id, Resource: c.sess.JID().Resource(),
		Node: c.srv.cfg.Node, Member: c.srv.cfg.Member, Created: now,
		Handled: c.out.sm.inH.Load(), Acked: storage.ArchiveIDFloor(now), Carbons: c.sess.Carbons(),
		Interests: uint8(c.sess.Interests()),
	})
	if err != nil {
		c.srv.log.Warn("c2s: could not record a resumable session; it will not survive this node", "jid", c.sess.JID(), "err", err)
		return
	}
	c.makeDurable(id)
}

// makeDurable marks this connection's session as recorded under id.
func (c *conn) makeDurable(id string) {
	o := c.out
	o.mu.Lock()
	o.sm.durable = true
	o.sm.needle = append(append([]byte("<stanza-id xmlns='"+im.NSStanzaID+"' by='"), stanza.AppendAttrEscaped(nil, c.user.String())...), "' id='"...)
	o.mu.Unlock()
	c.sess.SetDurableSM(id, c.srv.cfg.Member)
	c.durableSM = true
}

// smAckedLocked notes the newest archived message among the n oldest
// unacknowledged stanzas, which the client just acknowledged.
func (o *output) smAckedLocked(n uint32) {
	if !o.sm.durable {
		return
	}
	for i := int(n) - 1; i >= 0; i-- {
		if id := archiveIDIn(o.sm.unacked[i], o.sm.needle); id != "" {
			if id > o.sm.acked {
				o.sm.acked = id
				o.conn.srv.marks.dirty(o)
			}
			return
		}
	}
}

// archiveIDIn returns the id of the last <stanza-id/> in b that the
// needle (its serialized start, up to id=') finds.
func archiveIDIn(b, needle []byte) string {
	i := bytes.LastIndex(b, needle)
	if i < 0 {
		return ""
	}
	rest := b[i+len(needle):]
	end := bytes.IndexByte(rest, '\'')
	if end < 0 {
		return ""
	}
	return string(rest[:end])
}

// presenceChanged notes that a durable session broadcast presence, or
// may have changed its interests; the flusher records both.
func (c *conn) presenceChanged() {
	o := c.out
	o.mu.Lock()
	if o.sm.presence {
		o.mu.Unlock()
		return // already to be written
	}
	o.sm.presence = true
	o.mu.Unlock()
	c.srv.marks.dirty(o)
}

// markFlusher writes the acknowledged marks and presence of durable
// sessions every marksEvery, and drops the records of sessions that
// ended. Its writes are conditional on this process still holding the
// record: one that another node claimed (it took the session over while
// this node was cut off from it) is fenced — the session ends here without
// a word to its contacts (see fence). Sessions waiting for their client
// (detached) are checked every round, so a cut-off node lets go of them
// within a round of the claim.
type markFlusher struct {
	srv *Server

	mu       sync.Mutex
	outs     map[*output]struct{} // marks or presence to write
	detached map[*output]struct{} // to check every round
	ended    [][2]string          // owner, id
	stop     chan struct{}
	stopped  chan struct{}
	once     sync.Once
}

func newMarkFlusher(s *Server) *markFlusher {
	m := &markFlusher{srv: s, outs: map[*output]struct{}{}, detached: map[*output]struct{}{}, stop: make(chan struct{}), stopped: make(chan struct{})}
	if s.durable() {
		go m.run()
	} else {
		close(m.stopped)
	}
	return m
}

func (m *markFlusher) dirty(o *output) {
	m.mu.Lock()
	m.outs[o] = struct{}{}
	m.mu.Unlock()
}

// watch checks a detached durable session every round until it is
// resumed or over.
func (m *markFlusher) watch(o *output) {
	m.mu.Lock()
	m.detached[o] = struct{}{}
	m.mu.Unlock()
}

// end drops a session's record at the next flush: it ended here.
func (m *markFlusher) end(owner, id string) {
	m.mu.Lock()
	m.ended = append(m.ended, [2]string{owner, id})
	m.mu.Unlock()
}

func (m *markFlusher) run() {
	defer close(m.stopped)
	t := time.NewTicker(marksEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.flush()
		case <-m.stop:
			m.flush()
			return
		}
	}
}

// close writes what is pending and stops.
func (m *markFlusher) close() {
	m.once.Do(func() { close(m.stop) })
	<-m.stopped
}

func (m *markFlusher) flush() {
	// Lock order: an output's mu, then m.mu (dirty and watch are called
	// under the output's); never the other way round.
	m.mu.Lock()
	outs, ended := m.outs, m.ended
	m.outs, m.ended = map[*output]struct{}{}, nil
	watched := make([]*output, 0, len(m.detached))
	for o := range m.detached {
		watched = append(watched, o)
	}
	m.mu.Unlock()
	for _, o := range watched {
		o.mu.Lock()
		waiting := o.sm.detached && o.sm.durable && !o.sm.over
		o.mu.Unlock()
		if waiting {
			outs[o] = struct{}{}
			continue
		}
		m.mu.Lock()
		delete(m.detached, o)
		m.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, member := m.srv.store, m.srv.cfg.Member
	for o := range outs {
		o.mu.Lock()
		id, acked, pres, durable := o.sm.id, o.sm.acked, o.sm.presence, o.sm.durable
		o.sm.presence = false
		var sess *router.Session
		if o.conn != nil {
			sess = o.conn.bound.Load()
		}
		o.mu.Unlock()
		if sess == nil || id == "" || !durable {
			continue
		}
		owner := sess.JID().Bare().String()
		held, err := st.SetSMAcked(ctx, owner, id, member, acked)
		if err != nil {
			m.srv.log.Warn("c2s: could not record a session's acknowledged mark", "jid", sess.JID(), "err", err)
			continue
		}
		if held && pres {
			var b []byte
			if avail, _, p, _ := sess.State(); avail && p != nil {
				b = p.AppendXML(nil, stanza.NSClient)
			}
			if held, err = st.SetSMPresence(ctx, owner, id, member, b, uint8(sess.Interests())); err != nil {
				m.srv.log.Warn("c2s: could not record a session's presence", "jid", sess.JID(), "err", err)
				continue
			}
		}
		if !held {
			o.fence()
		}
	}
	for _, e := range ended {
		if err := st.DeleteSMSession(ctx, e[0], e[1], member); err != nil {
			m.srv.log.Warn("c2s: could not drop an ended session's record", "jid", e[0], "err", err)
		}
	}
}

// fence ends a durable session whose record this process no longer holds:
// another node took it over (or it ended meanwhile). It lives on over
// there, so it leaves the router without ending (no unavailable presence,
// no end hooks), a connection still open is closed with <conflict/>, and
// what its client never acknowledged here is routed again, to wherever the
// session is now (at least once: the new holder replayed the archive).
func (o *output) fence() {
	o.mu.Lock()
	if o.sm.over || o.closed || !o.sm.durable {
		o.mu.Unlock()
		return
	}
	owner := o.conn
	o.sm.over, o.closed, o.sm.durable = true, true, false
	if o.sm.timer != nil {
		o.sm.timer.Stop()
	}
	attached := !o.sm.detached
	id := o.sm.id
	o.mu.Unlock()
	srv := owner.srv
	sess := owner.bound.Load()
	srv.log.Warn("c2s: a session held here was taken over by another node; letting it go", "jid", sess.JID())
	if attached {
		owner.resumedAway.Store(true)
		closeWithConflict(owner.nc)
	}
	for _, c := range []*conn{owner, srv.resumable(id)} {
		if c != nil {
			c.relMu.Lock()
			c.left = true
			c.relMu.Unlock()
		}
	}
	srv.core.Router().Unbind(sess)
	srv.forgetResumable(id)
	owner.rerouteUnacked()
}

// ErrHolderUnreachable is what Config.ResumeFrom returns when the process
// holding a session cannot be reached at all (dead, or cut off from this
// node): the session is taken over at once, fenced by the claim in
// storage (see the top of this file and docs/cluster.md).
var ErrHolderUnreachable = errors.New("c2s: the session's holder is unreachable")

// resumeElsewhere resumes a session this node does not hold. A durable
// session's record names its holder, which is asked directly: it hands the
// session over if it lives and has it, and is taken over if it cannot be
// reached. Without a record (not durable, or its record could not be
// written) the cluster is asked at large.
func (c *conn) resumeElsewhere(prev string, h uint32) error {
	if !c.srv.durable() {
		return c.resumeBroadcast(prev, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.TakeoverWait+10*time.Second)
	defer cancel()
	owner := c.user.String()
	deadline := time.Now().Add(c.srv.cfg.TakeoverWait)
	for {
		rec, err := c.srv.store.SMSession(ctx, owner, prev)
		if errors.Is(err, storage.ErrNotFound) {
			return c.resumeBroadcast(prev, h)
		}
		if err != nil {
			c.srv.log.Warn("c2s: could not read a session's record to resume it", "jid", c.user, "err", err)
			c.smFailed(stanza.ItemNotFound, "")
			return nil
		}
		if rec.Member == c.srv.cfg.Member {
			// Held by this very process, which no longer has it: it ended.
			c.smFailed(stanza.ItemNotFound, "")
			return nil
		}
		if c.srv.cfg.ResumeFrom == nil {
			// A node alone: the holder was an earlier run of this node.
			return c.takeover(rec, h)
		}
		ho, err := c.srv.cfg.ResumeFrom(rec.Member, prev, owner, h)
		var se *stanza.StreamError
		switch {
		case err == nil:
			return c.resumeFrom(ho, prev)
		case errors.As(err, &se):
			return se
		case errors.Is(err, ErrNotHere):
			// Its holder runs and does not have it: it ended.
			c.smFailed(stanza.ItemNotFound, "")
			return nil
		case errors.Is(err, ErrHolderUnreachable), !c.srv.holderAlive(rec.Node, rec.Member):
			return c.takeover(rec, h)
		case time.Now().After(deadline):
			c.srv.log.Warn("c2s: the holder of a session does not answer; not resumed", "jid", c.user, "node", rec.Node, "err", err)
			c.smFailed(stanza.ItemNotFound, "")
			return nil
		}
		// Alive by the membership, subscribed, and silent: ask again.
		time.Sleep(250 * time.Millisecond)
	}
}

// resumeBroadcast asks every node for a session nobody recorded.
func (c *conn) resumeBroadcast(prev string, h uint32) error {
	if c.srv.cfg.RemoteResume == nil {
		c.smFailed(stanza.ItemNotFound, "")
		return nil
	}
	ho, err := c.srv.cfg.RemoteResume(prev, c.user.String(), h)
	var se *stanza.StreamError
	switch {
	case errors.As(err, &se):
		return se
	case err != nil:
		c.smFailed(stanza.ItemNotFound, "")
		return nil
	}
	return c.resumeFrom(ho, prev)
}

// takeover resumes a recorded session whose holder is gone (see the top
// of this file). Until all of it is in, the session holds what is
// delivered to it: the stanzas other nodes still kept for the old holder
// (Config.TakenOver), what the archive has since the acknowledged mark,
// offline messages, and whatever is routed to it meanwhile; then it sends
// each once (by its stanza-id), archived messages in archive order, which
// keeps every sender's messages in the order sent.
func (c *conn) takeover(rec storage.SMSession, h uint32) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	owner, prev := rec.Owner, rec.ID
	ok, err := c.srv.store.ClaimSMSession(ctx, owner, prev, rec.Member, c.srv.cfg.Node, c.srv.cfg.Member)
	if err != nil || !ok {
		c.smFailed(stanza.ItemNotFound, "")
		return nil
	}
	full, err := jid.Parse(owner + "/" + rec.Resource)
	if err != nil {
		c.smFailed(stanza.ItemNotFound, "")
		return nil
	}
	o := c.out
	o.mu.Lock()
	o.async = true
	o.holding = true
	o.sm.enabled, o.sm.id = true, prev
	o.sm.inH.Store(rec.Handled)
	o.sm.outH = h // the client's count; the old one died with its holder
	o.mu.Unlock()
	sess, err := c.bindResumed(full)
	if err != nil {
		o.mu.Lock()
		o.holding, o.held = false, nil
		o.mu.Unlock()
		c.smFailed(stanza.ResourceConstraint, "")
		return nil
	}
	sess.SetCarbons(rec.Carbons)
	sess.AddInterests(router.Interests(rec.Interests))
	c.sess = sess
	c.bound.Store(sess)
	c.srv.addResumable(prev, c)
	c.makeDurable(prev)
	_ = c.nc.SetReadDeadline(time.Time{})

	moved := 0
	if fn := c.srv.cfg.TakenOver; fn != nil {
		// Behind the bind: every node answering routes here from now on.
		for _, b := range fn(full, rec.Node) {
			c.DeliverRaw(b)
			moved++
		}
	}
	from := rec.Created
	if t, ok := storage.ArchiveIDTime(rec.Acked); ok {
		from = t
	}
	msgs, err := c.srv.store.ArchiveSince(ctx, owner, storage.ArchiveIDFloor(from.Add(-c.srv.cfg.MaxClockSkew)), c.srv.cfg.SMMaxUnacked)
	if err != nil {
		c.srv.log.Error("c2s: could not read the archive to resume a session", "jid", full, "err", err)
	}
	replayed := c.srv.core.ReplayArchived(sess, msgs)
	var pres *stanza.Element
	if len(rec.Presence) > 0 {
		if pres, err = stanza.ParseBytes(rec.Presence); err == nil {
			// What was stored offline meanwhile, taken first so that the
			// presence below does not repeat what the archive just gave.
			c.srv.core.DeliverOfflineExcept(ctx, sess, replayed)
		}
	}
	o.mu.Lock()
	o.queueResumedLocked(prev)
	sent := o.releaseHeldLocked()
	o.mu.Unlock()
	if pres != nil {
		// Its contacts saw it go when its node died, or will: presence
		// again, as at login (which also probes theirs).
		c.presenceChanged()
		c.srv.core.Route(ctx, sess, pres)
	}
	c.srv.cfg.Metrics.SMResumed.WithLabelValues("takeover").Inc()
	c.srv.log.Info("c2s: session resumed after its node was lost", "jid", full, "node", rec.Node,
		"replayed", len(replayed), "moved", moved, "sent", sent)
	return nil
}

// releaseHeldLocked ends the hold of a session being taken over: what was
// delivered meanwhile is queued once per stanza-id of ours, the archived
// messages in archive order (ids sort by time, and each node's by the
// order it archived them), then the rest in the order it came. It returns
// how many stanzas were queued.
func (o *output) releaseHeldLocked() int {
	held := o.held
	o.holding, o.held = false, nil
	type entry struct {
		id string
		b  []byte
	}
	var archived []entry
	var rest [][]byte
	seen := make(map[string]bool, len(held))
	for _, b := range held {
		id := archiveIDIn(b, o.sm.needle)
		switch {
		case id == "":
			rest = append(rest, b)
		case !seen[id]:
			seen[id] = true
			archived = append(archived, entry{id, b})
		}
	}
	slices.SortStableFunc(archived, func(a, b entry) int { return strings.Compare(a.id, b.id) })
	n := 0
	for _, e := range archived {
		o.smQueueLocked(func(buf []byte) []byte { return append(buf, e.b...) })
		n++
	}
	for _, b := range rest {
		o.smQueueLocked(func(buf []byte) []byte { return append(buf, b...) })
		n++
	}
	if n > 0 {
		o.kickLocked()
	}
	return n
}

// bindResumed binds the full JID of a session resumed from another
// holder; a session bound to it meanwhile is replaced.
func (c *conn) bindResumed(full jid.JID) (*router.Session, error) {
	sess, replaced, err := c.srv.core.Router().Bind(full, c, 0)
	if err != nil {
		return nil, err
	}
	if replaced != nil && replaced.IsLocal() {
		replaced.Close(stanza.NewStreamError(stanza.StreamConflict, "replaced by a resumed session"))
		c.srv.core.SessionEnded(context.Background(), replaced)
	}
	return sess, nil
}
