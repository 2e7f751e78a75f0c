package c2s

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// Stream management (XEP-0198): acknowledgements in both directions and
// resumption of a session whose connection broke.
//
// What the client sends is acknowledged (<a h/>) only once it has been
// handled: routed to a live session's queue or committed to storage —
// routing runs on the reading goroutine and offline storage commits before
// it returns, so counting after Route is enough. What the server sends is
// kept (as the bytes written) until the client acknowledges it; if the
// connection breaks, the session stays bound for the resumption window and
// keeps collecting stanzas, and a client that resumes gets every one it has
// not acknowledged again. A session that is not resumed in time, or ends,
// hands what the client never acknowledged back to the core, which routes
// messages to the user's other resources or offline storage.

const nsSM = "urn:xmpp:sm:3"

// smRequest asks the client for an ack.
const smRequest = "<r xmlns='urn:xmpp:sm:3'/>"

// smState is the stream management state of a session, in its output
// (guarded by output.mu, except inH).
type smState struct {
	enabled bool
	id      string // resumption id, "" when the session cannot be resumed
	// inH counts the stanzas handled from the client. The reading
	// goroutine adds to it; a resumption reads it.
	inH       atomic.Uint32
	outH      uint32   // stanzas queued for the client
	unacked   [][]byte // the last len(unacked) of them, not acknowledged
	requested bool     // an <r/> is outstanding
	detached  bool     // the connection broke; waiting for a resumption
	over      bool     // resumed elsewhere, expired or ended: no longer resumable
	timer     *time.Timer

	// Durable sessions (durable.go): recorded in storage; needle finds
	// this account's stanza-ids in queued bytes; acked is the newest
	// archived message acknowledged; presence, that it changed. Both are
	// written by the markFlusher.
	durable  bool
	needle   []byte
	acked    string
	presence bool
}

// smQueueLocked appends a stanza for the client, keeps a copy until it is
// acknowledged and counts it. It reports false when the client has left
// more unacknowledged than Config.SMMaxUnacked. Detached, nothing is
// written.
func (o *output) smQueueLocked(appendTo func([]byte) []byte) bool {
	var entry []byte
	if o.sm.detached {
		entry = appendTo(nil)
	} else {
		if o.buf == nil {
			o.buf = bufPool.Get().(*[]byte)
		}
		start := len(*o.buf)
		*o.buf = appendTo(*o.buf)
		entry = bytes.Clone((*o.buf)[start:])
	}
	o.sm.unacked = append(o.sm.unacked, entry)
	o.sm.outH++
	return len(o.sm.unacked) <= o.conn.srv.cfg.SMMaxUnacked
}

// smRequestLocked reports whether to ask for an ack now: the queue was
// written out with stanzas still unacknowledged and no request pending.
func (o *output) smRequestLocked() bool {
	if !o.sm.enabled || o.sm.detached || o.sm.requested || len(o.sm.unacked) == 0 || o.closed {
		return false
	}
	o.sm.requested = true
	return true
}

// smAck applies the client's count of handled stanzas (from <a/> or
// <resume/>). It returns a stream error when h is more than was sent.
func (o *output) smAckLocked(h uint32) *stanza.StreamError {
	acked := o.sm.outH - uint32(len(o.sm.unacked))
	n := h - acked // serial arithmetic: h wraps at 2^32
	if n > uint32(len(o.sm.unacked)) {
		e := stanza.NewStreamError(stanza.StreamUndefined, "you acknowledged "+strconv.FormatUint(uint64(h), 10)+" stanzas, but only "+strconv.FormatUint(uint64(o.sm.outH), 10)+" were sent")
		e.App = stanza.New("handled-count-too-high", nsSM, "h", strconv.FormatUint(uint64(h), 10), "send-count", strconv.FormatUint(uint64(o.sm.outH), 10))
		return e
	}
	o.smAckedLocked(n)
	clear(o.sm.unacked[:n])
	o.sm.unacked = o.sm.unacked[n:]
	if len(o.sm.unacked) == 0 {
		o.sm.unacked = nil
	}
	o.sm.requested = false
	return nil
}

// onSM handles a stream management element from an authenticated client.
func (c *conn) onSM(el *stanza.Element) error {
	switch el.Name {
	case "enable":
		return c.smEnable(el)
	case "r":
		if !c.smEnabled() {
			return nil
		}
		c.out.sendRaw([]byte("<a xmlns='urn:xmpp:sm:3' h='" + strconv.FormatUint(uint64(c.out.sm.inH.Load()), 10) + "'/>"))
	case "a":
		h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
		if err != nil {
			return stanza.NewStreamError(stanza.BadFormat, "<a/> needs a numeric 'h'")
		}
		c.out.mu.Lock()
		if !c.out.sm.enabled {
			c.out.mu.Unlock()
			return nil
		}
		serr := c.out.smAckLocked(uint32(h))
		c.out.mu.Unlock()
		if serr != nil {
			return serr
		}
	case "resume":
		return c.smResume(el)
	default:
		return stanza.NewStreamError(stanza.UnsupportedStanzaType, "unsupported element <"+el.Name+"/> in "+nsSM)
	}
	return nil
}

