package im

import (
	"context"
	"errors"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

const (
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsHints      = "urn:xmpp:hints"
)

// message routes a message from a local session (RFC 6121 §8.5).
func (s *Server) message(ctx context.Context, sess *router.Session, st *stanza.Element, to jid.JID) {
	if to.IsZero() {
		// RFC 6120 §10.3.1: no 'to' means the sender's bare JID.
		to = sess.JID().Bare()
	}
	if !s.IsLocal(to.Domain()) {
		s.routeRemote(ctx, sess, st, to)
		return
	}
	if to.Local() == "" {
		// Messages to the server itself: nothing here consumes them.
		return
	}
	if s.isBlocked(ctx, sess.JID().Bare(), to) {
		s.bounce(sess, st, &stanza.Error{Condition: stanza.NotAcceptable, Type: stanza.Cancel, Text: "you have blocked this contact", App: stanza.New("blocked", nsBlockingErrors)})
		return
	}
	if s.isBlocked(ctx, to.Bare(), sess.JID()) {
		// Refused before it is archived for the blocker (see deliverMessage).
		s.bounce(sess, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
		return
	}
	a, ok := s.archiveMessage(ctx, sess, st, sess.JID(), to)
	if !ok {
		return
	}
	s.deliverMessage(ctx, a.st, sess.JID(), to)
	s.sentCarbons(sess, a.sent, to)
}

// deliverMessage delivers a message to a local user, whoever sent it.
func (s *Server) deliverMessage(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	if s.isBlocked(ctx, to.Bare(), from) {
		// XEP-0191 §3.3: the blocker is invisible; the sender learns only
		// that the service is unavailable.
		s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
		return
	}
	typ := st.Type()
	if !to.IsBare() {
		if ss := s.router.Session(to); ss != nil {
			ss.Deliver(st)
			s.receivedCarbons(st, to, ss, nil)
			return
		}
		// §8.5.3.2.1: no such resource.
		switch typ {
		case "error", "headline":
			return
		case "groupchat":
			s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
			return
		}
	}
	// §8.5.2: bare JID, or a full JID with no session, treated as bare.
	switch typ {
	case "error":
		return
	case "groupchat":
		s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
		return
	}
	targets := s.messageTargets(to.Bare(), typ)
	if len(targets) > 0 {
		for _, ss := range targets {
			ss.Deliver(st)
		}
		s.receivedCarbons(st, to, nil, targets)
		return
	}
	if typ == "headline" {
		return
	}
	s.storeOffline(ctx, st, to.Bare())
}

// messageTargets picks the resources a message to a bare JID goes to:
// the available resources with the highest non-negative priority; for
// headlines every available non-negative resource (§8.5.2.1.1).
func (s *Server) messageTargets(bare jid.JID, typ string) []*router.Session {
	return pickTargets(s.router.Sessions(bare), typ == "headline")
}

// storeOffline keeps a message for a user with no available resource
// (XEP-0160), stamped with its delay (XEP-0203).
func (s *Server) storeOffline(ctx context.Context, st *stanza.Element, to jid.JID) {
	if !worthStoring(st) {
		return
	}
	if s.maxOff <= 0 {
		// limits.max_offline_messages: 0 means the operator keeps none.
		s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.ServiceUnavailable, Text: "the recipient is offline and this server stores no offline messages"})
		return
	}
	if _, err := s.store.Account(ctx, to.String()); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.ServiceUnavailable})
		} else {
			s.log.Error("offline: account lookup failed", "to", to, "err", err)
			s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.InternalServerError})
		}
		return
	}
	stamped := st.Copy()
	stamped.Append(stanza.New("delay", stanza.NSDelay, "from", to.Domain(), "stamp", s.now().UTC().Format(time.RFC3339Nano)))
	err := s.store.StoreOffline(ctx, to.String(), stamped.AppendXML(nil, stanza.NSClient), s.maxOff)
	if err == nil {
		s.offlineStored(ctx, to)
		s.offlineMessage(to, st)
		return
	}
	switch {
	case errors.Is(err, storage.ErrQuota):
		s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.ServiceUnavailable, Text: "the recipient's offline storage is full"})
	case err != nil:
		s.log.Error("offline: store failed", "to", to, "err", err)
		s.bounceTo(ctx, st, &stanza.Error{Condition: stanza.InternalServerError, Text: "could not store the message"})
	}
}

// worthStoring drops what only makes sense live: chat states alone, and
// messages marked no-store (XEP-0334).
func worthStoring(st *stanza.Element) bool {
	switch st.Type() {
	case "", "normal", "chat":
	default:
		return false
	}
	content := false
	for _, c := range st.Elements() {
		switch {
		case c.Space == nsHints && (c.Name == "no-store" || c.Name == "no-permanent-store"):
			return false
		case c.Space == nsHints && c.Name == "store":
			content = true
		case c.Space == nsChatStates, c.Space == nsHints:
		default:
			content = true
		}
	}
	return content
}

// offlineStored closes the window between deciding a user is offline and
// the stored message being committed: if a session became available
// meanwhile, its initial presence may have taken the offline messages just
// before this one was committed. So after every commit, a local available
// session takes what is stored (taking is atomic, so nothing is delivered
// twice), and in a cluster the other nodes are told to do the same
// (Cluster.OfflineStored). A session that becomes available after this check
// takes the message at its initial presence, which now follows the commit.
func (s *Server) offlineStored(ctx context.Context, bare jid.JID) {
	s.DeliverPendingOffline(ctx, bare)
	if s.cluster != nil {
		s.cluster.OfflineStored(bare)
	}
}

// DeliverPendingOffline hands what is stored offline for bare to its
// best available local session with a non-negative priority, if it has
// one (see offlineStored).
func (s *Server) DeliverPendingOffline(ctx context.Context, bare jid.JID) {
	var best *router.Session
	bestPrio := -1
	for _, ss := range s.router.Sessions(bare) {
		if ok, prio := ss.Available(); ok && ss.IsLocal() && prio > bestPrio {
			best, bestPrio = ss, prio
		}
	}
	if best != nil {
		s.deliverOffline(ctx, best)
	}
}

// deliverOffline sends a newly available session what was stored for it.
func (s *Server) deliverOffline(ctx context.Context, sess *router.Session) {
	s.DeliverOfflineExcept(ctx, sess, nil)
}

// DeliverOfflineExcept sends sess what was stored offline for its account,
// but for messages whose stanza-id (by the account) is in skip: the caller
// delivered those already.
func (s *Server) DeliverOfflineExcept(ctx context.Context, sess *router.Session, skip map[string]bool) {
	owner := sess.JID().Bare().String()
	msgs, err := s.store.TakeOffline(ctx, owner)
	if err != nil {
		s.log.Error("offline: take failed", "jid", sess.JID(), "err", err)
		return
	}
	for _, m := range msgs {
		el, err := stanza.ParseBytes(m.Stanza)
		if err != nil {
			s.log.Error("offline: stored message unreadable", "jid", sess.JID(), "id", m.ID, "err", err)
			continue
		}
		if len(skip) > 0 && skip[stanzaIDs(el)[owner]] {
			continue
		}
		sess.Deliver(el)
	}
}

// stanzaIDs returns the <stanza-id/> ids of a message by their 'by'.
func stanzaIDs(el *stanza.Element) map[string]string {
	var ids map[string]string
	for _, c := range el.Elements() {
		if c.Is("stanza-id", NSStanzaID) {
			if ids == nil {
				ids = map[string]string{}
			}
			ids[c.Attr("by")] = c.Attr("id")
		}
	}
	return ids
}
