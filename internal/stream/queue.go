package stream

import (
	"net"
	"sync"
	"time"

	"github.com/parley-im/parley/stanza"
)

// Buffers lends write buffers (*[]byte) to queues only while they have
// bytes pending, so an idle connection holds none.
var Buffers = &sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Timeouts of the write side.
const (
	WriteTimeout = 30 * time.Second // one write to the connection
	CloseGrace   = 2 * time.Second  // for the peer to close its side after our closing tag
)

// QueueConfig is what every queue of one listener shares.
type QueueConfig struct {
	NS  string // the stream's content namespace, for stream errors
	Max int    // bytes pending beyond which Send cuts the peer off; 0: no limit
}

// Peer is the stream a Queue writes for. The Locked methods are called
// with the queue's lock held.
type Peer interface {
	// ConnLocked returns the connection to write to now (c2s replaces it
	// after STARTTLS and on a resumption).
	ConnLocked() net.Conn
	// DrainedLocked is called when everything pending is written, before
	// the flusher stops; what it appends is written too (c2s's stream
	// management asks for an ack there).
	DrainedLocked()
	// HoldLocked reports that nothing is to be written now: the flusher
	// drops what is pending and stops (c2s: the connection broke and the
	// session waits for its client to resume it).
	HoldLocked() bool
	// WriteFailed is told that a write to nc failed; the flusher stops
	// writing only if it aborts the queue (or holds it).
	WriteFailed(nc net.Conn)
	// Overflowed is told, before the queue is aborted, that the peer let
	// more than the limit queue up.
	Overflowed()
}

// NoHooks gives a Peer without stream management its DrainedLocked and
// HoldLocked.
type NoHooks struct{}

func (NoHooks) DrainedLocked()   {}
func (NoHooks) HoldLocked() bool { return false }

// Shared names the fields where a Queue keeps the state its owner's code
// also reads and changes while holding Mu (c2s's stream management appends
// to the pending bytes, and closes the queue, under the lock of its own
// state). An owner without such code passes nil to Init and the queue keeps
// them itself.
type Shared struct {
	Mu      *sync.Mutex
	Pending **[]byte // a buffer from Buffers, nil when nothing is pending
	Closed  *bool    // nothing more is taken
	Async   *bool    // writes go through the flusher; until then they are inline
}

type own struct {
	mu      sync.Mutex
	pending *[]byte
	closed  bool
	async   bool
}

// Queue is a stream's write side. Inline (until its owner switches it to
// asynchronous, c2s at binding: negotiation is strictly request/response,
// and STARTTLS needs <proceed/> on the wire before the handshake) bytes are
// written on the queuing goroutine. Asynchronous, they are appended to a
// buffer borrowed from Buffers that a flusher goroutine, started only
// while there is something to write, sends: writers never wait for the
// network, bursts coalesce into few syscalls, and an idle connection holds
// neither a buffer nor a second goroutine.
type Queue struct {
	mu       *sync.Mutex
	pending  **[]byte
	closed   *bool
	async    *bool
	flushing bool          // a flusher goroutine runs
	done     chan struct{} // closed once the closing bytes are written or the queue aborted; made when first needed
	peer     Peer
	cfg      *QueueConfig
}

// Init readies q to write for p; sh (nil: the queue's own) is where its
// state lives.
func (q *Queue) Init(p Peer, cfg *QueueConfig, sh *Shared) {
	if sh == nil {
		o := new(own)
		sh = &Shared{Mu: &o.mu, Pending: &o.pending, Closed: &o.closed, Async: &o.async}
	}
	q.mu, q.pending, q.closed, q.async = sh.Mu, sh.Pending, sh.Closed, sh.Async
	q.peer, q.cfg = p, cfg
}

// Lock and Unlock take the queue's lock, for the Locked methods.
func (q *Queue) Lock()   { q.mu.Lock() }
func (q *Queue) Unlock() { q.mu.Unlock() }

// Async switches to writing through the flusher.
func (q *Queue) Async() {
	q.mu.Lock()
	*q.async = true
	q.mu.Unlock()
}

// Send queues the bytes appendTo appends, and reports false when the
// stream is closing and they were not taken. A peer that lets more than
// the limit pile up is cut off (Peer.Overflowed, then Abort).
func (q *Queue) Send(appendTo func([]byte) []byte) bool {
	q.mu.Lock()
	if *q.closed {
		q.mu.Unlock()
		return false
	}
	q.AppendLocked(appendTo)
	if q.OverLimitLocked() {
		q.mu.Unlock()
		q.peer.Overflowed()
		q.Abort()
		return true
	}
	q.KickLocked()
	q.mu.Unlock()
	return true
}