func (c *conn) smEnabled() bool {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return c.out.sm.enabled
}

// smFailed sends <failed/> with a stanza error condition.
func (c *conn) smFailed(cond stanza.Condition, h string) {
	f := stanza.New("failed", nsSM)
	if h != "" {
		f.SetAttr("h", h)
	}
	f.Append(stanza.New(string(cond), stanza.NSStanzas))
	c.out.sendRaw(f.AppendXML(nil, stanza.NSClient))
}

func (c *conn) smEnable(el *stanza.Element) error {
	if c.sess == nil || c.smEnabled() || !c.srv.cfg.SM {
		// Before binding, twice, or switched off (XEP-0198 §3).
		cond := stanza.UnexpectedRequest
		if !c.srv.cfg.SM {
			cond = stanza.FeatureNotImplemented
		}
		c.smFailed(cond, "")
		return nil
	}
	resume := el.Attr("resume") == "true" || el.Attr("resume") == "1"
	enabled := stanza.New("enabled", nsSM)
	id := ""
	if resume && c.srv.cfg.SMResumeTimeout > 0 {
		var b [18]byte
		_, _ = rand.Read(b[:])
		id = base64.RawURLEncoding.EncodeToString(b[:])
		enabled.SetAttr("id", id).SetAttr("resume", "true").
			SetAttr("max", strconv.Itoa(int(c.srv.cfg.SMResumeTimeout/time.Second)))
		loc := c.srv.cfg.SMLocation
		if c.directTLS {
			loc = c.srv.cfg.SMTLSLocation
		}
		if loc != "" && !c.web {
			// Behind a load balancer the client could land on another
			// node, where this session cannot be resumed (yet).
			enabled.SetAttr("location", loc)
		}
		c.srv.addResumable(id, c)
		c.smPersist(id)
	}
	o := c.out
	o.mu.Lock()
	o.sm.enabled, o.sm.id = true, id
	// Written before any stanza counted from now on.
	o.appendLocked(func(b []byte) []byte { return enabled.AppendXML(b, stanza.NSClient) })
	o.kickLocked()
	o.mu.Unlock()
	return nil
}

// smCount counts a stanza the client sent, once it has been handled.
func (c *conn) smCount() {
	if c.out.sm.enabled { // set once by this goroutine's smEnable
		c.out.sm.inH.Add(1)
	}
}

// detach keeps a resumable session bound after its connection broke; it
// reports whether it did. The session ends if the client does not resume
// within the resumption window.
func (c *conn) detach() bool {
	o := c.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sm.detached {
		return o.conn == c // already (a drain dropped the connection)
	}
	if o.sm.id == "" || o.sm.over || o.closed || o.conn != c {
		return false
	}
	o.sm.detached = true
	o.sm.requested = false
	if o.buf != nil {
		// Queued but not written: kept in unacked, written on resumption.
		*o.buf = (*o.buf)[:0]
		bufPool.Put(o.buf)
		o.buf = nil
	}
	o.sm.timer = time.AfterFunc(c.srv.cfg.SMResumeTimeout, c.expire)
	if o.sm.durable {
		c.srv.marks.watch(o)
	}
	c.srv.cfg.Metrics.SMDetached.Inc()
	c.srv.log.Debug("c2s: connection lost; session kept for resumption", "jid", c.sess.JID(), "unacked", len(o.sm.unacked))
	return true
}

// expire ends a detached session nobody resumed.
func (c *conn) expire() {
	o := c.out
	o.mu.Lock()
	if !o.sm.detached || o.sm.over {
		o.mu.Unlock()
		return
	}
	o.sm.over = true
	o.closed = true
	o.mu.Unlock()
	c.srv.cfg.Metrics.SMExpired.Inc()
	c.srv.log.Debug("c2s: resumption window over; session ended", "jid", c.sess.JID())
	c.leave()
	c.rerouteUnacked()
}

// smTakeUnacked ends resumability and returns what the client never
// acknowledged, for rerouting when the session ends.
func (o *output) smTakeUnacked() [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sm.over = true
	if o.sm.timer != nil {
		o.sm.timer.Stop()
	}
	u := o.sm.unacked
	o.sm.unacked = nil
	return u
}

