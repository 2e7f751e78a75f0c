package im

import (
	"context"
	"strconv"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// presence handles presence a local session sent (RFC 6121 §3, §4).
func (s *Server) presence(ctx context.Context, sess *router.Session, st *stanza.Element, to jid.JID) {
	typ := st.Type()
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		if to.IsZero() {
			s.bounce(sess, st, &stanza.Error{Condition: stanza.BadRequest, Text: "subscription requests need a 'to'"})
			return
		}
		s.outboundSubscription(ctx, sess, st, to.Bare(), typ)
		return
	case "probe":
		// Clients do not probe; the server does it for them (§4.3).
		return
	case "", "unavailable", "error":
	default:
		s.bounce(sess, st, &stanza.Error{Condition: stanza.BadRequest, Text: "unknown presence type"})
		return
	}
	if to.IsZero() {
		if typ == "error" {
			return
		}
		s.broadcast(ctx, sess, st, typ == "")
		return
	}
	s.directed(ctx, sess, st, to, typ)
}

// broadcast handles presence without 'to': the user's availability.
func (s *Server) broadcast(ctx context.Context, sess *router.Session, st *stanza.Element, available bool) {
	prio := 0
	if p := st.Child("priority", ""); p != nil {
		if n, err := strconv.Atoi(p.Text()); err == nil && n >= -128 && n <= 127 {
			prio = n
		}
	}
	wasAvailable, prevPrio := sess.Available()
	if !available && !wasAvailable {
		return
	}
	initial := sess.SetPresence(st, available, prio)
	owner := sess.JID().Bare()
	items, _, err := s.store.Roster(ctx, owner.String())
	if err != nil {
		s.log.Error("presence: roster load failed", "jid", owner, "err", err)
	}
	// To contacts subscribed to us, and to all of our own available
	// resources including this one (§4.2.2, §4.4.2).
	for _, it := range items {
		if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth {
			c, err := jid.Parse(it.Contact)
			if err != nil || s.isBlocked(ctx, owner, c) {
				continue
			}
			s.deliverPresence(ctx, st, sess.JID(), c)
		}
	}
	// (The sender's own session sees its presence even when it is the one
	// going unavailable, unless the session has ended and left the router.)
	if a, _ := sess.Available(); !a && s.router.Session(sess.JID()) == sess {
		sess.Deliver(st)
	}
	s.router.DeliverAvailable(owner, st)
	if !available {
		for _, d := range sess.TakeDirected() {
			s.deliverPresence(ctx, st, sess.JID(), d)
		}
		return
	}
	if !initial {
		if prio >= 0 && prevPrio < 0 {
			// Offline messages wait for a non-negative priority (XEP-0160).
			s.deliverOffline(ctx, sess)
		}
		return
	}
	// Initial presence: probe the contacts we are subscribed to, show the
	// user's other resources, hand over pending subscription requests and
	// offline messages (§4.2.2, §3.1.3, XEP-0160).
	for _, it := range items {
		if it.Subscription == storage.SubTo || it.Subscription == storage.SubBoth {
			if c, err := jid.Parse(it.Contact); err == nil {
				s.probe(ctx, sess, c)
			}
		}
	}
	for _, ss := range s.router.Sessions(owner) {
		if ss == sess {
			continue
		}
		if p := ss.Presence(); p != nil {
			sess.Deliver(p)
		}
	}
	for _, it := range items {
		if it.PendingIn && len(it.PendingInMsg) > 0 {
			if req, err := stanza.ParseBytes(it.PendingInMsg); err == nil {
				sess.Deliver(req)
			}
		}
	}
	if prio >= 0 {
		s.deliverOffline(ctx, sess)
	}
}

// directed handles presence sent to one entity (§4.6).
func (s *Server) directed(ctx context.Context, sess *router.Session, st *stanza.Element, to jid.JID, typ string) {
	if !s.IsLocal(to.Domain()) {
		s.routeRemote(ctx, sess, st, to)
		return
	}
	if typ != "error" {
		owner := sess.JID().Bare()
		it, err := s.store.RosterItem(ctx, owner.String(), to.Bare().String())
		subscribed := err == nil && (it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth)
		if !subscribed {
			sess.AddDirected(to, typ == "")
		}
	}
	if to.Local() == "" {
		return
	}
	s.deliverPresence(ctx, st, sess.JID(), to)
}

// deliverPresence hands a presence to a local user: to one resource for a
// full JID, to every available resource for a bare JID (§8.5.2.1.1).
func (s *Server) deliverPresence(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	if s.presenceToComponent(st, to) || to.Local() == "" || !s.IsLocal(to.Domain()) {
		return
	}
	if s.isBlocked(ctx, to.Bare(), from) {
		return
	}
	if !to.IsBare() {
		if ss := s.router.Session(to); ss != nil {
			ss.Deliver(st)
		}
		return
	}
	s.router.DeliverAvailable(to, st)
}

