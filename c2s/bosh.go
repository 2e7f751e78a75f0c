package c2s

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/parley-im/parley/stanza"
)

// BOSH (XEP-0124) carries a client stream over HTTP requests (XEP-0206):
// each POST holds a <body/> wrapper with the client's elements, and the
// connection manager answers it with the server's, holding the request
// until it has some (long polling). A BOSH session is a msgConn like a
// WebSocket: the stream is served by the same c2s code, writing whole
// elements that wait here for the next request to carry them. What the
// client sends is parsed once, with its <body/>: the stream's read loop
// takes the body's children as they are (conn.next), in rid order, with a
// stream header at creation and at each xmpp:restart and the end of the
// stream at termination.

const (
	nsHTTPBind = "http://jabber.org/protocol/httpbind"
	nsXBOSH    = "urn:xmpp:xbosh"

	boshRequests = 2 // requests a client may have open at once
	boshHold     = 1 // of which the manager holds
)

// BOSHOptions configure the BOSH endpoint.
type BOSHOptions struct {
	// Client returns the client's address and whether its connection is
	// private (see WebSocketOptions).
	Client func(r *http.Request) (addr net.Addr, secure bool)
	// MaxWait caps how long a request is held (the client's wait);
	// Inactivity is how long a session lives with no request open.
	MaxWait, Inactivity time.Duration
}

// BOSHHandler serves BOSH sessions on an HTTP endpoint.
func (s *Server) BOSHHandler(opts BOSHOptions) http.Handler {
	if opts.MaxWait == 0 {
		opts.MaxWait = 60 * time.Second
	}
	if opts.Inactivity == 0 {
		opts.Inactivity = 60 * time.Second
	}
	return &boshManager{srv: s, opts: opts, sessions: map[string]*boshSession{}}
}

type boshManager struct {
	srv  *Server
	opts BOSHOptions

	mu       sync.Mutex
	sessions map[string]*boshSession
}

// boshSession is one client's BOSH session.
type boshSession struct {
	m    *boshManager
	sid  string
	conn *msgConn
	wait time.Duration

	mu        sync.Mutex
	cond      *sync.Cond // signalled when lastRID moves
	lastRID   uint64
	cached    map[uint64][]byte // recent responses by rid, for retransmissions
	pending   [][]byte          // elements waiting for a request
	held      []chan []byte     // held requests, oldest first
	streamID  string
	from      string
	created   bool   // the creation response went out
	ended     bool   // the stream is over
	condition string // why, for the terminate body
	idle      *time.Timer
}

func (m *boshManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "BOSH (XEP-0124) takes POST requests", http.StatusMethodNotAllowed)
		return
	}
	limit := int64(m.srv.cfg.Limits.MaxStanzaBytes)
	if limit <= 0 {
		limit = 1 << 20
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit+4096))
	if err != nil {
		writeBody(w, terminate("policy-violation"))
		return
	}
	body, err := stanza.ParseBytes(raw)
	if err != nil || !body.Is("body", nsHTTPBind) {
		http.Error(w, "expected a <body xmlns='"+nsHTTPBind+"'/> wrapper", http.StatusBadRequest)
		return
	}
	rid, err := strconv.ParseUint(body.Attr("rid"), 10, 64)
	if err != nil {
		writeBody(w, terminate("bad-request"))
		return
	}
	sid := body.Attr("sid")
	if sid == "" {
		m.create(w, r, body, rid)
		return
	}
	m.mu.Lock()
	sess := m.sessions[sid]
	m.mu.Unlock()
	if sess == nil {
		writeBody(w, terminate("item-not-found"))
		return
	}
	sess.request(w, r, body, rid, len(raw))
}

