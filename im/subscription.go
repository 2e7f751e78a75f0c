package im

import (
	"context"
	"errors"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// The subscription state machine of RFC 6121 §3 and Appendix A. A state is
// an item's Subscription plus its AskOut (pending out), PendingIn and
// Approved flags. Both halves — the user's outbound processing and the
// contact's inbound processing — run here, since both accounts are local.

// outboundSubscription processes a subscription stanza a user sent (A.2).
func (s *Server) outboundSubscription(ctx context.Context, sess *router.Session, st *stanza.Element, contact jid.JID, typ string) {
	if !s.IsLocal(contact.Domain()) {
		s.bounce(sess, st, &stanza.Error{Condition: stanza.RemoteServerNotFound, Text: "server-to-server federation is not enabled"})
		return
	}
	user := sess.JID().Bare()
	if contact == user {
		s.bounce(sess, st, &stanza.Error{Condition: stanza.BadRequest, Text: "you cannot subscribe to yourself"})
		return
	}
	// §3.1.2: subscription stanzas leave with bare JIDs.
	out := st.Copy()
	out.SetAttr("from", user.String())
	out.SetAttr("to", contact.String())

	it, found, err := s.item(ctx, user, contact)
	if err != nil {
		s.bounce(sess, st, s.internal("subscription", err))
		return
	}
	before := it
	route := true
	switch typ {
	case "subscribe":
		if it.Subscription == storage.SubNone || it.Subscription == storage.SubFrom {
			it.AskOut = true
		}
		it.Hidden = false
	case "subscribed":
		switch {
		case it.PendingIn:
			it.Subscription = withFrom(it.Subscription)
			it.PendingIn, it.PendingInMsg, it.Hidden = false, nil, false
		case it.Subscription == storage.SubNone || it.Subscription == storage.SubTo:
			// Pre-approval (§3.4): remembered, not sent.
			it.Approved, it.Hidden = true, false
			route = false
		default:
			route = false
		}
	case "unsubscribe":
		it.Subscription = withoutTo(it.Subscription)
		it.AskOut = false
	case "unsubscribed":
		wasFrom := it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth
		route = wasFrom || it.PendingIn
		it.Subscription = withoutFrom(it.Subscription)
		it.PendingIn, it.PendingInMsg, it.Approved = false, nil, false
		if wasFrom {
			defer s.sendUnavailableOf(ctx, user, contact)
		}
	}
	keep := changed(before, it, found)
	push := visibleChange(before, it) || !found
	if !found {
		// Only a request or a pre-approval creates an item.
		keep = typ == "subscribe" || (typ == "subscribed" && it.Approved)
	}
	if keep {
		if err := s.storeItem(ctx, user, it, push); err != nil {
			s.bounce(sess, st, err.(*stanza.Error))
			return
		}
	}
	if route {
		s.inboundSubscription(ctx, out, user, contact, typ)
	}
	if typ == "subscribed" && route {
		s.sendPresenceOf(ctx, user, contact)
	}
}

// inboundSubscription processes a subscription stanza arriving for a local
// contact from a user (A.3); it is where the contact's server acts.
func (s *Server) inboundSubscription(ctx context.Context, st *stanza.Element, from, to jid.JID, typ string) {
	if !s.IsLocal(to.Domain()) || to.Local() == "" {
		return
	}
	if s.isBlocked(ctx, to, from) {
		return
	}
	if _, err := s.store.Account(ctx, to.String()); err != nil {
		if errors.Is(err, storage.ErrNotFound) && typ == "subscribe" {
			// §3.1.3: no such contact; the user is told "unsubscribed".
			s.inboundSubscription(ctx, stanza.New("presence", stanza.NSClient, "type", "unsubscribed", "from", to.String(), "to", from.String()), to, from, "unsubscribed")
		}
		return
	}
	it, found, err := s.item(ctx, to, from)
	if err != nil {
		s.internal("inbound subscription", err)
		return
	}
	before := it
	deliver := false
	switch typ {
	case "subscribe":
		switch {
		case it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth:
			s.autoReply(ctx, to, from)
			return
		case it.Approved:
			it.Subscription = withFrom(it.Subscription)
			it.Approved = false
			if err := s.putItem(ctx, to, it); err != nil {
				return
			}
			s.autoReply(ctx, to, from)
			s.sendPresenceOf(ctx, to, from)
			return
		default:
			it.PendingIn = true
			it.PendingInMsg = st.AppendXML(nil, stanza.NSClient)
			if !found {
				it.Hidden = true
			}
			deliver = true
		}
	case "subscribed":
		if !it.AskOut {
			return
		}
		it.Subscription = withTo(it.Subscription)
		it.AskOut = false
		deliver = true
	case "unsubscribe":
		it.Subscription = withoutFrom(it.Subscription)
		it.PendingIn, it.PendingInMsg, it.Approved = false, nil, false
		deliver = changed(before, it, found)
		if before.Subscription == storage.SubFrom || before.Subscription == storage.SubBoth {
			defer s.sendUnavailableOf(ctx, to, from)
		}
	case "unsubscribed":
		it.Subscription = withoutTo(it.Subscription)
		it.AskOut = false
		deliver = changed(before, it, found)
	}
	if (found && changed(before, it, found)) || (!found && typ == "subscribe") {
		if err := s.storeItem(ctx, to, it, visibleChange(before, it)); err != nil {
			return
		}
	}
	if deliver {
		for _, ss := range s.router.Sessions(to) {
			if a, _ := ss.Available(); a {
				ss.Deliver(st)
			}
		}
	}
}

// autoReply answers a subscribe on the contact's behalf with subscribed.
func (s *Server) autoReply(ctx context.Context, contact, user jid.JID) {
	reply := stanza.New("presence", stanza.NSClient, "type", "subscribed", "from", contact.String(), "to", user.String())
	s.inboundSubscription(ctx, reply, contact, user, "subscribed")
}

// item loads owner's roster item for contact, or a fresh None item.
func (s *Server) item(ctx context.Context, owner, contact jid.JID) (storage.RosterItem, bool, error) {
	it, err := s.store.RosterItem(ctx, owner.String(), contact.String())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.RosterItem{Contact: contact.String(), Subscription: storage.SubNone}, false, nil
	}
	return it, err == nil, err
}

func changed(a, b storage.RosterItem, found bool) bool {
	return !found || a.Subscription != b.Subscription || a.AskOut != b.AskOut ||
		a.PendingIn != b.PendingIn || a.Approved != b.Approved || a.Hidden != b.Hidden
}

// visibleChange reports whether a client would see the change in a roster
// item (pending-in is not part of what the roster shows).
func visibleChange(a, b storage.RosterItem) bool {
	return a.Subscription != b.Subscription || a.AskOut != b.AskOut || a.Approved != b.Approved || a.Hidden != b.Hidden
}

func withFrom(sub string) string {
	if sub == storage.SubTo || sub == storage.SubBoth {
		return storage.SubBoth
	}
	return storage.SubFrom
}

func withTo(sub string) string {
	if sub == storage.SubFrom || sub == storage.SubBoth {
		return storage.SubBoth
	}
	return storage.SubTo
}

func withoutFrom(sub string) string {
	if sub == storage.SubBoth || sub == storage.SubTo {
		return storage.SubTo
	}
	return storage.SubNone
}

func withoutTo(sub string) string {
	if sub == storage.SubBoth || sub == storage.SubFrom {
		return storage.SubFrom
	}
	return storage.SubNone
}
