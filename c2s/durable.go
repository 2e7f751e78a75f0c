package c2s

import (
	"bytes"
	"context"
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

// replaySlack is how far before the acknowledged mark the replay starts:
// ids from different nodes sort by their clocks, which may disagree.
const replaySlack = 2 * time.Second

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
	c.sess.SetDurableSM(id)
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

// presenceChanged notes that a durable session broadcast presence.
func (c *conn) presenceChanged() {
	o := c.out
	o.mu.Lock()
	o.sm.presence = true
	o.mu.Unlock()
	c.srv.marks.dirty(o)
}

// markFlusher writes the acknowledged marks and presence of durable
// sessions every marksEvery, and drops the records of sessions that
// ended.
type markFlusher struct {
	srv *Server

	mu      sync.Mutex
	outs    map[*output]struct{}
	ended   [][2]string // owner, id
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newMarkFlusher(s *Server) *markFlusher {
	m := &markFlusher{srv: s, outs: map[*output]struct{}{}, stop: make(chan struct{}), stopped: make(chan struct{})}
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
	m.mu.Lock()
	outs, ended := m.outs, m.ended
	m.outs, m.ended = map[*output]struct{}{}, nil
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := m.srv.store
	for o := range outs {
		o.mu.Lock()
		id, acked, pres := o.sm.id, o.sm.acked, o.sm.presence
		o.sm.presence = false
		var sess *router.Session
		if o.conn != nil {
			sess = o.conn.bound.Load()
		}
		o.mu.Unlock()
		if sess == nil || id == "" {
			continue
		}
		owner := sess.JID().Bare().String()
		if acked != "" {
			if err := st.SetSMAcked(ctx, owner, id, acked); err != nil {
				m.srv.log.Warn("c2s: could not record a session's acknowledged mark", "jid", sess.JID(), "err", err)
			}
		}
		if pres {
			var b []byte
			if avail, _, p, _ := sess.State(); avail && p != nil {
				b = p.AppendXML(nil, stanza.NSClient)
			}
			if err := st.SetSMPresence(ctx, owner, id, b); err != nil {
				m.srv.log.Warn("c2s: could not record a session's presence", "jid", sess.JID(), "err", err)
			}
		}
	}
	for _, e := range ended {
		if err := st.DeleteSMSession(ctx, e[0], e[1], m.srv.cfg.Member); err != nil {
			m.srv.log.Warn("c2s: could not drop an ended session's record", "jid", e[0], "err", err)
		}
	}
}

// takeover resumes a recorded session whose holder is gone (see the top
// of this file). The holder may not be known dead yet when the client
// comes back at once: until takeoverWait passes, the node keeps asking the
// cluster (the holder answers if it lives) and checking membership.
func (c *conn) takeover(prev string, h uint32) error {
	if !c.srv.durable() {
		c.smFailed(stanza.ItemNotFound, "")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.TakeoverWait+10*time.Second)
	defer cancel()
	owner := c.user.String()
	deadline := time.Now().Add(c.srv.cfg.TakeoverWait)
	var rec storage.SMSession
	for {
		var err error
		rec, err = c.srv.store.SMSession(ctx, owner, prev)
		if err != nil {
			c.smFailed(stanza.ItemNotFound, "")
			return nil
		}
		if !c.srv.holderAlive(rec.Node, rec.Member) {
			break
		}
		if rec.Member == c.srv.cfg.Member || time.Now().After(deadline) {
			// Its holder runs and does not have it: it ended.
			c.smFailed(stanza.ItemNotFound, "")
			return nil
		}
		time.Sleep(250 * time.Millisecond)
		if c.srv.cfg.RemoteResume != nil {
			ho, err := c.srv.cfg.RemoteResume(prev, owner, h)
			if err == nil {
				return c.resumeFrom(ho, prev)
			}
			if se, ok := err.(*stanza.StreamError); ok {
				return se
			}
		}
	}
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
	sess, err := c.bindResumed(full)
	if err != nil {
		c.smFailed(stanza.ResourceConstraint, "")
		return nil
	}
	sess.SetCarbons(rec.Carbons)
	c.sess = sess
	c.bound.Store(sess)
	o := c.out
	o.mu.Lock()
	o.async = true
	o.sm.enabled, o.sm.id = true, prev
	o.sm.inH.Store(rec.Handled)
	o.sm.outH = h // the client's count; the old one died with its holder
	o.queueResumedLocked(prev)
	o.mu.Unlock()
	c.srv.addResumable(prev, c)
	c.makeDurable(prev)
	_ = c.nc.SetReadDeadline(time.Time{})

	from := rec.Created
	if t, ok := storage.ArchiveIDTime(rec.Acked); ok {
		from = t
	}
	msgs, err := c.srv.store.ArchiveSince(ctx, owner, storage.ArchiveIDFloor(from.Add(-replaySlack)), c.srv.cfg.SMMaxUnacked)
	if err != nil {
		c.srv.log.Error("c2s: could not read the archive to resume a session", "jid", full, "err", err)
	}
	replayed := c.srv.core.ReplayArchived(sess, msgs)
	if len(rec.Presence) > 0 {
		if pres, err := stanza.ParseBytes(rec.Presence); err == nil {
			// Its contacts saw it go when its node died: presence again,
			// as at login (which also probes theirs and hands over what
			// was stored offline meanwhile, taken first here so as not to
			// repeat what the archive just gave).
			c.srv.core.DeliverOfflineExcept(ctx, sess, replayed)
			c.presenceChanged()
			c.srv.core.Route(ctx, sess, pres)
		}
	}
	c.srv.cfg.Metrics.SMResumed.WithLabelValues("takeover").Inc()
	c.srv.log.Info("c2s: session resumed after its node was lost", "jid", full, "node", rec.Node, "replayed", len(replayed))
	return nil
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
