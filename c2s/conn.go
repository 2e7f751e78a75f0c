package c2s

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"runtime/debug"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/stanza"
)

// conn is one client connection. The reading goroutine (serve) owns every
// field but the output queue, which is guarded by out.mu.
type conn struct {
	srv       *Server
	nc        net.Conn // the raw connection, replaced by a *tls.Conn after STARTTLS
	idle      *idleReader
	parser    *stanza.Parser
	directTLS bool

	host     string  // the domain the client asked for
	streamID string  // of the current stream
	secure   bool    // TLS is up
	user     jid.JID // authenticated bare JID, zero before SASL success
	authFail int     // failed SASL attempts
	sess     *router.Session
	pingID   string // id of our outstanding ping, if any
	sasl     sasl.Conversation
	saslMech string

	out output
}

func newConn(s *Server, nc net.Conn, directTLS bool) *conn {
	c := &conn{srv: s, nc: nc, directTLS: directTLS}
	c.out.conn = c
	return c
}

// serve runs the connection to its end; done is called when it is over.
// Negotiation runs on the calling goroutine and the bound session on a
// fresh one (see errHandoff).
func (c *conn) serve(done func()) {
	c.srv.track(c)
	if c.directTLS && !c.startTLS() {
		c.finish()
		done()
		return
	}
	c.idle = &idleReader{c: c}
	c.parser = stanza.NewParser(c.idle, c.srv.cfg.Limits)
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.AuthTimeout))
	c.run(done)
}

// errHandoff ends the negotiating goroutine once the resource is bound.
// Negotiation (SASL, storage look-ups) grows a goroutine's stack to tens of
// KiB, and the runtime only shrinks it at garbage collections, which an
// idle server rarely has; a fresh goroutine for the long-lived session
// starts small and stays small while idle.
var errHandoff = errors.New("c2s: continue on a fresh goroutine")

// run reads until the stream ends, then closes it as the cause requires.
func (c *conn) run(done func()) {
	var err error
	defer func() {
		// A bug must cost one connection, not the server.
		if r := recover(); r != nil {
			c.srv.log.Error("c2s: panic serving a connection", "jid", c.user, "panic", r, "stack", string(debug.Stack()))
			err = stanza.NewStreamError(stanza.StreamInternalError, "internal error")
		}
		if err == errHandoff {
			go c.run(done)
			return
		}
		c.end(err)
		c.finish()
		done()
	}()
	err = c.readLoop()
}

// end closes the stream after the read loop stopped with err.
func (c *conn) end(err error) {
	var se *stanza.StreamError
	switch {
	case errors.As(err, &se):
		if c.streamID == "" {
			// RFC 6120 §4.9.1.1: an error before our stream header goes
			// after one, so the client can parse it.
			c.out.sendRaw(appendHeader(nil, c.headerFrom(), "", ""))
		}
		c.Close(se)
	case errors.Is(err, stanza.ErrStreamClosed):
		c.Close(nil)
	default:
		// The peer went away or timed out: nobody to tell.
		c.out.abort()
	}
}

// headerFrom is the 'from' of a header we send: the host the client asked
// for, or our first host when we never learned it.
func (c *conn) headerFrom() string {
	if c.host != "" && c.srv.hosts[c.host] {
		return c.host
	}
	if len(c.srv.cfg.Hosts) > 0 {
		return c.srv.cfg.Hosts[0]
	}
	return ""
}

// finish cleans up after the read loop ended.
func (c *conn) finish() {
	if c.sess != nil {
		if c.srv.core.Router().Unbind(c.sess) {
			c.srv.core.SessionEnded(context.Background(), c.sess)
		}
	}
	c.out.waitClosed(5 * time.Second)
	_ = c.nc.Close()
}

// readLoop reads stream headers and top-level elements until the stream
// ends or fails.
func (c *conn) readLoop() error {
	for {
		if c.sess != nil && c.parser.Release() {
			if err := c.idle.waitReadable(); err != nil {
				return err
			}
		}
		el, header, err := c.parser.Next()
		if err != nil {
			return err
		}
		if el == nil {
			continue // a keepalive and nothing after it: back to waiting
		}
		if header {
			if err := c.openStream(el); err != nil {
				return err
			}
			continue
		}
		if c.streamID == "" {
			return stanza.NewStreamError(stanza.NotWellFormed, "expected a stream header")
		}
		bound := c.sess != nil
		if err := c.handle(el); err != nil {
			return err
		}
		if !bound && c.sess != nil {
			c.parser.YieldOnIdle(true)
			return errHandoff
		}
	}
}

