package register

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// cancel deletes the account (§3.2). While the roster still exists, every
// available resource goes offline and the subscriptions are cancelled;
// then the account and everything it owns is deleted, the request is
// answered and every session of the account is closed.
func (r *Registration) cancel(ctx context.Context, q im.IQ, owner jid.JID) (*stanza.Element, error) {
	for _, ss := range r.srv.Router().Sessions(owner) {
		// Routed now, the unavailable presence reaches contacts and
		// directed-presence recipients; when the stream closes later the
		// session is already unavailable and nothing more is sent.
		if a, _ := ss.Available(); a {
			r.srv.Route(ctx, ss, stanza.New("presence", stanza.NSClient, "type", "unavailable"))
		}
	}
	if q.Session != nil {
		r.unsubscribeAll(ctx, q.Session, owner)
	}
	err := r.srv.Store().DeleteAccount(ctx, owner.String())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, &stanza.Error{Condition: stanza.RegistrationRequired}
	}
	if err != nil {
		return nil, fmt.Errorf("register: delete account: %w", err)
	}
	r.srv.BlocksChanged(owner.String())
	r.cfg.Log.Info("account removed in-band", "jid", owner)
	if q.Session != nil {
		q.Session.Deliver(q.Result())
	}
	r.srv.EndSessions(owner, stanza.NewStreamError(stanza.StreamNotAuthorized, "the account was removed"))
	return nil, nil
}

// unsubscribeAll cancels the account's presence subscriptions both ways,
// as RFC 6121 §2.5.2 does for a removed roster item, by routing the
// subscription stanzas the user's client would have sent: the core updates
// both rosters, pushes the changes to the contacts and sends them
// unavailable presence.
func (r *Registration) unsubscribeAll(ctx context.Context, sess *router.Session, owner jid.JID) {
	items, _, err := r.srv.Store().Roster(ctx, owner.String())
	if err != nil {
		r.cfg.Log.Error("register: roster load failed; subscriptions not cancelled", "jid", owner, "err", err)
		return
	}
	for _, it := range items {
		c, err := jid.Parse(it.Contact)
		if err != nil || !r.srv.IsLocal(c.Domain()) {
			continue // nothing to tell a contact we cannot reach
		}
		if it.Subscription == storage.SubTo || it.Subscription == storage.SubBoth || it.AskOut {
			r.srv.Route(ctx, sess, stanza.New("presence", stanza.NSClient, "type", "unsubscribe", "to", it.Contact))
		}
		if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth || it.PendingIn {
			r.srv.Route(ctx, sess, stanza.New("presence", stanza.NSClient, "type", "unsubscribed", "to", it.Contact))
		}
	}
}
