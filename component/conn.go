package component

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/internal/stream"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// conn is one component connection. The reading goroutine (serve) owns
// parser, domain, entry and streamID; the write side is out, guarded by
// its lock.
type conn struct {
	srv    *Server
	nc     net.Conn
	parser *stanza.Parser

	domain   string  // the domain the component asked for
	entry    jid.JID // its router entry, domain/component
	streamID string

	// bound is the router entry once the handshake succeeded; leaveOnce
	// takes it out of the router once.
	bound     atomic.Pointer[router.Session]
	leaveOnce sync.Once

	// out writes to the component, always through its flusher (there is
	// no negotiation to keep in step with).
	out        stream.Queue
	headerSent bool // guarded by out's lock
	stream.NoHooks
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc}
	c.out.Init(c, &s.qcfg, nil)
	c.out.Async()
	return c
}

// serve runs the connection to its end.
func (c *conn) serve() {
	c.parser = stanza.NewParser(c.nc, c.srv.cfg.Limits)
	err := stream.Run(c.srv.log, "component: panic serving a connection", c.run,
		func() []any { return []any{"domain", c.domain} })
	c.end(err)
}

// ConnLocked, WriteFailed and Overflowed make conn out's stream.Peer.
func (c *conn) ConnLocked() net.Conn { return c.nc }

func (c *conn) WriteFailed(net.Conn) {
	c.leave()
	c.out.Abort()
}

func (c *conn) Overflowed() {
	c.srv.log.Warn("component: not reading, disconnecting", "domain", c.domain, "queued", c.srv.cfg.MaxQueue)
	c.leave()
}

// Cut closes the socket (stream.Conn: shutdown ran out of time).
func (c *conn) Cut() { _ = c.nc.Close() }

// run reads the stream header, the handshake, then stanzas until the
// stream ends or fails.
func (c *conn) run() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.HandshakeTimeout))
	h, _, err := c.parser.Next() // the first item is always the header
	if err != nil {
		return err
	}
	if err := c.open(h); err != nil {
		return err
	}
	el, header, err := c.parser.Next()
	if err != nil {
		return err
	}
	if header {
		return stanza.NewStreamError(stanza.StreamNotAuthorized, "send the handshake first")
	}
	if err := c.handshake(el); err != nil {
		return err
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	for {
		el, header, err := c.parser.Next()
		if err != nil {
			return err
		}
		if header {
			return stanza.NewStreamError(stanza.BadFormat, "a component stream is not restarted")
		}
		if err := c.handle(el); err != nil {
			return err
		}
	}
}

// open answers the stream header (XEP-0114 §3.1): ours goes out first,
// with the stream id the handshake hashes, then any error about it.
func (c *conn) open(h *stanza.Element) error {
	c.streamID = randomID()
	to := h.Attr("to")
	if d, err := jid.Parse(to); err == nil && d.Local() == "" && d.Resource() == "" {
		to = d.Domain()
	}
	c.domain = to
	attrs := []stanza.Attr{{Name: "id", Value: c.streamID}}
	if to != "" {
		attrs = append(attrs, stanza.Attr{Name: "from", Value: to})
	}
	c.queueHeader(stanza.StreamHeader(nil, NSAccept, attrs...))
	if ns := h.Attr("xmlns"); ns != NSAccept {
		return stanza.NewStreamError(stanza.InvalidNamespace, "the stream's namespace must be "+NSAccept+", not "+quote(ns))
	}
	if _, ok := c.srv.cfg.Secrets[to]; !ok {
		return stanza.NewStreamError(stanza.HostUnknown, "no component is configured for "+quote(to))
	}
	entry, ok := c.srv.core.ComponentJID(to)
	if !ok {
		return stanza.NewStreamError(stanza.HostUnknown, "no component is configured for "+quote(to))
	}
	c.entry = entry
	return nil
}

func quote(s string) string {
	if s == "" {
		return "an empty one"
	}
	return "'" + s + "'"
}

// handshake checks <handshake/>: lower-case hex SHA-1 of the stream id
// followed by the secret (XEP-0114 §3.2), compared in constant time. On
// success the component enters the router, unless one is connected for
// the domain already, anywhere in the cluster: the new connection is then
// refused with <conflict/> and the one in service stays.
func (c *conn) handshake(el *stanza.Element) error {
	if !el.Is("handshake", NSAccept) {
		return stanza.NewStreamError(stanza.StreamNotAuthorized, "send the handshake first")
	}
	sum := sha1.Sum([]byte(c.streamID + c.srv.cfg.Secrets[c.domain]))
	want := hex.EncodeToString(sum[:])
	got := strings.ToLower(strings.TrimSpace(el.Text()))
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		c.srv.cfg.Metrics.HandshakeFailures.Inc()
		c.srv.log.Warn("component: handshake failed", "domain", c.domain, "remote", c.nc.RemoteAddr())
		return stanza.NewStreamError(stanza.StreamNotAuthorized, "wrong handshake")
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.conns.Closing():
		return stanza.NewStreamError(stanza.SystemShutdown, "the server is shutting down")
	case s.core.Router().Session(c.entry) != nil:
		return stanza.NewStreamError(stanza.StreamConflict, "a component is already connected for "+c.domain)
	}
	// The empty <handshake/> is queued before the entry is bound, so that
	// nothing routed to the component can overtake it.
	if !c.out.Send(func(b []byte) []byte { return append(b, "<handshake/>"...) }) {
		return stanza.ErrStreamClosed
	}
	sess, _, err := s.core.Router().Bind(c.entry, c, 0)
	if err != nil {
		return stanza.NewStreamError(stanza.StreamInternalError, "could not enter the component in the directory")
	}
	c.bound.Store(sess)
	s.cfg.Metrics.Connected.Inc()
	s.log.Info("component connected", "domain", c.domain, "remote", c.nc.RemoteAddr())
	return nil
}

