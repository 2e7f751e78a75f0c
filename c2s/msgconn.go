package c2s

import (
	"context"
	"net"
	"sync"
	"time"
)

// msgConn is a message-oriented transport (WebSocket, BOSH) seen by the
// c2s code as a TCP-framed stream. The transport puts what the client
// sends, already in TCP framing, on in; what the stream writes is split
// into whole elements (framing.go) and handed to send.
type msgConn struct {
	remote net.Addr
	send   func(ctx context.Context, msgs [][]byte) error
	// closeFn closes the transport, once.
	closeFn   func()
	closeOnce sync.Once

	in      chan []byte   // stream bytes from the client
	done    chan struct{} // closed when input ends
	endOnce sync.Once
	inErr   error  // why input ended; set before done is closed
	cur     []byte // the rest of what is being read

	dmu     sync.Mutex    // guards the deadlines and rest
	moved   chan struct{} // a read deadline was set (wakes a waiting Read)
	readDL  time.Time
	writeDL time.Time
	rest    []byte // written bytes not yet a whole element
}

func newMsgConn(remote net.Addr) *msgConn {
	return &msgConn{remote: remote, in: make(chan []byte, 1), done: make(chan struct{}), moved: make(chan struct{}, 1)}
}

// put hands the stream bytes from the client to Read; false once input
// has ended.
func (c *msgConn) put(b []byte) bool {
	select {
	case c.in <- b:
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
		c.dmu.Lock()
		dl := c.readDL
		c.dmu.Unlock()
		var expire <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, timeoutError{}
			}
			t = time.NewTimer(d)
			expire = t.C
		}
		select {
		case c.cur = <-c.in:
		case <-c.done:
			stopTimer(t)
			select {
			case c.cur = <-c.in: // what came before the end
			default:
				return 0, c.inErr
			}
		case <-expire:
			return 0, timeoutError{}
		case <-c.moved: // look at the new deadline
		}
		stopTimer(t)
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
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
