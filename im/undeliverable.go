package im

import (
	"context"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// Gone describes a resource that a stanza was routed to but which ended
// before the stanza could be written to it: its stream was closing (drain,
// shutdown, conflict, a client that stopped reading), or, in a cluster, it
// had left its node by the time the stanza arrived there.
type Gone struct {
	JID      jid.JID
	Priority int             // its presence priority when the stanza was routed
	Session  *router.Session // the local session, when there is one; never delivered to again
	// Rerouted says the stanza was already routed once more after an
	// earlier miss: it then goes only to resources on this node, else to
	// offline storage, so that nodes with stale views of each other cannot
	// pass it back and forth.
	Rerouted bool
	// Forward, when set, carries the stanza to a resource on another node
	// instead of that session's Deliver (the cluster marks it rerouted).
	Forward func(*router.Session, *stanza.Element)
}

// Undeliverable takes back a stanza routed to a resource that is gone, so
// that nothing the server accepted is dropped on the way out (RFC 6121
// §8.5.3.2 as if the resource had not been there):
//
//   - a message addressed to that full JID, or one it got from offline
//     storage, goes to the user's other resources or to offline storage;
//   - a message to the bare JID goes to the other resources only if none of
//     them already got it (one of equal or higher priority was a target
//     too), else it is done;
//   - an IQ request is answered service-unavailable, so the requester does
//     not wait for ever; presence, IQ replies, errors and headlines are
//     dropped (presence is state: contacts get the unavailable presence
//     when the session ends).
func (s *Server) Undeliverable(ctx context.Context, g Gone, st *stanza.Element) {
	switch st.Name {
	case "iq":
		if t := st.Type(); t == "get" || t == "set" {
			s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
		}
		return
	case "message":
	default:
		return
	}
	switch st.Type() {
	case "", "normal", "chat":
	default:
		return
	}
	to, err := jid.Parse(st.To())
	if err != nil || to.IsZero() {
		to = g.JID
	}
	bare := g.JID.Bare()
	if to.Bare() != bare {
		return // not this user's (cannot happen: the router delivered it)
	}
	single := !to.IsBare() || fromOffline(st, bare)
	var others []*router.Session
	for _, ss := range s.router.Sessions(bare) {
		if ss == g.Session || g.Rerouted && !ss.IsLocal() {
			continue
		}
		ok, prio := ss.Available()
		if !ok || prio < 0 {
			continue
		}
		if !single && ss.JID() != g.JID && prio >= g.Priority && g.Priority >= 0 {
			return // a co-target of the message: the user has it
		}
		others = append(others, ss)
	}
	if !to.IsBare() {
		if ss := s.router.Session(to); ss != nil && ss != g.Session && (!g.Rerouted || ss.IsLocal()) {
			// The full JID is bound again (a conflict replaced the
			// session, or the client reconnected to another node).
			g.deliver(ss, st)
			return
		}
	}
	targets := pickTargets(others, false)
	if len(targets) == 0 {
		s.storeOffline(ctx, st, bare)
		return
	}
	for _, ss := range targets {
		g.deliver(ss, st)
	}
}

func (g Gone) deliver(ss *router.Session, st *stanza.Element) {
	if g.Forward != nil && !ss.IsLocal() {
		g.Forward(ss, st)
		return
	}
	ss.Deliver(st)
}

// fromOffline reports whether st came out of the user's offline storage
// (it carries the delay stamp storeOffline added): it was delivered to one
// session only.
func fromOffline(st *stanza.Element, bare jid.JID) bool {
	for _, c := range st.Elements() {
		if c.Is("delay", stanza.NSDelay) && c.Attr("from") == bare.Domain() {
			return true
		}
	}
	return false
}

// pickTargets applies §8.5.2.1.1 to a list of sessions: of the available
// ones with a non-negative priority, those with the highest priority, or
// every one when all is set (headlines).
func pickTargets(list []*router.Session, all bool) []*router.Session {
	var out []*router.Session
	best := -1
	for _, ss := range list {
		avail, prio := ss.Available()
		if !avail || prio < 0 {
			continue
		}
		switch {
		case all:
			out = append(out, ss)
		case prio > best:
			best = prio
			out = append(out[:0], ss)
		case prio == best:
			out = append(out, ss)
		}
	}
	return out
}
