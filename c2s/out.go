package c2s

import (
	"net"
	"sync"
	"time"

	"github.com/parley-im/parley/stanza"
)

// bufPool lends write buffers to connections only while they have bytes to
// send, so an idle connection holds none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// output is a connection's write side. Before the session is bound it
// writes inline on the reading goroutine (negotiation is strictly
// request/response, and STARTTLS needs <proceed/> on the wire before the
// handshake). After binding, stanzas from any goroutine are appended to a
// buffer that a flusher goroutine, started only while there is something to
// write, sends: writers never wait for the network, and bursts coalesce into
// few syscalls.
//
// With stream management (sm.go) the output belongs to the session rather
// than to one connection: conn is the connection it writes to now, which a
// resumption replaces, and sm keeps what the client has not acknowledged.
type output struct {
	mu       sync.Mutex // guards everything below
	conn     *conn      // the connection written to (replaced by a resumption)
	buf      *[]byte    // pending bytes, nil when empty
	async    bool       // bound: write through the flusher
	flushing bool       // a flusher goroutine is running
	closed   bool       // no more stanzas accepted
	handover bool       // closed to move the client elsewhere (drain, shutdown)
	done     chan struct{}
	// holding: a session being taken over collects what is delivered to
	// it in held until all of it is in (durable.go, releaseHeldLocked).
	holding bool
	held    [][]byte
	sm      smState
	csi     csiState // XEP-0352, with its own lock (csi.go)
}

func (o *output) init() {
	if o.done == nil {
		o.done = make(chan struct{})
	}
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
// when the stream is closing: the stanza will not be written.
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
	if len(*o.buf) > o.conn.srv.cfg.MaxQueue {
		// A client that does not read is dropped rather than allowed to
		// hold memory without bound.
		c := o.conn
		o.mu.Unlock()
		c.srv.log.Warn("c2s: client not reading, closing", "jid", c.user, "queued", c.srv.cfg.MaxQueue)
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

func (o *output) appendLocked(f func([]byte) []byte) {
	if o.buf == nil {
		o.buf = bufPool.Get().(*[]byte)
	}
	*o.buf = f(*o.buf)
}

// kickLocked writes inline before binding, or makes sure a flusher runs.
func (o *output) kickLocked() {
	if !o.async {
		o.writeLocked()
		return
	}
	if !o.flushing {
		o.flushing = true
		go o.flush()
	}
}

// writeLocked writes the pending bytes while holding mu (inline mode only).
func (o *output) writeLocked() {
	if o.buf == nil {
		return
	}
	b := o.buf
	o.buf = nil
	nc := o.conn.nc
	_ = nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := nc.Write(*b)
	*b = (*b)[:0]
	bufPool.Put(b)
	if err != nil {
		o.closed = true
		_ = nc.Close()
	}
}

// flush is the flusher goroutine: it writes until nothing is pending.
func (o *output) flush() {
	for {
		o.mu.Lock()
		if o.buf == nil && o.smRequestLocked() {
			// Drained with stanzas unacknowledged: ask for an ack (sm.go).
			o.appendLocked(func(b []byte) []byte { return append(b, smRequest...) })
		}
		b := o.buf
		o.buf = nil
		if b == nil || o.sm.detached {
			if b != nil {
				*b = (*b)[:0]
				bufPool.Put(b)
			}
			o.flushing = false
			closed := o.closed
			o.mu.Unlock()
			if closed {
				o.finishClose()
			}
			return
		}
		nc := o.conn.nc
		o.mu.Unlock()
		_ = nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := nc.Write(*b)
		*b = (*b)[:0]
		bufPool.Put(b)
		if err != nil {
			o.writeFailed(nc)
		}
	}
}

// writeFailed handles a failed write to nc: the connection is gone. With
// resumption enabled the session waits for the client to come back (the
// reader notices the broken connection and detaches), and after a
// resumption a write to the old connection failing is nothing to act on;
// otherwise everything queued is dropped.
func (o *output) writeFailed(nc net.Conn) {
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

// close queues the stream error (if any) and the closing tag, then lets the
// reader end: the client has two seconds to close its side.
func (o *output) close(err *stanza.StreamError) {
	o.mu.Lock()
	o.init()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.handover = err == nil || err.Condition == stanza.SystemShutdown || err.Condition == stanza.SeeOtherHost
	o.appendLocked(func(b []byte) []byte {
		if err != nil {
			b = err.Element().AppendXML(b, stanza.NSClient)
		}
		return append(b, "</stream:stream>"...)
	})
	o.closed = true
	if o.async {
		if !o.flushing {
			o.flushing = true
			go o.flush()
		}
		o.mu.Unlock()
		return
	}
	o.writeLocked()
	o.mu.Unlock()
	o.finishClose()
}

// finishClose runs once everything queued before close was written.
func (o *output) finishClose() {
	o.mu.Lock()
	o.init()
	select {
	case <-o.done:
	default:
		close(o.done)
	}
	nc := o.conn.nc
	o.mu.Unlock()
	_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
}

// abort drops whatever is queued and closes the connection at once.
func (o *output) abort() {
	o.mu.Lock()
	o.init()
	o.closed = true
	if o.buf != nil {
		*o.buf = (*o.buf)[:0]
		bufPool.Put(o.buf)
		o.buf = nil
	}
	select {
	case <-o.done:
	default:
		close(o.done)
	}
	nc := o.conn.nc
	o.mu.Unlock()
	_ = nc.Close()
}

// waitClosed waits until the closing bytes were written, or d passed.
func (o *output) waitClosed(d time.Duration) {
	o.mu.Lock()
	o.init()
	done := o.done
	o.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

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