// probe answers, on the contact's behalf, a probe from sess: the contact's
// available resources' presence, if the contact lets the user see it.
func (s *Server) probe(ctx context.Context, sess *router.Session, contact jid.JID) {
	if !s.IsLocal(contact.Domain()) || contact.Local() == "" {
		return
	}
	user := sess.JID().Bare()
	it, err := s.store.RosterItem(ctx, contact.String(), user.String())
	if err != nil || (it.Subscription != storage.SubFrom && it.Subscription != storage.SubBoth) {
		return
	}
	if s.isBlocked(ctx, contact, user) || s.isBlocked(ctx, user, contact) {
		return
	}
	for _, ss := range s.router.Sessions(contact) {
		if p := ss.Presence(); p != nil {
			sess.Deliver(p)
		}
	}
}

// sendPresenceOf sends the presence of every available resource of from to
// the bare JID to (used after a subscription is approved).
func (s *Server) sendPresenceOf(ctx context.Context, from, to jid.JID) {
	for _, ss := range s.router.Sessions(from) {
		if p := ss.Presence(); p != nil {
			s.deliverPresence(ctx, p, ss.JID(), to)
		}
	}
}

// sendUnavailableOf sends unavailable presence from every available
// resource of from to the bare JID to (after a subscription ends).
func (s *Server) sendUnavailableOf(ctx context.Context, from, to jid.JID) {
	for _, ss := range s.router.Sessions(from) {
		if a, _ := ss.Available(); a {
			u := stanza.New("presence", stanza.NSClient, "type", "unavailable", "from", ss.JID().String(), "to", to.String())
			s.deliverPresence(ctx, u, ss.JID(), to)
		}
	}
}

// SessionEnded broadcasts unavailable presence for a session that went away
// without saying so (RFC 6121 §4.5.2).
func (s *Server) SessionEnded(ctx context.Context, sess *router.Session) {
	if a, _ := sess.Available(); a {
		u := stanza.New("presence", stanza.NSClient, "type", "unavailable", "from", sess.JID().String())
		s.broadcast(ctx, sess, u, false)
	} else {
		sess.TakeDirected()
	}
	for _, fn := range s.ended {
		fn(sess)
	}
}

// RemoteSessionGone tells this node's users that a session on another node
// went away without saying so (its node died, or left): unavailable presence
// to the local resources of its contacts and of its own account. Every node
// does this for its own users, so each contact hears it once.
func (s *Server) RemoteSessionGone(ctx context.Context, sess *router.Session) {
	if a, _ := sess.Available(); !a {
		return
	}
	u := stanza.New("presence", stanza.NSClient, "type", "unavailable", "from", sess.JID().String())
	s.tellLocalWatchers(ctx, sess.JID().Bare(), u, false)
}

// RemoteSessionBack is the converse of RemoteSessionGone: a session on
// another node that this node had given up for gone (its node was cut off
// and declared dead) turns out to be alive, so this node's users who were
// told it went unavailable get its current presence again: the local
// available resources of its contacts (those it lets see its presence,
// blocking aside) and of its own account. Every node does this for its own
// users.
func (s *Server) RemoteSessionBack(ctx context.Context, sess *router.Session) {
	p := sess.Presence()
	if a, _ := sess.Available(); !a || p == nil {
		return
	}
	s.tellLocalWatchers(ctx, sess.JID().Bare(), p, true)
}

// tellLocalWatchers delivers a presence of one of owner's sessions on
// another node to the available resources on this node of owner's account
// and of the contacts it lets see its presence (subscription from or both;
// with checkBlocks, not those blocked either way).
func (s *Server) tellLocalWatchers(ctx context.Context, owner jid.JID, p *stanza.Element, checkBlocks bool) {
	targets := []jid.JID{owner}
	items, _, err := s.store.Roster(ctx, owner.String())
	if err != nil {
		s.log.Error("presence: roster load failed", "jid", owner, "err", err)
	}
	for _, it := range items {
		if it.Subscription != storage.SubFrom && it.Subscription != storage.SubBoth {
			continue
		}
		c, err := jid.Parse(it.Contact)
		if err != nil || checkBlocks && (s.isBlocked(ctx, owner, c) || s.isBlocked(ctx, c, owner)) {
			continue
		}
		targets = append(targets, c)
	}
	for _, t := range targets {
		for _, ss := range s.router.Sessions(t) {
			if a, _ := ss.Available(); a && ss.IsLocal() {
				ss.Deliver(p)
			}
		}
	}
}
