package im

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// External components (XEP-0114) in the routing core. A component serves
// one domain of its own; the component package enters its connection in
// the router as <domain>/component (ComponentResource), so the cluster
// directory replicates it like a client's session and every node routes
// to it. Stanzas from local users to the domain, or to any address at it,
// go to that entry (routeRemote); stanzas the component sends come in
// through FromComponent and are routed like those of a remote server.
// Request sends the server's own IQs to a component (the push module's
// publishes) and waits for the answer, wherever in the cluster the
// component is connected.

// ComponentResource is the resource of a component's router entry: a
// component serving push.example.com is push.example.com/component. A
// bare domain JID would do, but the cluster directory replicates only
// full JIDs.
const ComponentResource = "component"

// ErrNoComponent is returned by Request when no component serving the
// domain is connected (anywhere in the cluster).
var ErrNoComponent = errors.New("im: the component is not connected")

// components is the core's state about components.
type components struct {
	// entries maps each configured component domain to its router entry's
	// JID; written only before serving (AddComponent).
	entries map[string]jid.JID

	mu      sync.Mutex            // guards pending
	pending map[string]*pendingIQ // our request id -> who waits for the answer
}

// pendingIQ is a Request waiting for its answer.
type pendingIQ struct {
	peer jid.JID              // the request's 'to': the answer must come from there
	ch   chan *stanza.Element // buffered: the answer is handed over without waiting
}

// AddComponent declares a component domain (config components). Stanzas
// to it go to the component connected for it, or are answered
// service-unavailable while none is. Call before serving.
func (s *Server) AddComponent(domain string) error {
	entry, err := jid.New("", domain, ComponentResource)
	if err != nil {
		return err
	}
	if s.comp.entries == nil {
		s.comp.entries = make(map[string]jid.JID)
	}
	s.comp.entries[domain] = entry
	return nil
}

// IsComponent reports whether the domain is a declared component's.
func (s *Server) IsComponent(domain string) bool {
	_, ok := s.comp.entries[domain]
	return ok
}

// ComponentJID is the router entry of the component serving domain (see
// ComponentResource); ok is false for a domain that is not a component's.
func (s *Server) ComponentJID(domain string) (entry jid.JID, ok bool) {
	entry, ok = s.comp.entries[domain]
	return entry, ok
}

// componentSession returns the router entry of the component serving
// domain, local or on another node, or nil when none is connected.
func (s *Server) componentSession(domain string) *router.Session {
	entry, ok := s.comp.entries[domain]
	if !ok {
		return nil
	}
	return s.router.Session(entry)
}

// routeRemote routes a stanza a local session sent to a domain that is not
// one of ours: to a component, or refused (there is no server-to-server
// federation).
func (s *Server) routeRemote(ctx context.Context, sess *router.Session, st *stanza.Element, to jid.JID) {
	if !s.IsComponent(to.Domain()) {
		s.bounce(sess, st, &stanza.Error{Condition: stanza.RemoteServerNotFound, Text: "server-to-server federation is not enabled"})
		return
	}
	if s.isBlocked(ctx, sess.JID().Bare(), to) {
		s.bounce(sess, st, &stanza.Error{Condition: stanza.NotAcceptable, Type: stanza.Cancel, Text: "you have blocked this contact", App: stanza.New("blocked", nsBlockingErrors)})
		return
	}
	if st.Name == "presence" {
		// Directed presence (RFC 6121 §4.6): the component hears when the
		// session goes unavailable.
		switch st.Type() {
		case "":
			sess.AddDirected(to, true)
		case "unavailable":
			sess.AddDirected(to, false)
		}
	}
	s.toComponent(ctx, st, to)
}

// toComponent hands st to the component serving to's domain. While none is
// connected, messages and IQ requests are answered service-unavailable.
func (s *Server) toComponent(ctx context.Context, st *stanza.Element, to jid.JID) {
	if c := s.componentSession(to.Domain()); c != nil {
		c.Deliver(st)
		return
	}
	if st.Name == "message" || st.Name == "iq" && (st.Type() == "get" || st.Type() == "set") {
		s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.ServiceUnavailable, Text: "the component serving " + to.Domain() + " is not connected"})
	}
}

