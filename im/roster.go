package im

import (
	"context"
	"errors"
	"strconv"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

const maxRosterName = 1024

// handleRoster answers roster get and set (RFC 6121 §2, XEP-0237).
func (s *Server) handleRoster(ctx context.Context, q IQ) (*stanza.Element, error) {
	owner := q.From.Bare()
	if !q.IsSet() {
		items, ver, err := s.store.Roster(ctx, owner.String())
		if err != nil {
			return nil, s.internal("roster get", err)
		}
		s.MarkInterested(q, RosterInterest)
		verStr := strconv.FormatInt(ver, 10)
		if q.Payload.HasAttr("ver") && q.Payload.Attr("ver") == verStr {
			// Roster unchanged since the client's copy: empty result.
			return q.Result(), nil
		}
		query := stanza.New("query", stanza.NSRoster, "ver", verStr)
		for _, it := range items {
			if !it.Hidden {
				query.Append(itemElement(it))
			}
		}
		return q.Result(query), nil
	}
	els := q.Payload.Elements()
	if len(els) != 1 || !els[0].Is("item", stanza.NSRoster) {
		return nil, stanza.Errorf(stanza.BadRequest, "a roster set carries exactly one item")
	}
	el := els[0]
	contact, err := jid.Parse(el.Attr("jid"))
	if err != nil || !contact.IsBare() {
		return nil, stanza.Errorf(stanza.BadRequest, "the item's jid must be a valid bare JID")
	}
	if el.Attr("subscription") == "remove" {
		return s.rosterRemove(ctx, q, owner, contact)
	}
	it, err := s.store.RosterItem(ctx, owner.String(), contact.String())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, s.internal("roster get item", err)
	}
	if errors.Is(err, storage.ErrNotFound) {
		it = storage.RosterItem{Contact: contact.String(), Subscription: storage.SubNone}
	}
	name := el.Attr("name")
	if len(name) > maxRosterName {
		return nil, stanza.Errorf(stanza.NotAcceptable, "the item name is longer than %d bytes", maxRosterName)
	}
	var groups []string
	seen := map[string]bool{}
	for _, g := range el.Elements() {
		if !g.Is("group", stanza.NSRoster) {
			continue
		}
		name := g.Text()
		if name == "" {
			return nil, stanza.Errorf(stanza.NotAcceptable, "empty group names are not allowed")
		}
		if len(name) > maxRosterName {
			return nil, stanza.Errorf(stanza.NotAcceptable, "a group name is longer than %d bytes", maxRosterName)
		}
		if seen[name] {
			return nil, stanza.Errorf(stanza.BadRequest, "group %q is listed twice", name)
		}
		seen[name] = true
		groups = append(groups, name)
	}
	it.Name, it.Groups, it.Hidden = name, groups, false
	if err := s.putItem(ctx, owner, it); err != nil {
		return nil, err
	}
	return q.Result(), nil
}

// rosterRemove deletes a contact, cancelling subscriptions both ways
// first (§2.5.2).
func (s *Server) rosterRemove(ctx context.Context, q IQ, owner, contact jid.JID) (*stanza.Element, error) {
	it, err := s.store.RosterItem(ctx, owner.String(), contact.String())
	if errors.Is(err, storage.ErrNotFound) || (err == nil && it.Hidden) {
		return nil, stanza.Errorf(stanza.ItemNotFound, "%s is not in the roster", contact)
	}
	if err != nil {
		return nil, s.internal("roster remove", err)
	}
	from := q.From.Bare().String()
	if it.Subscription == storage.SubTo || it.Subscription == storage.SubBoth || it.AskOut {
		s.inboundSubscription(ctx, stanza.New("presence", stanza.NSClient, "type", "unsubscribe", "from", from, "to", contact.String()), owner, contact, "unsubscribe")
	}
	if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth || it.PendingIn {
		s.inboundSubscription(ctx, stanza.New("presence", stanza.NSClient, "type", "unsubscribed", "from", from, "to", contact.String()), owner, contact, "unsubscribed")
		if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth {
			s.sendUnavailableOf(ctx, owner, contact)
		}
	}
	ver, err := s.store.DeleteRosterItem(ctx, owner.String(), contact.String())
	if err != nil {
		return nil, s.internal("roster remove", err)
	}
	s.push(owner, storage.RosterItem{Contact: contact.String(), Subscription: "remove"}, ver)
	return q.Result(), nil
}

// putItem stores an item and pushes it to the owner's interested resources.
func (s *Server) putItem(ctx context.Context, owner jid.JID, it storage.RosterItem) error {
	return s.storeItem(ctx, owner, it, true)
}

// storeItem stores an item, pushing it only when push is set and the item
// is visible: state a client cannot see (pending-in) changes no roster.
func (s *Server) storeItem(ctx context.Context, owner jid.JID, it storage.RosterItem, push bool) error {
	ver, err := s.store.PutRosterItem(ctx, owner.String(), it)
	if err != nil {
		return s.internal("roster put", err)
	}
	if push && !it.Hidden {
		s.push(owner, it, ver)
	}
	return nil
}

// push sends a roster push to every interested resource (§2.1.6).
func (s *Server) push(owner jid.JID, it storage.RosterItem, ver int64) {
	s.PushToInterested(owner, RosterInterest, stanza.New("query", stanza.NSRoster, "ver", strconv.FormatInt(ver, 10)).Append(itemElement(it)))
}

func itemElement(it storage.RosterItem) *stanza.Element {
	el := stanza.New("item", stanza.NSRoster, "jid", it.Contact, "subscription", it.Subscription)
	if it.Name != "" {
		el.SetAttr("name", it.Name)
	}
	if it.AskOut {
		el.SetAttr("ask", "subscribe")
	}
	if it.Approved {
		el.SetAttr("approved", "true")
	}
	for _, g := range it.Groups {
		el.Append(stanza.New("group", stanza.NSRoster).SetText(g))
	}
	return el
}

// internal logs a storage failure and returns the stanza error the client
// sees.
func (s *Server) internal(what string, err error) *stanza.Error {
	s.log.Error(what+" failed", "err", err)
	return &stanza.Error{Condition: stanza.InternalServerError}
}
