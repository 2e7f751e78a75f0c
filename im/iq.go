package im

import (
	"context"
	"errors"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// iq routes an IQ from a bound session (RFC 6120 §8.2.3, RFC 6121 §8.5).
func (s *Server) iq(ctx context.Context, sess *router.Session, st *stanza.Element, to jid.JID) {
	typ := st.Type()
	switch typ {
	case "get", "set":
		if st.ID() == "" {
			s.bounce(sess, st, &stanza.Error{Condition: stanza.BadRequest, Text: "an iq needs an id"})
			return
		}
		if len(st.Elements()) != 1 {
			s.bounce(sess, st, &stanza.Error{Condition: stanza.BadRequest, Text: "an iq get or set carries exactly one child element"})
			return
		}
	case "result", "error":
	default:
		s.bounce(sess, st, &stanza.Error{Condition: stanza.BadRequest, Text: "unknown iq type"})
		return
	}
	self := sess.JID().Bare()
	switch {
	case to.IsZero() || to == self:
		s.serveIQ(ctx, sess, st, self, ToSelf)
	case !s.IsLocal(to.Domain()):
		s.routeRemote(ctx, sess, st, to)
	case to.Local() == "" && to.Resource() == "":
		s.serveIQ(ctx, sess, st, to, ToServer)
	case to.Local() == "":
		s.bounce(sess, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
	case s.isBlocked(ctx, self, to):
		s.bounce(sess, st, &stanza.Error{Condition: stanza.NotAcceptable, Type: stanza.Cancel, Text: "you have blocked this contact", App: stanza.New("blocked", nsBlockingErrors)})
	case s.isBlocked(ctx, to.Bare(), sess.JID()):
		s.bounce(sess, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
	case to.IsBare():
		s.serveIQ(ctx, sess, st, to, ToAccount)
	default:
		if ss := s.router.Session(to); ss != nil {
			ss.Deliver(st)
			return
		}
		s.bounce(sess, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
	}
}

// serveIQ answers an IQ addressed to the server or an account.
func (s *Server) serveIQ(ctx context.Context, sess *router.Session, st *stanza.Element, to jid.JID, target Target) {
	typ := st.Type()
	if typ == "result" || typ == "error" {
		// Answers to our pushes and pings; nothing waits on them here.
		return
	}
	payload := st.FirstElement()
	h, ok := s.handler[handlerKey{payload.Space, target}]
	if !ok {
		s.bounce(sess, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
		return
	}
	q := IQ{Stanza: st, Payload: payload, From: sess.JID(), To: to, Session: sess}
	reply, err := h.callIQ(ctx, q)
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			s.log.Error("iq handler failed", "ns", payload.Space, "err", err)
			se = &stanza.Error{Condition: stanza.InternalServerError}
		}
		s.bounce(sess, st, se)
		return
	}
	if reply != nil {
		if target == ToSelf && st.To() == "" {
			// Answer as the client addressed us: without a from.
			reply.SetAttr("from", "")
		}
		sess.Deliver(reply)
	}
}

// HandlePreBind answers an IQ from a client that has not bound a resource
// yet (in-band registration before authentication). from is zero.
func (s *Server) HandlePreBind(ctx context.Context, host string, st *stanza.Element) *stanza.Element {
	payload := st.FirstElement()
	if st.Type() != "get" && st.Type() != "set" || payload == nil {
		return stanza.ErrorReply(st, &stanza.Error{Condition: stanza.BadRequest})
	}
	h := s.handler[handlerKey{payload.Space, ToServer}]
	pre, ok := h.h.(PreAuthHandler)
	if !ok {
		return stanza.ErrorReply(st, &stanza.Error{Condition: stanza.ServiceUnavailable})
	}
	dom, _ := jid.New("", host, "")
	start := time.Now()
	reply, err := pre.HandlePreAuth(ctx, IQ{Stanza: st, Payload: payload, To: dom})
	if h.record != nil {
		h.record(time.Since(start), err != nil)
	}
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			s.log.Error("pre-auth iq failed", "ns", payload.Space, "err", err)
			se = &stanza.Error{Condition: stanza.InternalServerError}
		}
		return stanza.ErrorReply(st, se)
	}
	return reply
}

// PreAuthHandler is implemented by handlers that also answer clients that
// have not authenticated (XEP-0077 registration).
type PreAuthHandler interface {
	HandlePreAuth(ctx context.Context, q IQ) (*stanza.Element, error)
}
