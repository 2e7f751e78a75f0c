package im

import (
	"slices"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// Message Carbons (XEP-0280): a user's resources that enabled carbons
// (modules/carbons sets router.Session.SetCarbons) get a copy of the chat
// messages the user's other resources send and receive, so every device
// shows the whole conversation. The copies are made where the message is
// routed, for local and remote resources alike.

// NSCarbons is the Message Carbons namespace.
const NSCarbons = "urn:xmpp:carbons:2"

const (
	nsForward  = "urn:xmpp:forward:0"
	nsReceipts = "urn:xmpp:receipts"
	nsMarkers  = "urn:xmpp:chat-markers:0"
)

// carbonsEligible reports whether a message is copied (XEP-0280 §6.1):
// chat messages, normal ones with a body, and receipts and chat markers;
// not groupchat, not errors, not messages marked private or no-copy, and
// not carbons themselves.
func carbonsEligible(st *stanza.Element) bool {
	eligible := false
	switch st.Type() {
	case "chat":
		eligible = true
	case "", "normal":
		eligible = st.Child("body", stanza.NSClient) != nil
	case "groupchat", "error", "headline":
		return false
	}
	for _, c := range st.Elements() {
		switch {
		case c.Space == NSCarbons:
			return false // <private/>, or already a carbon
		case c.Is("no-copy", nsHints):
			return false
		case c.Space == nsReceipts || c.Space == nsMarkers:
			eligible = true
		}
	}
	return eligible
}

// sentCarbons copies a message a user's session sent to the user's other
// resources that enabled carbons (XEP-0280 §7.2). st has 'from' stamped.
func (s *Server) sentCarbons(sender *router.Session, st *stanza.Element, to jid.JID) {
	owner := sender.JID().Bare()
	copies := s.router.WithCarbons(owner, sender)
	if len(copies) == 0 || !carbonsEligible(st) {
		return
	}
	for _, ss := range copies {
		if ss.JID() != to {
			ss.Deliver(carbon("sent", owner, ss.JID(), st))
		}
	}
}

// receivedCarbons copies a message delivered to one resource (target) or,
// when target is nil, to targets, to the account's other resources that
// enabled carbons (XEP-0280 §7.1).
func (s *Server) receivedCarbons(st *stanza.Element, to jid.JID, target *router.Session, targets []*router.Session) {
	owner := to.Bare()
	copies := s.router.WithCarbons(owner, target)
	if len(copies) == 0 || !carbonsEligible(st) {
		return
	}
	for _, ss := range copies {
		if !slices.Contains(targets, ss) {
			ss.Deliver(carbon("received", owner, ss.JID(), st))
		}
	}
}

// carbon wraps st for one resource of owner: <message from=owner
// to=resource><sent|received><forwarded><message …/></forwarded>…
func carbon(kind string, owner, to jid.JID, st *stanza.Element) *stanza.Element {
	m := stanza.New("message", stanza.NSClient, "from", owner.String(), "to", to.String())
	if t := st.Type(); t != "" {
		m.SetAttr("type", t)
	}
	return m.Append(stanza.New(kind, NSCarbons).Append(stanza.New("forwarded", nsForward).Append(st)))
}