// handle dispatches one top-level element according to the stream state.
func (c *conn) handle(el *stanza.Element) error {
	switch {
	case el.Is("starttls", stanza.NSTLS):
		return c.onStartTLS()
	case el.Space == stanza.NSSASL:
		return c.onSASL(el)
	}
	if !el.IsStanza() {
		if el.Name == "message" || el.Name == "presence" || el.Name == "iq" {
			return stanza.NewStreamError(stanza.InvalidNamespace, "stanzas must be in the jabber:client namespace")
		}
		return stanza.NewStreamError(stanza.UnsupportedStanzaType, "unsupported element <"+el.Name+"/> in namespace "+el.Space)
	}
	if el.Space != stanza.NSClient {
		return stanza.NewStreamError(stanza.InvalidNamespace, "stanzas must be in the jabber:client namespace")
	}
	c.srv.cfg.Metrics.stanza(el.Name)
	if c.user.IsZero() {
		if el.Name == "iq" && c.srv.cfg.Registration && el.FirstElement() != nil && el.FirstElement().Space == stanza.NSRegister {
			if c.srv.cfg.RequireTLS && !c.secure {
				return stanza.NewStreamError(stanza.StreamPolicyViolation, "registration requires TLS")
			}
			c.out.send(c.srv.core.HandlePreBind(context.Background(), c.host, el))
			return nil
		}
		return stanza.NewStreamError(stanza.StreamNotAuthorized, "authenticate first")
	}
	if c.sess == nil {
		return c.beforeBind(el)
	}
	if c.out.isClosed() {
		// The stream is ending (replaced by a conflict, shut down): what
		// the client still sends is not routed under a JID it lost.
		return nil
	}
	if from := el.From(); from != "" {
		f, err := jid.Parse(from)
		if err != nil || (f != c.sess.JID() && f != c.user) {
			return stanza.NewStreamError(stanza.InvalidFrom, "the 'from' address is not yours")
		}
	}
	if el.Name == "iq" && c.pingID != "" && el.ID() == c.pingID && (el.Type() == "result" || el.Type() == "error") {
		c.pingID = ""
		return nil
	}
	c.srv.core.Route(context.Background(), c.sess, el)
	return nil
}

// beforeBind handles stanzas between SASL success and resource binding:
// only bind and the legacy session request are allowed.
func (c *conn) beforeBind(el *stanza.Element) error {
	if el.Name != "iq" {
		return stanza.NewStreamError(stanza.StreamNotAuthorized, "bind a resource first")
	}
	p := el.FirstElement()
	switch {
	case el.Type() == "set" && p.Is("bind", stanza.NSBind):
		c.bind(el, p)
	case el.Type() == "set" && p.Is("session", stanza.NSSession):
		c.out.send(stanza.Result(el))
	case el.Type() == "result" || el.Type() == "error":
	default:
		c.out.send(stanza.ErrorReply(el, &stanza.Error{Condition: stanza.NotAllowed, Text: "bind a resource first"}))
	}
	return nil
}

// bind binds a resource (RFC 6120 §7). A session already bound to the
// same full JID is replaced and told <conflict/>.
func (c *conn) bind(iq, b *stanza.Element) {
	res := ""
	if r := b.Child("resource", stanza.NSBind); r != nil {
		res = r.Text()
	}
	if res == "" {
		res = randomID(8)
	}
	full, err := c.user.WithResource(res)
	if err != nil {
		c.out.send(stanza.ErrorReply(iq, &stanza.Error{Condition: stanza.BadRequest, Text: "the resource is not valid"}))
		return
	}
	sess, replaced, err := c.srv.core.Router().Bind(full, c, c.srv.cfg.MaxResources)
	if err != nil {
		c.out.send(stanza.ErrorReply(iq, &stanza.Error{Condition: stanza.ResourceConstraint, Text: "too many resources are bound"}))
		return
	}
	if replaced != nil {
		replaced.Close(stanza.NewStreamError(stanza.StreamConflict, "replaced by a new connection with the same resource"))
		if replaced.IsLocal() {
			// A session on another node is ended there, by its own node.
			c.srv.core.SessionEnded(context.Background(), replaced)
		}
	}
	c.sess = sess
	c.out.queued()
	// Bound: from now on an idle connection is pinged, not timed out.
	_ = c.nc.SetReadDeadline(time.Time{})
	c.out.send(stanza.Result(iq, stanza.New("bind", stanza.NSBind).Append(stanza.New("jid", stanza.NSBind).SetText(full.String()))))
}

// Deliver queues a stanza for the client (router.Conn).
func (c *conn) Deliver(el *stanza.Element) { c.out.send(el) }

// DeliverRaw queues a stanza already serialized for a client, as it comes
// from another node (router.RawConn).
func (c *conn) DeliverRaw(b []byte) { c.out.sendBytes(b) }

// Close ends the stream, with a stream error when err is not nil
// (router.Conn). It is safe from any goroutine and idempotent.
func (c *conn) Close(err *stanza.StreamError) {
	if err != nil {
		c.srv.cfg.Metrics.StreamErrors.WithLabelValues(string(err.Condition)).Inc()
	}
	c.out.close(err)
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