// presenceToComponent delivers a presence for an address at a component's
// domain (a contact there, or a directed presence's target going
// unavailable); it reports false, doing nothing, for other addresses.
func (s *Server) presenceToComponent(st *stanza.Element, to jid.JID) bool {
	if !s.IsComponent(to.Domain()) {
		return false
	}
	c := s.componentSession(to.Domain())
	if c == nil {
		return true
	}
	if st.To() != to.String() {
		// Broadcast presence has no 'to'; a component serves many
		// addresses and needs it.
		st = st.Copy()
		st.SetAttr("to", to.String())
	}
	c.Deliver(st)
	return true
}

// FromComponent routes a stanza a component sent (XEP-0114 §3). The
// component package has checked that 'from' is at the component's domain
// and that 'to' is present; the stanza is in the jabber:client namespace.
// It is routed as a stanza from another server would be: to local users
// (messages as RFC 6121 §8.5 says, including offline storage), to the
// server's and accounts' IQ handlers, to another component; answers to
// Request reach their waiter.
func (s *Server) FromComponent(ctx context.Context, st *stanza.Element) {
	from, err := jid.Parse(st.From())
	if err != nil {
		return
	}
	to, err := jid.Parse(st.To())
	if err != nil {
		s.componentBounce(ctx, st, from, &stanza.Error{Condition: stanza.JIDMalformed, Text: "the 'to' address is not a valid JID"})
		return
	}
	if st.Name == "iq" && s.answered(st, from) {
		return
	}
	if !s.IsLocal(to.Domain()) {
		if s.IsComponent(to.Domain()) {
			s.toComponent(ctx, st, to)
			return
		}
		s.componentBounce(ctx, st, from, &stanza.Error{Condition: stanza.RemoteServerNotFound, Text: "server-to-server federation is not enabled"})
		return
	}
	switch st.Name {
	case "message":
		if to.Local() == "" {
			return // to the server itself: nothing here consumes messages
		}
		s.deliverMessage(ctx, st, from, to)
	case "presence":
		switch st.Type() {
		case "", "unavailable", "error":
			s.deliverPresence(ctx, st, from, to)
		}
		// Subscription requests are not taken from components: a user
		// could not answer them (subscriptions to other domains are
		// refused, there being no federation).
	case "iq":
		s.componentIQ(ctx, st, from, to)
	}
}

// componentIQ routes an IQ from a component to a local address.
func (s *Server) componentIQ(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	switch st.Type() {
	case "result", "error":
		// An answer to a client's request; answers to the server's own
		// requests were taken by answered.
		if to.Local() != "" && !to.IsBare() {
			if ss := s.router.Session(to); ss != nil {
				ss.Deliver(st)
			}
		}
		return
	case "get", "set":
	default:
		s.componentBounce(ctx, st, from, &stanza.Error{Condition: stanza.BadRequest, Text: "unknown iq type"})
		return
	}
	if st.ID() == "" || len(st.Elements()) != 1 {
		s.componentBounce(ctx, st, from, &stanza.Error{Condition: stanza.BadRequest, Text: "an iq get or set carries an id and exactly one child element"})
		return
	}
	var target Target
	switch {
	case to.Local() == "" && to.Resource() == "":
		target = ToServer
	case to.Local() == "":
		s.componentBounce(ctx, st, from, &stanza.Error{Condition: stanza.ServiceUnavailable})
		return
	case s.isBlocked(ctx, to.Bare(), from):
		s.componentBounce(ctx, st, from, &stanza.Error{Condition: stanza.ServiceUnavailable})
		return
	case !to.IsBare():
		if ss := s.router.Session(to); ss != nil {
			ss.Deliver(st)
			return
		}
		s.componentBounce(ctx, st, from, &stanza.Error{Condition: stanza.ServiceUnavailable})
		return
	default:
		target = ToAccount
	}
	payload := st.FirstElement()
	h, ok := s.handler[handlerKey{payload.Space, target}]
	if !ok {
		s.componentBounce(ctx, st, from, &stanza.Error{Condition: stanza.ServiceUnavailable})
		return
	}
	reply, err := h.callIQ(ctx, IQ{Stanza: st, Payload: payload, From: from, To: to})
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			s.log.Error("iq handler failed", "ns", payload.Space, "from", from, "err", err)
			se = &stanza.Error{Condition: stanza.InternalServerError}
		}
		s.componentBounce(ctx, st, from, se)
		return
	}
	if reply != nil {
		s.toComponent(ctx, reply, from)
	}
}

