package c2s

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/internal/stream"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/stanza"
)

// conn is one client connection. The reading goroutine (serve) owns every
// field but the output queue, which is guarded by out.mu.
type conn struct {
	srv    *Server
	nc     net.Conn // the raw connection, replaced by a *tls.Conn after STARTTLS
	idle   *idleReader
	parser *stanza.Parser
	// elems, over BOSH, gives what the client sends as elements already
	// parsed (each request's <body/> children); the parser is then not
	// read (see next).
	elems     *msgConn
	directTLS bool
	web       bool      // over HTTP: WebSocket (websocket.go) or BOSH (bosh.go)
	transport transport // for the metrics; set before serve

	host     string  // the domain the client asked for
	streamID string  // of the current stream
	secure   bool    // TLS is up
	user     jid.JID // authenticated bare JID, zero before SASL success
	authFail int     // failed SASL attempts
	sess     *router.Session
	pingID   string // id of our outstanding ping, if any
	sasl     sasl.Conversation
	saslMech string
	// noCommonCB: a SASL exchange on this connection ended in
	// sasl.ErrBinding (negotiate.go).
	noCommonCB bool

	out *output

	// bound is sess for other goroutines (Close, Deliver); left says the
	// session has left the router (see leave).
	bound atomic.Pointer[router.Session]
	relMu sync.Mutex
	left  bool
	// durableSM: the session is recorded in storage (durable.go); read
	// and set by the reading goroutine only.
	durableSM bool

	// resumedAway: another connection resumed this one's session (sm.go);
	// this one only closes its socket.
	resumedAway atomic.Bool
}

func newConn(s *Server, nc net.Conn, directTLS bool) *conn {
	c := &conn{srv: s, nc: nc, directTLS: directTLS}
	if directTLS {
		c.transport = transportTLS
	}
	c.out = newOutput(c)
	return c
}

// Cut closes the socket at once (stream.Conn: shutdown ran out of time).
func (c *conn) Cut() { _ = c.nc.Close() }

// serve runs the connection to its end; done is called when it is over.
// Negotiation runs on the calling goroutine and the bound session on a
// fresh one (see errHandoff).
func (c *conn) serve(done func()) {
	if c.directTLS && !c.startTLS() {
		c.finish()
		done()
		return
	}
	c.idle = &idleReader{c: c}
	if c.elems != nil {
		c.parser = new(stanza.Parser) // holds no buffer: see next
	} else {
		c.parser = stanza.NewParser(c.idle, c.srv.cfg.Limits)
	}
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
	// A bug costs this connection only (internal-server-error).
	err := stream.Run(c.srv.log, "c2s: panic serving a connection", c.readLoop,
		func() []any { return []any{"jid", c.user} })
	if err == errHandoff {
		go c.run(done)
		return
	}
	c.end(err)
	c.finish()
	done()
}

// end closes the stream after the read loop stopped with err.
func (c *conn) end(err error) {
	if c.resumedAway.Load() {
		return // the session lives on in another connection
	}
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
		// The peer went away or timed out: nobody to tell. A session with
		// resumption enabled waits for the client to come back.
		if c.resumedAway.Load() || c.detach() {
			return
		}
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
	if c.resumedAway.Load() || c.detached() {
		// The session outlives this connection (sm.go).
		_ = c.nc.Close()
		return
	}
	if c.sess != nil {
		c.leave()
		c.rerouteUnacked()
	}
	c.out.waitClosed(5 * time.Second)
	_ = c.nc.Close()
}