// AppendLocked appends to the pending bytes (without writing them: see
// KickLocked), borrowing a buffer if there were none.
func (q *Queue) AppendLocked(appendTo func([]byte) []byte) {
	if *q.pending == nil {
		*q.pending = Buffers.Get().(*[]byte)
	}
	b := *q.pending
	*b = appendTo(*b)
}

// OverLimitLocked reports whether more is pending than the limit allows.
func (q *Queue) OverLimitLocked() bool {
	return q.cfg.Max > 0 && *q.pending != nil && len(**q.pending) > q.cfg.Max
}

// ClosedLocked reports whether the stream is closing.
func (q *Queue) ClosedLocked() bool { return *q.closed }

// Closed reports whether the stream is closing.
func (q *Queue) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return *q.closed
}

// KickLocked writes what is pending at once when inline, or makes sure a
// flusher runs.
func (q *Queue) KickLocked() {
	if !*q.async {
		q.writeLocked()
		return
	}
	if !q.flushing {
		q.flushing = true
		go q.flush()
	}
}

// writeLocked writes the pending bytes while holding the lock (inline
// only). A failed write closes the stream: there is nobody to tell.
func (q *Queue) writeLocked() {
	b := *q.pending
	if b == nil {
		return
	}
	*q.pending = nil
	nc := q.peer.ConnLocked()
	_ = nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	_, err := nc.Write(*b)
	putBuffer(b)
	if err != nil {
		*q.closed = true
		_ = nc.Close()
	}
}

func putBuffer(b *[]byte) {
	*b = (*b)[:0]
	Buffers.Put(b)
}

// flush is the flusher goroutine: it writes until nothing is pending.
func (q *Queue) flush() {
	for {
		q.mu.Lock()
		if *q.pending == nil {
			q.peer.DrainedLocked()
		}
		b := *q.pending
		*q.pending = nil
		if b == nil || q.peer.HoldLocked() {
			if b != nil {
				putBuffer(b)
			}
			q.flushing = false
			if *q.closed {
				q.finishCloseLocked()
			}
			q.mu.Unlock()
			return
		}
		nc := q.peer.ConnLocked()
		q.mu.Unlock()
		_ = nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
		_, err := nc.Write(*b)
		putBuffer(b)
		if err != nil {
			q.peer.WriteFailed(nc)
		}
	}
}

// Close queues the stream error (if any, in the stream's namespace) and
// the closing tag; once they are written the peer has CloseGrace to close
// its side. It reports false when the stream was closing already.
func (q *Queue) Close(err *stanza.StreamError) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if *q.closed {
		return false
	}
	q.CloseLocked(err)
	return true
}

// CloseLocked is Close for an owner that checked ClosedLocked and queued
// what goes before the error (a stream header, when none was sent) under
// the same lock.
func (q *Queue) CloseLocked(err *stanza.StreamError) {
	q.AppendLocked(func(b []byte) []byte {
		if err != nil {
			b = err.Element().AppendXML(b, q.cfg.NS)
		}
		return append(b, stanza.StreamEnd...)
	})
	*q.closed = true
	if !*q.async {
		q.writeLocked()
		q.finishCloseLocked()
		return
	}
	q.KickLocked()
}

// finishCloseLocked runs once everything queued before the closing tag is
// written.
func (q *Queue) finishCloseLocked() {
	q.doneLocked()
	_ = q.peer.ConnLocked().SetReadDeadline(time.Now().Add(CloseGrace))
}

// doneLocked closes done, once.
func (q *Queue) doneLocked() {
	if q.done == nil {
		q.done = make(chan struct{})
	}
	select {
	case <-q.done:
	default:
		close(q.done)
	}
}

// Abort drops whatever is pending and closes the connection at once.
func (q *Queue) Abort() {
	q.mu.Lock()
	*q.closed = true
	if b := *q.pending; b != nil {
		putBuffer(b)
		*q.pending = nil
	}
	q.doneLocked()
	nc := q.peer.ConnLocked()
	q.mu.Unlock()
	_ = nc.Close()
}

// WaitClosed waits until the closing bytes were written (or the queue
// aborted), or d passed.
func (q *Queue) WaitClosed(d time.Duration) {
	q.mu.Lock()
	if q.done == nil {
		q.done = make(chan struct{})
	}
	done := q.done
	q.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