// componentBounce answers a component's stanza with an error, unless it is
// an error or an IQ result itself (those are never answered).
func (s *Server) componentBounce(ctx context.Context, st *stanza.Element, from jid.JID, e *stanza.Error) {
	if t := st.Type(); t == "error" || st.Name == "iq" && t == "result" {
		return
	}
	s.toComponent(ctx, stanza.ErrorReply(st, e), from)
}

// Request sends an IQ get or set, with its 'from' (a local address) and
// 'to' (an address at a component's domain), to the component serving
// that domain, wherever in the cluster it is connected, and waits for the
// answer until ctx ends. The id is the server's. A type='error' answer is
// returned with its error as a *stanza.Error; ErrNoComponent means the
// component is not connected.
func (s *Server) Request(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	to, err := jid.Parse(iq.To())
	if err != nil {
		return nil, &stanza.Error{Condition: stanza.JIDMalformed, Text: "the 'to' address is not a valid JID"}
	}
	c := s.componentSession(to.Domain())
	if c == nil {
		return nil, ErrNoComponent
	}
	var reply *stanza.Element
	if !c.IsLocal() && s.cluster != nil {
		reply, err = s.cluster.Request(ctx, c, iq)
	} else {
		reply, err = s.request(ctx, c, iq, to)
	}
	if err != nil {
		return nil, err
	}
	if reply.Type() == "error" {
		return reply, replyError(reply)
	}
	return reply, nil
}

// RequestLocal is Request for a component connected to this node only:
// the cluster directory calls it for requests from other nodes. The
// answer is returned as it came, a result or an error.
func (s *Server) RequestLocal(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	to, err := jid.Parse(iq.To())
	if err != nil {
		return nil, &stanza.Error{Condition: stanza.JIDMalformed, Text: "the 'to' address is not a valid JID"}
	}
	c := s.componentSession(to.Domain())
	if c == nil || !c.IsLocal() {
		return nil, ErrNoComponent
	}
	return s.request(ctx, c, iq, to)
}

// request delivers iq, under a fresh id, to a component's entry c and
// waits for the answer, which FromComponent hands over (answered).
func (s *Server) request(ctx context.Context, c *router.Session, iq *stanza.Element, to jid.JID) (*stanza.Element, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := "parley-" + hex.EncodeToString(b[:])
	iq = iq.Copy()
	iq.SetAttr("id", id)
	p := &pendingIQ{peer: to, ch: make(chan *stanza.Element, 1)}
	s.comp.mu.Lock()
	if s.comp.pending == nil {
		s.comp.pending = make(map[string]*pendingIQ)
	}
	s.comp.pending[id] = p
	s.comp.mu.Unlock()
	defer func() {
		s.comp.mu.Lock()
		delete(s.comp.pending, id)
		s.comp.mu.Unlock()
	}()
	c.Deliver(iq)
	select {
	case reply := <-p.ch:
		return reply, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// answered hands an IQ answer from a component to the Request waiting for
// it, and reports whether there was one. The answer must come from the
// address the request went to (RFC 6120 §8.2.3 pairs them by id; checking
// the sender keeps one component from answering for another).
func (s *Server) answered(st *stanza.Element, from jid.JID) bool {
	if t := st.Type(); t != "result" && t != "error" {
		return false
	}
	s.comp.mu.Lock()
	p := s.comp.pending[st.ID()]
	if p == nil || p.peer != from {
		s.comp.mu.Unlock()
		return false
	}
	delete(s.comp.pending, st.ID())
	s.comp.mu.Unlock()
	p.ch <- st
	return true
}

// replyError reads the stanza error of a type='error' answer (RFC 6120
// §8.3.2); a malformed one is undefined-condition.
func replyError(reply *stanza.Element) *stanza.Error {
	e := &stanza.Error{Condition: stanza.UndefinedCondition}
	el := reply.Child("error", "")
	if el == nil {
		return e
	}
	e.Type = stanza.ErrorType(el.Attr("type"))
	e.By = el.Attr("by")
	for _, c := range el.Elements() {
		switch {
		case c.Space != stanza.NSStanzas:
			e.App = c
		case c.Name == "text":
			e.Text = c.Text()
		default:
			e.Condition = stanza.Condition(c.Name)
		}
	}
	return e
}
