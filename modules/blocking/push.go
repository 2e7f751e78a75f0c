package blocking

import (
	"strconv"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// push sends payload in an iq set to every interested resource of owner,
// dropping sessions that are no longer bound.
func (b *Blocking) push(owner jid.JID, payload *stanza.Element) {
	bound := b.srv.Router().Sessions(owner)
	b.mu.Lock()
	old := b.interested[owner]
	live := make(map[*router.Session]struct{}, len(old))
	var targets []*router.Session
	for _, ss := range bound {
		if _, ok := old[ss]; ok {
			live[ss] = struct{}{}
			targets = append(targets, ss)
		}
	}
	if len(live) == 0 {
		delete(b.interested, owner)
	} else {
		b.interested[owner] = live
	}
	b.mu.Unlock()
	for _, ss := range targets {
		id := "block-push-" + strconv.FormatUint(b.pushID.Add(1), 10)
		ss.Deliver(stanza.New("iq", stanza.NSClient, "type", "set", "id", id, "to", ss.JID().String()).Append(payload))
	}
}

// markInterested records that sess fetched the block list.
func (b *Blocking) markInterested(owner jid.JID, sess *router.Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	set := b.interested[owner]
	if set == nil {
		set = make(map[*router.Session]struct{})
		b.interested[owner] = set
	}
	set[sess] = struct{}{}
}

// SessionEnded forgets a session that went away. Calling it is optional
// (stale entries are pruned at the owner's next change) but keeps memory
// from growing with users who fetch the list and never change it.
func (b *Blocking) SessionEnded(sess *router.Session) {
	owner := sess.JID().Bare()
	b.mu.Lock()
	defer b.mu.Unlock()
	if set := b.interested[owner]; set != nil {
		delete(set, sess)
		if len(set) == 0 {
			delete(b.interested, owner)
		}
	}
}
