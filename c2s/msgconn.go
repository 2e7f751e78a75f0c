package c2s

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/parley-im/parley/stanza"
)

// msgConn is a message-oriented transport (WebSocket, BOSH) seen by the
// c2s code as a net.Conn. What the stream writes is split into whole
// elements (framing.go) and handed to send. What the client sends comes
// either as stream bytes in TCP framing, put on in for Read (WebSocket),
// or as elements the transport parsed already, put on els for the
// stream's read loop (BOSH: a <body/>'s children, see conn.next).
type msgConn struct {
	remote net.Addr
	send   func(ctx context.Context, msgs [][]byte) error
	// closeFn closes the transport, once.
	closeFn   func()
	closeOnce sync.Once

	in      chan []byte   // stream bytes from the client
	els     chan []item   // or its elements, parsed (nil unless BOSH)
	done    chan struct{} // closed when input ends
	endOnce sync.Once
	inErr   error  // why input ended; set before done is closed
	cur     []byte // the rest of what is being read
	curEls  []item // the rest of the elements being taken

	dmu     sync.Mutex    // guards the deadlines and rest
	moved   chan struct{} // a read deadline was set (wakes a waiting Read)
	readDL  time.Time
	writeDL time.Time
	rest    []byte // written bytes not yet a whole element
}

func newMsgConn(remote net.Addr) *msgConn {
	return &msgConn{remote: remote, in: make(chan []byte, 1), done: make(chan struct{}), moved: make(chan struct{}, 1)}
}

// item is one thing the client sent, for the stream's read loop: an
// element, the stream header (header set), or the end of its stream (err:
// stanza.ErrStreamClosed, or the stream error a limit calls for).
type item struct {
	el     *stanza.Element
	header bool
	err    error
}

// put hands the stream bytes from the client to Read; false once input
// has ended.
func (c *msgConn) put(b []byte) bool { return offer(c, c.in, b) }

// putItems hands the client's elements to next; false once input has
// ended.
func (c *msgConn) putItems(items []item) bool { return offer(c, c.els, items) }

func offer[T any](c *msgConn, ch chan T, v T) bool {
	select {
	case ch <- v:
		return true
	case <-c.done:
		return false
	}
}

// endInput ends what Read returns with err (the first call's).
func (c *msgConn) endInput(err error) {
	c.endOnce.Do(func() {
		c.inErr = err
		close(c.done)
	})
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *msgConn) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		b, err := receive(c, c.in)
		if err != nil {
			return 0, err
		}
		c.cur = b
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// next returns the client's next item (see item), waiting for it under
// the read deadline as Read does.
func (c *msgConn) next() (*stanza.Element, bool, error) {
	for len(c.curEls) == 0 {
		items, err := receive(c, c.els)
		if err != nil {
			return nil, false, err
		}
		c.curEls = items
	}
	it := c.curEls[0]
	c.curEls[0] = item{}
	c.curEls = c.curEls[1:]
	return it.el, it.header, it.err
}

// receive waits for what the transport puts on ch next, until the read
// deadline; once input has ended, what came before the end is still
// taken, then the end's error.
func receive[T any](c *msgConn, ch chan T) (T, error) {
	var zero T
	for {
		c.dmu.Lock()
		dl := c.readDL
		c.dmu.Unlock()
		var expire <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return zero, timeoutError{}
			}
			t = time.NewTimer(d)
			expire = t.C
		}
		select {
		case v := <-ch:
			stopTimer(t)
			return v, nil
		case <-c.done:
			stopTimer(t)
			select {
			case v := <-ch: // what came before the end
				return v, nil
			default:
				return zero, c.inErr
			}
		case <-expire:
			return zero, timeoutError{}
		case <-c.moved: // look at the new deadline
		}
		stopTimer(t)
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// Write sends the whole elements in b, one message each.
func (c *msgConn) Write(b []byte) (int, error) {
	c.dmu.Lock()
	data := append(c.rest, b...)
	msgs, rest := WebSocketFromStream(data)
	c.rest = append([]byte(nil), rest...)
	dl := c.writeDL
	c.dmu.Unlock()
	ctx := context.Background()
	if !dl.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	if len(msgs) > 0 {
		if err := c.send(ctx, msgs); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func (c *msgConn) Close() error {
	c.closeOnce.Do(c.closeFn)
	return nil
}

func (c *msgConn) LocalAddr() net.Addr  { return msgAddr("local") }
func (c *msgConn) RemoteAddr() net.Addr { return c.remote }

func (c *msgConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *msgConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDL = t
	c.dmu.Unlock()
	select {
	case c.moved <- struct{}{}:
	default:
	}
	return nil
}

func (c *msgConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.writeDL = t
	c.dmu.Unlock()
	return nil
}

type msgAddr string

func (a msgAddr) Network() string { return "http" }
func (a msgAddr) String() string  { return string(a) }
