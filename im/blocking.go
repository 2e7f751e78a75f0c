package im

import (
	"context"

	"github.com/parley-im/parley/jid"
)

const nsBlockingErrors = "urn:xmpp:blocking:errors"

// isBlocked reports whether owner blocks who (XEP-0191 §3.3): an entry
// matches the full JID, the bare JID, or the domain of who.
func (s *Server) isBlocked(ctx context.Context, owner jid.JID, who jid.JID) bool {
	list := s.blockList(ctx, owner.Bare().String())
	if len(list) == 0 {
		return false
	}
	if _, ok := list[who.String()]; ok {
		return true
	}
	if _, ok := list[who.Bare().String()]; ok {
		return true
	}
	_, ok := list[who.Domain()]
	return ok
}

func (s *Server) blockList(ctx context.Context, owner string) map[string]struct{} {
	s.blockMu.Lock()
	list, ok := s.blocks[owner]
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
	s.blocks[owner] = list
	s.blockMu.Unlock()
	return list
}

// BlocksChanged drops the cached block list of owner; the blocking module
// calls it after every change.
func (s *Server) BlocksChanged(owner string) {
	s.blockMu.Lock()
	delete(s.blocks, owner)
	s.blockMu.Unlock()
}
