package c2s

import (
	"net"
	"sync"
	"time"

	"github.com/parley-im/parley/internal/stream"
	"github.com/parley-im/parley/stanza"
)

// bufPool lends write buffers to connections only while they have bytes to
// send, so an idle connection holds none (stream.Buffers, shared with the
// other listeners).
var bufPool = stream.Buffers

// output is a connection's write side: its byte plumbing is a
// stream.Queue (inline before the session is bound, then through a
// flusher goroutine that runs only while there is something to write),
// which keeps its state in the fields below so that stream management
// (sm.go) appends to the pending bytes and closes the output under the
// same lock as its own state.
//
// With stream management the output belongs to the session rather than
// to one connection: conn is the connection it writes to now, which a
// resumption replaces, and sm keeps what the client has not acknowledged.
type output struct {
	mu       sync.Mutex // guards everything below, and q
	conn     *conn      // the connection written to (replaced by a resumption)
	buf      *[]byte    // pending bytes, nil when empty (q's)
	async    bool       // bound: write through the flusher (q's)
	closed   bool       // no more stanzas accepted (q's)
	handover bool       // closed to move the client elsewhere (drain, shutdown)
	q        stream.Queue
	// holding: a session being taken over collects what is delivered to
	// it in held until all of it is in (durable.go, releaseHeldLocked).
	holding bool
	held    [][]byte
	sm      smState
	csi     csiState // XEP-0352, with its own lock (csi.go)
}

func newOutput(c *conn) *output {
	o := &output{conn: c}
	o.q.Init(o, &c.srv.qcfg, &stream.Shared{Mu: &o.mu, Pending: &o.buf, Closed: &o.closed, Async: &o.async})
	return o
}

// queued switches to asynchronous writing once the session is bound.
func (o *output) queued() {
	o.mu.Lock()
	o.async = true
	o.mu.Unlock()
}

// send queues el; it reports false when the stream is closing and el
// was not taken.
func (o *output) send(el *stanza.Element) bool {
	if el == nil {
		return true
	}
	return o.queue(func(b []byte) []byte { return el.AppendXML(b, stanza.NSClient) })
}

// sendBytes queues a stanza already serialized for the client; false when
// the stream is closing.
func (o *output) sendBytes(x []byte) bool {
	return o.queue(func(b []byte) []byte { return append(b, x...) })
}

// queue appends a stanza's bytes under the queue limit. It reports false
// when the stream is closing: the stanza will not be written. This is
// where stream management keeps a copy of each stanza and counts it.
func (o *output) queue(appendTo func([]byte) []byte) bool {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false
	}
	if o.holding {
		o.held = append(o.held, appendTo(nil))
		o.mu.Unlock()
		return true
	}
	if o.sm.enabled {
		if !o.smQueueLocked(appendTo) {
			o.mu.Unlock()
			o.conn.Close(stanza.NewStreamError(stanza.StreamPolicyViolation, "too many stanzas not acknowledged"))
			return true // kept for rerouting when the session ends
		}
		if o.sm.detached {
			c, b := o.conn, o.sm.unacked[len(o.sm.unacked)-1]
			o.mu.Unlock()
			c.queuedDetached(b)
			return true // kept for the resumption
		}
		o.kickLocked()
		o.mu.Unlock()
		return true
	}
	o.appendLocked(appendTo)
	if o.q.OverLimitLocked() {
		// A client that does not read is dropped rather than allowed to
		// hold memory without bound.
		o.mu.Unlock()
		o.Overflowed()
		o.abort()
		return true
	}
	o.kickLocked()
	o.mu.Unlock()
	return true
}

// sendRaw queues raw bytes (stream headers and features).
func (o *output) sendRaw(b []byte) {
	o.mu.Lock()
	if !o.closed {
		o.appendLocked(func(buf []byte) []byte { return append(buf, b...) })
		o.kickLocked()
	}
	o.mu.Unlock()
}

func (o *output) appendLocked(f func([]byte) []byte) { o.q.AppendLocked(f) }

// kickLocked writes inline before binding, or makes sure a flusher runs.
func (o *output) kickLocked() {
	if !o.async && o.buf == nil {
		return // inline with nothing to write
	}
	o.q.KickLocked()
}

// ConnLocked, DrainedLocked, HoldLocked, WriteFailed and Overflowed make
// the output its queue's stream.Peer.

func (o *output) ConnLocked() net.Conn { return o.conn.nc }

// DrainedLocked asks for an ack when the queue was written out with
// stanzas unacknowledged (sm.go).
func (o *output) DrainedLocked() {
	if o.smRequestLocked() {
		o.appendLocked(func(b []byte) []byte { return append(b, smRequest...) })
	}
}

// HoldLocked: a detached session writes nothing; what it queues is kept
// in unacked for the resumption.
func (o *output) HoldLocked() bool { return o.sm.detached }

// WriteFailed handles a failed write to nc: the connection is gone. With
// resumption enabled the session waits for the client to come back (the
// reader notices the broken connection and detaches), and after a
// resumption a write to the old connection failing is nothing to act on;
// otherwise everything queued is dropped.
func (o *output) WriteFailed(nc net.Conn) {
	o.mu.Lock()
	stale := o.conn.nc != nc // a resumption already moved the session on
	resumable := o.sm.id != ""
	o.mu.Unlock()
	if stale || resumable {
		_ = nc.Close() // the reader sees the error (and detaches)
		return
	}
	o.abort()
}

// Overflowed says why a client is dropped (the queue limit).
func (o *output) Overflowed() {
	o.mu.Lock()
	c := o.conn
	o.mu.Unlock()
	c.srv.log.Warn("c2s: client not reading, closing", "jid", c.user, "queued", c.srv.cfg.MaxQueue)
}

// close queues the stream error (if any) and the closing tag, then lets the
// reader end: the client has two seconds to close its side.
func (o *output) close(err *stanza.StreamError) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.handover = err == nil || err.Condition == stanza.SystemShutdown || err.Condition == stanza.SeeOtherHost
	o.q.CloseLocked(err)
}

// abort drops whatever is queued and closes the connection at once.
func (o *output) abort() { o.q.Abort() }

// waitClosed waits until the closing bytes were written, or d passed.
func (o *output) waitClosed(d time.Duration) { o.q.WaitClosed(d) }

// handingOver reports whether the stream is closing to move the client
// elsewhere, rather than because the session was replaced or failed.
func (o *output) handingOver() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed && o.handover
}

// isClosed reports whether the stream is closing.
func (o *output) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// queuedDetached tells Config.QueuedDetached about a stanza kept for a
// session whose connection is gone (b is its copy in unacked).
func (c *conn) queuedDetached(b []byte) {
	if fn := c.srv.cfg.QueuedDetached; fn != nil {
		if s := c.bound.Load(); s != nil {
			fn(s.JID(), b)
		}
	}
}