// handle routes one stanza from the component. XEP-0114 §3.3: 'from' and
// 'to' are required, and 'from' must be at the component's domain.
func (c *conn) handle(el *stanza.Element) error {
	switch el.Name {
	case "message", "presence", "iq":
		if el.Space != NSAccept {
			return stanza.NewStreamError(stanza.InvalidNamespace, "stanzas must be in the "+NSAccept+" namespace")
		}
	default:
		return stanza.NewStreamError(stanza.UnsupportedStanzaType, "unsupported element <"+el.Name+"/> in namespace "+el.Space)
	}
	if el.From() == "" || el.To() == "" {
		return stanza.NewStreamError(stanza.ImproperAddressing, "a component's stanzas need 'from' and 'to'")
	}
	from, err := jid.Parse(el.From())
	if err != nil || from.Domain() != c.domain {
		return stanza.NewStreamError(stanza.InvalidFrom, "the 'from' address must be at "+c.domain)
	}
	if c.out.Closed() {
		return nil // our closing tag is out: the session is over
	}
	c.srv.cfg.Metrics.in.Inc()
	toClient(el)
	c.srv.core.FromComponent(context.Background(), el)
	return nil
}

// toClient moves a stanza the component sent, and every element in it that
// inherited the stream's namespace, to jabber:client, the namespace the
// core and clients speak (the parser's fresh tree is ours to change). On
// the way out the reverse happens by itself: stanzas are written without
// an xmlns where they are in jabber:client, and so land in the
// component stream's namespace.
func toClient(el *stanza.Element) {
	if el.Space == NSAccept {
		el.Space = stanza.NSClient
	}
	for _, n := range el.Nodes {
		if n.Elem != nil {
			toClient(n.Elem)
		}
	}
}

// end closes the stream after the read loop stopped with err.
func (c *conn) end(err error) {
	var se *stanza.StreamError
	switch {
	case errors.As(err, &se):
		c.Close(se)
	case errors.Is(err, stanza.ErrStreamClosed):
		c.Close(nil)
	default:
		// The peer went away, or did not close its side in time after our
		// closing tag: nobody to tell.
		c.leave()
		c.out.Abort()
	}
	c.out.WaitClosed(5 * time.Second)
	_ = c.nc.Close()
	if c.bound.Load() != nil {
		c.srv.log.Info("component disconnected", "domain", c.domain, "err", err)
	}
}

// Deliver queues a stanza for the component (router.Conn). One that
// arrives once the stream is closing goes back to the core, which answers
// an IQ request service-unavailable.
func (c *conn) Deliver(el *stanza.Element) {
	if !c.out.Send(func(b []byte) []byte { return el.AppendXML(b, stanza.NSClient) }) {
		c.undeliverable(el)
		return
	}
	c.srv.cfg.Metrics.out.Inc()
}

// DeliverRaw queues a stanza serialized for a client, as it comes from
// another node (router.RawConn): what a client stream has without an
// xmlns, a component stream has in its own namespace.
func (c *conn) DeliverRaw(b []byte) {
	if c.out.Send(func(buf []byte) []byte { return append(buf, b...) }) {
		c.srv.cfg.Metrics.out.Inc()
		return
	}
	if el, err := stanza.ParseBytes(b); err == nil {
		c.undeliverable(el)
	}
}

func (c *conn) undeliverable(el *stanza.Element) {
	if s := c.bound.Load(); s != nil {
		c.srv.core.Undeliverable(context.Background(), im.Gone{JID: s.JID(), Session: s}, el)
	}
}

// Close ends the stream, with a stream error when err is not nil
// (router.Conn). It is safe from any goroutine and idempotent. The entry
// leaves the router first, so nothing more is routed here.
func (c *conn) Close(err *stanza.StreamError) {
	c.leave()
	c.out.Lock()
	if c.out.ClosedLocked() {
		c.out.Unlock()
		return
	}
	if !c.headerSent {
		// RFC 6120 §4.9.1.1: an error before our header goes after one.
		c.out.AppendLocked(func(b []byte) []byte {
			return stanza.StreamHeader(b, NSAccept, stanza.Attr{Name: "id", Value: randomID()})
		})
		c.headerSent = true
	}
	c.out.CloseLocked(err)
	c.out.Unlock()
	if err != nil {
		c.srv.cfg.Metrics.StreamErrors.WithLabelValues(string(err.Condition)).Inc()
	}
}

// leave takes the entry out of the router, once.
func (c *conn) leave() {
	s := c.bound.Load()
	if s == nil {
		return
	}
	c.leaveOnce.Do(func() {
		c.srv.core.Router().Unbind(s)
		c.srv.cfg.Metrics.Connected.Dec()
	})
}

// queueHeader queues our stream header.
func (c *conn) queueHeader(b []byte) {
	c.out.Lock()
	defer c.out.Unlock()
	if c.out.ClosedLocked() {
		return
	}
	c.out.AppendLocked(func(buf []byte) []byte { return append(buf, b...) })
	c.headerSent = true
	c.out.KickLocked()
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
