package xmppclient

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// maxBacklog bounds the elements Expect sets aside for later, so a client
// whose caller never drains them fails instead of growing without bound.
const maxBacklog = 1024

// Client is one client connection.
//
// Writing (Send, SendRaw, and the send half of Request) is safe from any
// goroutine. Reading (Next, Expect, Request, SetReadDeadline and the
// negotiation methods) belongs to one goroutine at a time. While the reader
// of StartReader runs, it owns reading: Request may then be called from any
// goroutine, and Next and Expect return ErrReaderActive.
type Client struct {
	cfg Config
	ids atomic.Uint64

	// wmu guards writes on nc and wclosed. nc is swapped for a *tls.Conn
	// by the reading goroutine under wmu, so that goroutine reads it
	// freely and others take wmu.
	wmu     sync.Mutex
	nc      net.Conn
	wclosed bool

	// Owned by the reading goroutine.
	wire     *wire
	parser   *stanza.Parser
	header   *stanza.Element // last stream header received
	features *stanza.Element // features of the current stream
	backlog  []*stanza.Element
	rerr     error     // sticky: the stream is over
	rdl      time.Time // deadline set by SetReadDeadline
	jid      jid.JID

	reading atomic.Bool // a read is in progress
	opened  atomic.Bool // a stream header was sent or received
	closing atomic.Bool

	mu      sync.Mutex // guards runDone and pending; never held with wmu
	runDone chan struct{}
	pending map[string]chan *stanza.Element // Request ids awaiting the reader
}

// JID is the bound full JID; zero before binding.
func (c *Client) JID() jid.JID { return c.jid }

// Features is the <stream:features/> of the current stream.
func (c *Client) Features() *stanza.Element { return c.features }

// Header is the last stream header the server sent, or nil.
func (c *Client) Header() *stanza.Element { return c.header }

// Conn is the underlying connection (a *tls.Conn once TLS is up), for tests
// that need to misbehave below XML.
func (c *Client) Conn() net.Conn {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.nc
}

// NewID returns an id unique within this client.
func (c *Client) NewID() string {
	return "xc" + strconv.FormatUint(c.ids.Add(1), 36)
}

// bufPool lends write buffers only while writing, so an idle client holds
// none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Send writes one element. An element with no namespace is sent in
// jabber:client.
func (c *Client) Send(el *stanza.Element) error {
	if el.Space == "" {
		el = el.Copy()
		el.Space = stanza.NSClient
	}
	bp := bufPool.Get().(*[]byte)
	b := el.AppendXML((*bp)[:0], stanza.NSClient)
	err := c.write(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return err
}

// SendRaw writes bytes as they are.
func (c *Client) SendRaw(b []byte) error { return c.write(b) }

func (c *Client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed {
		return ErrClosed
	}
	if c.cfg.Timeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.Timeout))
	}
	_, err := c.nc.Write(b)
	return err
}

// SetReadDeadline bounds Next and the reader; Expect and Request also honour their
// context's deadline, whichever is sooner. The zero time means none.
func (c *Client) SetReadDeadline(t time.Time) error {
	c.rdl = t
	return c.nc.SetReadDeadline(t)
}

// Next returns the next top-level element: first those Expect set aside,
// then from the wire. Stream headers are recorded (see Header), not
// returned. A <stream:error/> is returned as a *stanza.StreamError, the
// server's </stream:stream> as stanza.ErrStreamClosed.
func (c *Client) Next() (*stanza.Element, error) {
	if c.isRunning() {
		return nil, ErrReaderActive
	}
	if len(c.backlog) > 0 {
		return c.takeBacklog(0), nil
	}
	return c.read()
}

// Expect returns the first element, set aside or arriving, for which match
// is true. Others arriving meanwhile are set aside for later Expect and
// Next calls, in order. ctx bounds the wait.
func (c *Client) Expect(ctx context.Context, match func(*stanza.Element) bool) (*stanza.Element, error) {
	if c.isRunning() {
		return nil, ErrReaderActive
	}
	for i, el := range c.backlog {
		if match(el) {
			return c.takeBacklog(i), nil
		}
	}
	restore := c.watch(ctx)
	defer restore()
	for {
		el, err := c.read()
		if err != nil {
			return nil, ctxError(ctx, err)
		}
		if match(el) {
			return el, nil
		}
		if len(c.backlog) >= maxBacklog {
			return nil, ErrBacklogFull
		}
		c.backlog = append(c.backlog, el)
	}
}

func (c *Client) takeBacklog(i int) *stanza.Element {
	n := len(c.backlog)
	el := c.backlog[i]
	copy(c.backlog[i:], c.backlog[i+1:])
	c.backlog[n-1] = nil
	c.backlog = c.backlog[:n-1]
	if n == 1 {
		c.backlog = nil // let the array go
	}
	return el
}

// Request sends an iq under a fresh id (on a copy: iq is not changed) and
// waits for the result or error with that id. For type='error' it returns
// the reply and its *stanza.Error.
func (c *Client) Request(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	iq = iq.Copy()
	if iq.Space == "" {
		iq.Space = stanza.NSClient
	}
	id := c.NewID()
	iq.SetAttr("id", id)
	var reply *stanza.Element
	if ch := c.await(id); ch != nil {
		if err := c.Send(iq); err != nil {
			c.forget(id)
			return nil, err
		}
		select {
		case el, ok := <-ch:
			if !ok {
				return nil, ErrClosed
			}
			reply = el
		case <-ctx.Done():
			c.forget(id)
			return nil, context.Cause(ctx)
		}
	} else {
		if err := c.Send(iq); err != nil {
			return nil, err
		}
		el, err := c.Expect(ctx, func(el *stanza.Element) bool { return isReply(el, id) })
		if err != nil {
			return nil, err
		}
		reply = el
	}
	if e := parseStanzaError(reply); e != nil {
		return reply, e
	}
	return reply, nil
}

func isReply(el *stanza.Element, id string) bool {
	return el.Name == "iq" && el.ID() == id && (el.Type() == "result" || el.Type() == "error")
}