// readLoop reads stream headers and top-level elements until the stream
// ends or fails.
func (c *conn) readLoop() error {
	for {
		el, header, err := c.next()
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

// next returns the stream's next item, as stanza.Parser.Next does: from
// the parser reading the connection, which a bound session lets go of its
// buffers while it waits; or, over BOSH, from the elements the session
// parsed, under the same idle policy (the read deadlines the transport
// applies to them).
func (c *conn) next() (*stanza.Element, bool, error) {
	if c.elems == nil {
		if c.sess != nil && c.parser.Release() {
			if err := c.idle.waitReadable(); err != nil {
				return nil, false, err
			}
		}
		return c.parser.Next()
	}
	var el *stanza.Element
	var header bool
	_, err := c.idle.do(func() (int, error) {
		var err error
		el, header, err = c.elems.next()
		if err != nil {
			return 0, err
		}
		return 1, nil
	})
	if header {
		if c.streamID != "" {
			// XEP-0206 §5: a restart follows SASL success, nothing else.
			return nil, false, stanza.NewStreamError(stanza.BadFormat, "a stream restart is only expected after SASL success")
		}
		// Negotiation restarted the parser (SASL success), which took a
		// read buffer from the pool; nothing reads through it here.
		c.parser = new(stanza.Parser)
	}
	return el, header, err
}

// handle dispatches one top-level element according to the stream state.
func (c *conn) handle(el *stanza.Element) error {
	switch {
	case el.Is("starttls", stanza.NSTLS):
		return c.onStartTLS()
	case el.Space == stanza.NSSASL:
		return c.onSASL(el)
	case el.Space == nsCSI:
		if c.user.IsZero() {
			return stanza.NewStreamError(stanza.StreamNotAuthorized, "authenticate first")
		}
		return c.onCSI(el)
	case el.Space == nsSM:
		if c.user.IsZero() {
			return stanza.NewStreamError(stanza.StreamNotAuthorized, "authenticate first")
		}
		return c.onSM(el)
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
	if from := el.From(); from != "" {
		f, err := jid.Parse(from)
		if err != nil || (f != c.sess.JID() && f != c.user) {
			return stanza.NewStreamError(stanza.InvalidFrom, "the 'from' address is not yours")
		}
	}
	defer c.smCount() // handled: routed, stored or refused, by the time it returns
	if c.out.isClosed() && (el.Name != "message" || !c.out.handingOver()) {
		// The stream is ending and the session has left the router. When
		// we are moving the client elsewhere (drain, shutdown), messages
		// it sent before it saw our closing tag are still routed (RFC 6120
		// §4.4 lets us read until its own); presence and requests of a
		// session that is over are not. After a conflict nothing is: the
		// JID belongs to the new session (stream errors are final, RFC
		// 6120 §4.9.1.1).
		return nil
	}
	if el.Name == "iq" && c.pingID != "" && el.ID() == c.pingID && (el.Type() == "result" || el.Type() == "error") {
		c.pingID = ""
		return nil
	}
	if el.Name == "iq" && el.Type() == "set" && (el.To() == "" || el.To() == c.host) && el.FirstElement().Is("session", stanza.NSSession) {
		// The legacy session request (RFC 3921 §3), offered as optional:
		// clients that still send it after binding (Strophe.js, so
		// Converse.js) get a result, as before binding.
		c.out.send(stanza.Result(el))
		return nil
	}
	if c.durableSM {
		c.sess.SetHandling(c.out.sm.inH.Load() + 1)
	}
	c.srv.core.Route(context.Background(), c.sess, el)
	if c.durableSM && (el.Name == "presence" && el.To() == "" || el.Name == "iq") {
		// A broadcast presence, or a request that may have made the
		// session interested in pushes (its roster, its block list).
		c.presenceChanged()
	}
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
	c.bound.Store(sess)
	if c.out.isClosed() {
		// Closed while binding (shutdown, drain): Close did not see the
		// session, so it leaves the router here.
		c.leave()
	}
	c.out.queued()
	// Bound: from now on an idle connection is pinged, not timed out.
	_ = c.nc.SetReadDeadline(time.Time{})
	c.out.send(stanza.Result(iq, stanza.New("bind", stanza.NSBind).Append(stanza.New("jid", stanza.NSBind).SetText(full.String()))))
}

// Deliver queues a stanza for the client (router.Conn). A stanza that
// arrives once the stream is closing goes back to the core to be routed
// as if this resource were gone.
func (c *conn) Deliver(el *stanza.Element) {
	if c.out.csi.on.Load() && c.csiHold(el.AppendXML(nil, stanza.NSClient)) || c.out.send(el) {
		c.srv.cfg.Metrics.sent(el.Name)
		return
	}
	c.undeliverable(el)
}

// DeliverRaw queues a stanza already serialized for a client, as it comes
// from another node (router.RawConn).
func (c *conn) DeliverRaw(b []byte) {
	if c.out.csi.on.Load() && c.csiHold(bytes.Clone(b)) || c.out.sendBytes(b) {
		c.srv.cfg.Metrics.sentRaw(b)
		return
	}
	el, err := stanza.ParseBytes(b)
	if err != nil {
		c.srv.log.Warn("c2s: unreadable stanza for a closing stream", "jid", c.user, "err", err)
		return
	}
	c.undeliverable(el)
}

func (c *conn) undeliverable(el *stanza.Element) {
	s := c.bound.Load()
	if s == nil {
		return
	}
	_, prio := s.Available()
	c.srv.core.Undeliverable(context.Background(), im.Gone{JID: s.JID(), Priority: prio, Session: s}, el)
}

// Close ends the stream, with a stream error when err is not nil
// (router.Conn). It is safe from any goroutine and idempotent. The session
// leaves the router first: its contacts hear it went unavailable before
// the client learns it must reconnect (which it may do to another node
// with the same resource), and what was routed to it before is written
// ahead of the closing tag; what is routed to it afterwards goes back to
// the core (Deliver).
func (c *conn) Close(err *stanza.StreamError) {
	if err != nil && !c.out.isClosed() {
		c.srv.cfg.Metrics.StreamErrors.WithLabelValues(string(err.Condition)).Inc()
	}
	if c.bound.Load() != nil {
		c.leave()
	}
	c.out.close(err)
	if c.bound.Load() != nil {
		c.leave() // bound in the meantime (bind checks for this too)
		c.rerouteUnacked()
	}
}

// leave takes the bound session out of the router and, if it was still
// bound (a session replaced by a conflict is not: the replacing connection
// ends it), ends it: unavailable presence and the end hooks. It acts once.
func (c *conn) leave() {
	c.relMu.Lock()
	if c.left {
		c.relMu.Unlock()
		return
	}
	c.left = true
	s := c.bound.Load()
	c.relMu.Unlock()
	if c.srv.core.Router().Unbind(s) {
		c.srv.core.SessionEnded(context.Background(), s)
	}
	c.out.mu.Lock()
	id, durable := c.out.sm.id, c.out.sm.durable
	c.out.sm.durable = false
	c.out.mu.Unlock()
	if durable {
		c.srv.marks.end(s.JID().Bare().String(), id)
	}
	c.srv.forgetResumable(id)
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
