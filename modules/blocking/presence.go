package blocking

import (
	"context"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// presenceChanged tells contacts whose blocking changed what the user's
// presence now is (§3.3, §3.4): a resource of a contact that became
// blocked gets unavailable presence from each of the user's available
// resources, one that became unblocked gets their current presence.
//
// Only contacts allowed to see the user's presence are told: those with a
// subscription 'from' or 'both'. Decisions are made per resource of the
// contact, because entries may name full JIDs. Parley has no federation,
// so only local contacts are reachable. Recipients of directed presence
// are not told: the router does not expose that set.
func (b *Blocking) presenceChanged(ctx context.Context, owner jid.JID, before, after set) {
	mine := b.srv.Router().Sessions(owner)
	available := mine[:0:0]
	for _, ss := range mine {
		if a, _ := ss.Available(); a {
			available = append(available, ss)
		}
	}
	if len(available) == 0 {
		return
	}
	items, _, err := b.srv.Store().Roster(ctx, owner.String())
	if err != nil {
		b.log.Error("blocking: roster load failed; presence not updated", "jid", owner, "err", err)
		return
	}
	for _, it := range items {
		if it.Subscription != storage.SubFrom && it.Subscription != storage.SubBoth {
			continue
		}
		contact, err := jid.Parse(it.Contact)
		if err != nil || contact.Local() == "" || !b.srv.IsLocal(contact.Domain()) {
			continue
		}
		var theirs set // the contact's own block list, loaded when needed
		for _, cs := range b.srv.Router().Sessions(contact) {
			if a, _ := cs.Available(); !a {
				continue
			}
			was, is := before.blocks(cs.JID()), after.blocks(cs.JID())
			if was == is {
				continue
			}
			if theirs == nil {
				list, err := b.srv.Store().BlockList(ctx, contact.String())
				if err != nil {
					b.log.Error("blocking: contact's block list load failed", "jid", contact, "err", err)
					break
				}
				theirs = newSet(list)
			}
			for _, ss := range available {
				// A contact who blocks this resource gets nothing from it.
				if theirs.blocks(ss.JID()) {
					continue
				}
				if p := presenceFor(ss, cs, is); p != nil {
					cs.Deliver(p)
				}
			}
		}
	}
}

// presenceFor is the presence of the user's resource from as the contact's
// resource to should now see it, or nil if there is none to send.
func presenceFor(from, to *router.Session, blocked bool) *stanza.Element {
	p := stanza.New("presence", stanza.NSClient, "type", "unavailable")
	if !blocked {
		cur := from.Presence()
		if cur == nil {
			return nil
		}
		p = cur.Copy()
	}
	p.SetAttr("from", from.JID().String())
	p.SetAttr("to", to.JID().String())
	return p
}