// create starts a session (XEP-0124 §7.1, XEP-0206 §3).
func (m *boshManager) create(w http.ResponseWriter, r *http.Request, body *stanza.Element, rid uint64) {
	to := body.Attr("to")
	if !m.srv.hosts[to] {
		writeBody(w, terminate("host-unknown"))
		return
	}
	wait := m.opts.MaxWait
	if v, err := strconv.Atoi(body.Attr("wait")); err == nil && v > 0 && time.Duration(v)*time.Second < wait {
		wait = time.Duration(v) * time.Second
	}
	addr, secure := m.opts.Client(r)
	sess := &boshSession{m: m, sid: randomID(16), wait: wait, lastRID: rid, cached: map[uint64][]byte{}, from: to}
	sess.cond = sync.NewCond(&sess.mu)
	conn := newMsgConn(addr)
	conn.els = make(chan []item, 1)
	conn.send = sess.output
	conn.closeFn = sess.closed
	sess.conn = conn
	if !m.srv.conns.Admit(conn) {
		writeBody(w, terminate("policy-violation"))
		return
	}
	m.mu.Lock()
	m.sessions[sess.sid] = sess
	m.mu.Unlock()
	c := newConn(m.srv, conn, false)
	c.web, c.secure, c.transport, c.elems = true, secure, transportBOSH, conn
	m.srv.start(c, nil)
	conn.putItems([]item{streamHeader(to, body.Attr("xml:lang"))})
	sess.hold(w, r, rid)
}

// streamHeader is the stream header a BOSH session's stream opens (and
// restarts) with, as the stream parser would give it.
func streamHeader(to, lang string) item {
	h := stanza.New("stream", stanza.NSStream, "xmlns", stanza.NSClient, "xmlns:stream", stanza.NSStream, "version", "1.0", "to", to)
	if lang != "" {
		h.SetAttr("xml:lang", lang)
	}
	return item{el: h, header: true}
}

// request handles a request of an existing session: its elements go to
// the stream in rid order, then it is held for the answer.
func (s *boshSession) request(w http.ResponseWriter, r *http.Request, body *stanza.Element, rid uint64, size int) {
	s.mu.Lock()
	s.stopIdle()
	switch {
	case rid <= s.lastRID:
		// A retransmission (XEP-0124 §14.3): the same answer again.
		b, ok := s.cached[rid]
		s.mu.Unlock()
		if !ok {
			b = terminate("item-not-found")
		}
		writeBody(w, b)
		return
	case rid > s.lastRID+boshRequests:
		s.mu.Unlock()
		writeBody(w, terminate("item-not-found"))
		s.conn.Close()
		return
	}
	// Requests are processed in rid order (XEP-0124 §14.2): wait for the
	// ones before this.
	deadline := time.Now().Add(s.wait)
	for rid != s.lastRID+1 && !s.ended {
		if time.Now().After(deadline) {
			s.mu.Unlock()
			writeBody(w, terminate("item-not-found"))
			return
		}
		waitCond(s.cond, time.Until(deadline))
	}
	s.lastRID = rid
	s.cond.Broadcast()
	ended := s.ended
	s.mu.Unlock()
	if ended {
		writeBody(w, terminate(s.condition))
		return
	}
	if items := s.items(body, size); len(items) > 0 && !s.conn.putItems(items) {
		writeBody(w, terminate("item-not-found"))
		return
	}
	s.hold(w, r, rid)
}

// items is what the stream takes from a request's body: its elements
// (up to one over the stream's limits, which ends the stream), a stream
// header for a restart, the end of the stream for a termination.
func (s *boshSession) items(body *stanza.Element, size int) []item {
	kids := body.Elements()
	items := make([]item, 0, len(kids)+1)
	lim := s.m.srv.cfg.Limits
	for _, el := range kids {
		if err := withinLimits(el, lim, size); err != nil {
			return append(items, item{err: err})
		}
		items = append(items, item{el: el})
	}
	if restartAttr(body) {
		items = append(items, streamHeader(s.from, body.Attr("xml:lang")))
	}
	if body.Type() == "terminate" {
		items = append(items, item{err: stanza.ErrStreamClosed})
	}
	return items
}

