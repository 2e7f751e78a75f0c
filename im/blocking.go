package im

import (
	"context"

	"github.com/parley-im/parley/jid"
)

const nsBlockingErrors = "urn:xmpp:blocking:errors"

// isBlocked reports whether owner blocks who (XEP-0191 §3.3, with the JID
// matching rules of §6): an entry matches the full JID, the bare JID, the
// domain/resource or the domain of who. A user's own resources are never
// blocked from each other, even by a domain entry.
func (s *Server) isBlocked(ctx context.Context, owner jid.JID, who jid.JID) bool {
	if owner.Bare() == who.Bare() {
		return false
	}
	list := s.blockList(ctx, owner.Bare().String())
	if len(list) == 0 {
		return false
	}
	keys := [4]string{who.String(), who.Bare().String(), who.Domain(), ""}
	if who.Resource() != "" {
		keys[3] = who.Domain() + "/" + who.Resource()
	}
	for _, k := range keys {
		if _, ok := list[k]; ok && k != "" {
			return true
		}
	}
	return false
}

func (s *Server) blockList(ctx context.Context, owner string) map[string]struct{} {
	s.blockMu.Lock()
	list, ok := s.blocks[owner]
	epoch := s.blockEpoch
	s.blockMu.Unlock()
	if ok {
		return list
	}
	jids, err := s.store.BlockList(ctx, owner)
	if err != nil {
		s.log.Error("blocklist load failed", "owner", owner, "err", err)
		return nil
	}
	list = make(map[string]struct{}, len(jids))
	for _, j := range jids {
		list[j] = struct{}{}
	}
	s.blockMu.Lock()
	if s.blockEpoch == epoch {
		// Not if a list changed while this one was read: it may be the
		// old one. The next look-up reads again.
		s.blocks[owner] = list
	}
	s.blockMu.Unlock()
	return list
}

// BlocksChanged drops the cached block list of owner, here and (through
// Cluster.CachedChanged) on the other nodes of a cluster; the blocking module
// calls it after every change.
func (s *Server) BlocksChanged(owner string) { s.cachedChanged(owner) }

// cachedChanged drops what this node caches of owner's settings and tells
// the other nodes to do the same.
func (s *Server) cachedChanged(owner string) {
	s.ForgetCached(owner)
	if s.cluster != nil {
		s.cluster.CachedChanged(owner)
	}
}

// ForgetCached drops this node's cached block list and archiving
// preferences of owner (another node changed them).
func (s *Server) ForgetCached(owner string) {
	s.blockMu.Lock()
	delete(s.blocks, owner)
	delete(s.prefs, owner)
	s.blockEpoch++
	s.blockMu.Unlock()
}