// rerouteUnacked hands what the client never acknowledged back to the
// core once the session has ended (im.Server.Undeliverable: messages to
// the user's other resources or offline storage). The client may have
// received some of them before its connection broke: it gets those again
// (at least once, never none).
func (c *conn) rerouteUnacked() {
	for _, b := range c.out.smTakeUnacked() {
		el, err := stanza.ParseBytes(b)
		if err != nil {
			c.srv.log.Warn("c2s: unreadable unacknowledged stanza", "jid", c.user, "err", err)
			continue
		}
		c.undeliverable(el)
	}
}

// smResume takes over a detached (or still attached) session: XEP-0198 §5.
func (c *conn) smResume(el *stanza.Element) error {
	if c.sess != nil {
		c.smFailed(stanza.UnexpectedRequest, "")
		return nil
	}
	h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
	if err != nil {
		return stanza.NewStreamError(stanza.BadFormat, "<resume/> needs a numeric 'h'")
	}
	prev := el.Attr("previd")
	old := c.srv.resumable(prev)
	if old == nil {
		return c.resumeElsewhere(prev, uint32(h))
	}
	if old.user != c.user {
		c.smFailed(stanza.ItemNotFound, "")
		return nil
	}
	o := old.out
	o.mu.Lock()
	if o.sm.over || o.closed {
		o.mu.Unlock()
		c.smFailed(stanza.ItemNotFound, "")
		return nil
	}
	if serr := o.smAckLocked(uint32(h)); serr != nil {
		o.mu.Unlock()
		return serr
	}
	var oldNC net.Conn
	prevConn := o.conn
	if !o.sm.detached {
		// The client came back before the server noticed the old
		// connection broke: that one is closed with <conflict/>.
		oldNC = prevConn.nc
		prevConn.resumedAway.Store(true)
	}
	if o.sm.timer != nil {
		o.sm.timer.Stop()
	}
	o.sm.detached = false
	o.conn = c
	o.queueResumedLocked(prev)
	resent := len(o.sm.unacked)
	c.durableSM = o.sm.durable
	o.mu.Unlock()
	if oldNC != nil {
		closeWithConflict(oldNC)
	}
	// This connection carries the session from now on.
	c.out = o
	c.sess = old.sess
	c.bound.Store(old.sess)
	_ = c.nc.SetReadDeadline(time.Time{})
	c.srv.cfg.Metrics.SMResumed.WithLabelValues("local").Inc()
	c.srv.log.Debug("c2s: session resumed", "jid", c.sess.JID(), "resent", resent)
	return nil
}

// detached reports whether this connection's session waits for a
// resumption.
func (c *conn) detached() bool {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return c.out.sm.detached && c.out.conn == c
}

// Handover is a resumable session moving from the node that holds it to
// the node where its client came back (cluster resumption). It travels as
// JSON between nodes.
type Handover struct {
	JID       string           `json:"jid"`
	ID        string           `json:"id"`
	InH       uint32           `json:"in_h"`
	OutH      uint32           `json:"out_h"`
	Unacked   [][]byte         `json:"unacked,omitempty"`
	Available bool             `json:"available,omitempty"`
	Priority  int              `json:"priority,omitempty"`
	Presence  []byte           `json:"presence,omitempty"`
	Interests router.Interests `json:"interests,omitempty"`
	Carbons   bool             `json:"carbons,omitempty"`
}

// ErrNotHere: no resumable session with that id on this node.
var ErrNotHere = errors.New("c2s: no such resumable session here")

// HandOver gives up a resumable session of user to another node whose
// client asked to resume it there: the client's h is applied, the session
// leaves this node without its contacts hearing of it (it goes on over
// there), and its state is returned. A still-open connection gets
// <conflict/>.
func (s *Server) HandOver(id, user string, h uint32) (*Handover, error) {
	c := s.resumable(id)
	if c == nil || c.user.String() != user {
		return nil, ErrNotHere
	}
	o := c.out
	o.mu.Lock()
	if o.sm.over || o.closed {
		o.mu.Unlock()
		return nil, ErrNotHere
	}
	if serr := o.smAckLocked(h); serr != nil {
		o.mu.Unlock()
		return nil, serr
	}
	owner := o.conn
	var oldNC net.Conn
	if !o.sm.detached {
		oldNC = owner.nc
		owner.resumedAway.Store(true)
	}
	if o.sm.timer != nil {
		o.sm.timer.Stop()
	}
	o.sm.over, o.closed = true, true
	sess := c.bound.Load()
	ho := &Handover{JID: sess.JID().String(), ID: id, InH: o.sm.inH.Load(), OutH: o.sm.outH, Unacked: o.sm.unacked}
	o.sm.unacked = nil
	o.mu.Unlock()
	if oldNC != nil {
		closeWithConflict(oldNC)
	}
	avail, prio, pres, _ := sess.State()
	ho.Available, ho.Priority, ho.Interests, ho.Carbons = avail, prio, sess.Interests(), sess.Carbons()
	if pres != nil {
		ho.Presence = pres.AppendXML(nil, stanza.NSClient)
	}
	// Leave the router without ending the session: no unavailable
	// presence, no end hooks. What is routed here from now on takes the
	// usual way to wherever the session is next.
	owner.relMu.Lock()
	owner.left = true
	owner.relMu.Unlock()
	c.relMu.Lock()
	c.left = true
	c.relMu.Unlock()
	s.core.Router().Unbind(sess)
	s.forgetResumable(id)
	s.log.Debug("c2s: session handed over to another node", "jid", ho.JID, "unacked", len(ho.Unacked))
	return ho, nil
}