// withinLimits applies the stream's limits (RFC 6120 §13.12) to an element
// from a <body/>, as the stream's parser applies them to what it reads:
// nesting and attributes (namespace declarations included), and, when
// the body (of size bytes) was larger than one stanza may be, its size as
// serialized.
func withinLimits(el *stanza.Element, lim stanza.Limits, size int) error {
	depth, attrs, most := lim.MaxDepth, lim.MaxAttrs, lim.MaxStanzaBytes
	if most <= 0 {
		most = stanza.DefaultMaxStanzaBytes
	}
	if depth <= 0 {
		depth = stanza.DefaultMaxDepth
	}
	if attrs <= 0 {
		attrs = stanza.DefaultMaxAttrs
	}
	var walk func(e *stanza.Element, parent string, d int) error
	walk = func(e *stanza.Element, parent string, d int) error {
		if d > depth {
			return stanza.NewStreamError(stanza.StreamPolicyViolation, "elements nested deeper than "+strconv.Itoa(depth))
		}
		n := len(e.Attrs)
		if e.Space != parent {
			n++ // its xmlns
		}
		if n > attrs {
			return stanza.NewStreamError(stanza.StreamPolicyViolation, "more than "+strconv.Itoa(attrs)+" attributes")
		}
		for _, nd := range e.Nodes {
			if nd.Elem != nil {
				if err := walk(nd.Elem, e.Space, d+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(el, "", 1); err != nil {
		return err
	}
	if size > most && len(el.AppendXML(nil, "")) > most {
		return stanza.NewStreamError(stanza.StreamPolicyViolation, "stanza larger than "+strconv.Itoa(most)+" bytes")
	}
	return nil
}

// restartAttr finds xmpp:restart='true' (XEP-0206 §5) whatever prefix the
// client bound urn:xmpp:xbosh to.
func restartAttr(body *stanza.Element) bool {
	for _, a := range body.Attrs {
		if a.Value == "true" && (a.Name == "restart" || len(a.Name) > 8 && a.Name[len(a.Name)-8:] == ":restart") {
			return true
		}
	}
	return false
}

// waitCond waits on c (its lock held) for at most d.
func waitCond(c *sync.Cond, d time.Duration) {
	t := time.AfterFunc(d, c.Broadcast)
	c.Wait()
	t.Stop()
}

// hold answers the request with what is pending, or waits up to the
// session's wait for something to answer with.
func (s *boshSession) hold(w http.ResponseWriter, r *http.Request, rid uint64) {
	ch := make(chan []byte, 1)
	s.mu.Lock()
	s.held = append(s.held, ch)
	if len(s.held) > boshHold {
		// The client opened another request: the oldest goes back empty,
		// so the client can always send (XEP-0124 §10).
		s.respondLocked()
	}
	if len(s.pending) > 0 || s.ended {
		s.respondLocked()
	}
	s.mu.Unlock()
	t := time.NewTimer(s.wait)
	defer t.Stop()
	var b []byte
	select {
	case b = <-ch:
	case <-t.C:
	case <-r.Context().Done():
	}
	s.mu.Lock()
	if b == nil {
		// Nothing to say within wait (or the client went): answer empty,
		// unless the answer raced in meanwhile.
		select {
		case b = <-ch:
		default:
			s.dropHeldLocked(ch)
			b = s.bodyLocked(nil, "")
		}
	}
	s.cached[rid] = b
	delete(s.cached, rid-boshRequests)
	if len(s.held) == 0 && !s.ended {
		s.startIdle()
	}
	s.mu.Unlock()
	writeBody(w, b)
}

func (s *boshSession) dropHeldLocked(ch chan []byte) {
	for i, h := range s.held {
		if h == ch {
			s.held = append(s.held[:i], s.held[i+1:]...)
			return
		}
	}
}

// respondLocked answers the oldest held request with everything pending.
func (s *boshSession) respondLocked() {
	if len(s.held) == 0 {
		return
	}
	ch := s.held[0]
	s.held = s.held[1:]
	typ := ""
	if s.ended {
		typ = "terminate"
	}
	ch <- s.bodyLocked(s.pending, typ)
	s.pending = nil
}

// bodyLocked wraps elements in a response <body/>; the first response of
// a session carries its parameters (XEP-0124 §7.1, XEP-0206 §3).
func (s *boshSession) bodyLocked(els [][]byte, typ string) []byte {
	b := []byte("<body xmlns='" + nsHTTPBind + "'")
	if !s.created && s.streamID != "" {
		s.created = true
		b = append(b, " xmlns:xmpp='"+nsXBOSH+"' xmlns:stream='"+stanza.NSStream+"' sid='"...)
		b = append(b, s.sid...)
		b = append(b, "' wait='"...)
		b = strconv.AppendInt(b, int64(s.wait/time.Second), 10)
		b = append(b, "' requests='"+strconv.Itoa(boshRequests)+"' hold='"+strconv.Itoa(boshHold)+"' inactivity='"...)
		b = strconv.AppendInt(b, int64(s.m.opts.Inactivity/time.Second), 10)
		b = append(b, "' polling='2' ver='1.11' xmpp:version='1.0' xmpp:restartlogic='true' authid='"...)
		b = append(b, s.streamID...)
		b = append(b, "' from='"...)
		b = stanza.AppendAttrEscaped(b, s.from)
		b = append(b, '\'')
	}
	if typ != "" {
		b = append(b, " type='"+typ+"'"...)
		if s.condition != "" {
			b = append(b, " condition='"+s.condition+"'"...)
		}
	}
	if len(els) == 0 {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	for _, e := range els {
		b = append(b, e...)
	}
	return append(b, "</body>"...)
}

// output takes the stream's elements (msgConn.send).
func (s *boshSession) output(_ context.Context, msgs [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return errors.New("c2s: BOSH session over")
	}
	for _, m := range msgs {
		switch {
		case hasPrefix(m, "<open"):
			if el, err := stanza.ParseBytes(m); err == nil {
				s.streamID = el.Attr("id")
			}
			continue // the session's attributes say it
		case hasPrefix(m, "<close"):
			s.ended = true
		case hasPrefix(m, "<stream:error"):
			s.condition = "remote-stream-error"
			s.pending = append(s.pending, m)
		default:
			s.pending = append(s.pending, m)
		}
	}
	if len(s.held) > 0 && (len(s.pending) > 0 || s.ended) {
		s.respondLocked()
	}
	return nil
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// closed ends the session (msgConn.closeFn): held requests get the end.
func (s *boshSession) closed() {
	s.mu.Lock()
	s.ended = true
	s.stopIdle()
	for len(s.held) > 0 {
		s.respondLocked()
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	s.conn.endInput(io.EOF)
	s.m.mu.Lock()
	delete(s.m.sessions, s.sid)
	s.m.mu.Unlock()
}

// startIdle starts the inactivity timer: no request open for that long
// and the client is gone (its stream ends as if the connection broke, so
// stream management can still resume it).
func (s *boshSession) startIdle() {
	s.idle = time.AfterFunc(s.m.opts.Inactivity, func() {
		s.mu.Lock()
		gone := len(s.held) == 0 && !s.ended
		if gone {
			s.ended = true
		}
		s.mu.Unlock()
		if gone {
			s.conn.endInput(io.ErrUnexpectedEOF)
			s.m.mu.Lock()
			delete(s.m.sessions, s.sid)
			s.m.mu.Unlock()
		}
	})
}

func (s *boshSession) stopIdle() {
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
}

func terminate(condition string) []byte {
	return []byte("<body xmlns='" + nsHTTPBind + "' type='terminate' condition='" + condition + "'/>")
}

func writeBody(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