// closeWithConflict ends a connection whose session was resumed elsewhere.
func closeWithConflict(nc net.Conn) {
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write(stanza.NewStreamError(stanza.StreamConflict, "the session was resumed on another connection").Element().AppendXML(nil, stanza.NSClient))
	_, _ = nc.Write([]byte("</stream:stream>"))
	_ = nc.Close()
}

// resumeFrom continues on this connection a session handed over by the
// node that held it.
func (c *conn) resumeFrom(ho *Handover, prev string) error {
	full, err := jid.Parse(ho.JID)
	if err != nil || full.Bare() != c.user {
		c.smFailed(stanza.ItemNotFound, "")
		return nil
	}
	sess, err := c.bindResumed(full)
	if err != nil {
		c.smFailed(stanza.ResourceConstraint, "")
		return nil
	}
	sess.AddInterests(ho.Interests)
	sess.SetCarbons(ho.Carbons)
	if ho.Available {
		var pres *stanza.Element
		if len(ho.Presence) > 0 {
			pres, _ = stanza.ParseBytes(ho.Presence)
		}
		if pres == nil {
			pres = stanza.New("presence", stanza.NSClient)
		}
		sess.SetPresence(pres, true, ho.Priority)
	}
	c.sess = sess
	c.bound.Store(sess)
	o := c.out
	o.mu.Lock()
	o.async = true
	o.sm.enabled, o.sm.id = true, ho.ID
	o.sm.inH.Store(ho.InH)
	o.sm.outH = ho.OutH
	o.sm.unacked = ho.Unacked
	o.queueResumedLocked(prev)
	o.mu.Unlock()
	c.srv.addResumable(ho.ID, c)
	if c.srv.durable() {
		// The record follows the session here.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		moved, err := c.srv.store.ClaimSMSession(ctx, c.user.String(), ho.ID, "", c.srv.cfg.Node, c.srv.cfg.Member)
		cancel()
		if err != nil {
			c.srv.log.Warn("c2s: could not move a resumed session's record here", "jid", full, "err", err)
		}
		if moved {
			c.makeDurable(ho.ID)
		}
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	// Stanzas stored offline while the session moved (routed to neither
	// node in the instant between) are handed to it now.
	c.srv.core.DeliverPendingOffline(context.Background(), full.Bare())
	c.srv.cfg.Metrics.SMResumed.WithLabelValues("remote").Inc()
	c.srv.log.Debug("c2s: session resumed from another node", "jid", full, "resent", len(ho.Unacked))
	return nil
}

// dropForResume, for a drain: a session that can be resumed is detached
// and its connection closed without a word, as if the network had
// dropped, so that its client comes back and resumes — on another node,
// through the balancer. It reports false (nothing done) for other
// sessions.
func (c *conn) dropForResume() bool {
	o := c.out
	o.mu.Lock()
	resumable := o.sm.id != "" && !o.sm.over && !o.sm.detached && !o.closed && o.conn == c
	o.mu.Unlock()
	if !resumable || !c.detach() {
		return false
	}
	_ = c.nc.Close() // the reader ends; finish sees the session detached
	return true
}

// queueResumedLocked answers a resumption: <resumed/> with the count of the
// client's stanzas handled, then every stanza the client has not
// acknowledged, written again (XEP-0198 §5). prev is the session's id
// (ours, so it needs no escaping).
func (o *output) queueResumedLocked(prev string) {
	o.appendLocked(func(b []byte) []byte {
		b = append(b, "<resumed xmlns='urn:xmpp:sm:3' h='"...)
		b = strconv.AppendUint(b, uint64(o.sm.inH.Load()), 10)
		b = append(b, "' previd='"...)
		b = append(b, prev...)
		b = append(b, "'/>"...)
		for _, st := range o.sm.unacked {
			b = append(b, st...)
		}
		return b
	})
	o.sm.requested = false
	o.kickLocked()
}
