package im

import (
	"context"
	"slices"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Message archive (XEP-0313) and stanza ids (XEP-0359): every message a
// local user sends or receives that is worth keeping is archived for each
// local party whose preferences allow it, under one server-assigned id,
// before it is delivered anywhere. So a message is durable before its
// sender's stream management ack, and a recipient, an other device or a
// node taking over a session after its node died finds it in the archive.
// The delivered copy carries <stanza-id by='recipient' id='…'/>, the
// sender's carbons <stanza-id by='sender' id='…'/>; the archived bytes are
// the message as routed, without our ids (a query result carries the id).

// NSStanzaID is the namespace of XEP-0359 unique and stable stanza ids.
const NSStanzaID = "urn:xmpp:sid:0"

// archived is the outcome of archiving one message.
type archived struct {
	st   *stanza.Element // to deliver to the recipient: with its stanza-id
	sent *stanza.Element // for the sender's carbons: with the sender's stanza-id
}

// archiveMessage archives st (from stamped) for its local parties and
// returns the copies to route. sess is the sending session, if local; its
// durable stream management count moves in the same transaction. ok is
// false when the message could not be stored: the sender has been told.
func (s *Server) archiveMessage(ctx context.Context, sess *router.Session, st *stanza.Element, from, to jid.JID) (a archived, ok bool) {
	st = stripOurStanzaIDs(st, from.Bare(), to.Bare())
	a = archived{st: st, sent: st}
	if s.noArch || !archivable(st) {
		return a, true
	}
	fromOwner := sess != nil && s.IsLocal(from.Domain()) && from.Local() != ""
	toOwner := s.IsLocal(to.Domain()) && to.Local() != "" && to.Bare() != from.Bare()
	fromOwner = fromOwner && s.archives(ctx, from.Bare().String(), to.Bare().String())
	toOwner = toOwner && s.archives(ctx, to.Bare().String(), from.Bare().String())
	if !fromOwner && !toOwner {
		return a, true
	}
	now := s.now()
	id := storage.NewArchiveID(now)
	raw := st.AppendXML(nil, stanza.NSClient)
	entries := make([]storage.ArchiveEntry, 0, 2)
	if fromOwner {
		entries = append(entries, storage.ArchiveEntry{Owner: from.Bare().String(), ID: id, Time: now, With: to.String(), Stanza: raw})
		a.sent = withStanzaID(st, from.Bare().String(), id)
	}
	if toOwner {
		entries = append(entries, storage.ArchiveEntry{Owner: to.Bare().String(), ID: id, Time: now, With: from.String(), Stanza: raw})
		a.st = withStanzaID(st, to.Bare().String(), id)
	} else if fromOwner && to.Bare() == from.Bare() {
		// A note to self: one archive, and the delivered copy has its id.
		a.st = a.sent
	}
	var mark *storage.SMMark
	if sess != nil {
		if smID, holder, h, durable := sess.DurableSM(); durable {
			mark = &storage.SMMark{Owner: from.Bare().String(), ID: smID, Member: holder, Handled: h}
		}
	}
	if err := s.store.Archive(ctx, entries, mark); err != nil {
		s.log.Error("archive: store failed", "from", from, "to", to, "err", err)
		if sess != nil {
			s.bounce(sess, st, &stanza.Error{Condition: stanza.InternalServerError, Text: "could not store the message"})
		}
		return a, false
	}
	return a, true
}

// archivable reports whether a message goes into archives: chat and
// normal messages with content (as for offline storage: not chat states
// alone, not messages hinted no-store or no-permanent-store).
func archivable(st *stanza.Element) bool { return worthStoring(st) }

// stripOurStanzaIDs removes <stanza-id/> elements claiming to be by one of
// the archives this message goes to: only we assign those (XEP-0359 §5).
func stripOurStanzaIDs(st *stanza.Element, a, b jid.JID) *stanza.Element {
	ours := func(n stanza.Node) bool {
		if n.Elem == nil || !n.Elem.Is("stanza-id", NSStanzaID) {
			return false
		}
		by := n.Elem.Attr("by")
		return by == a.String() || by == b.String()
	}
	if !slices.ContainsFunc(st.Nodes, ours) {
		return st
	}
	c := st.Copy()
	c.Nodes = slices.DeleteFunc(c.Nodes, ours)
	return c
}

func withStanzaID(st *stanza.Element, by, id string) *stanza.Element {
	return st.Copy().Append(stanza.New("stanza-id", NSStanzaID, "by", by, "id", id))
}

// archives reports whether owner's preferences archive messages with peer
// (XEP-0313 §6.1): a JID in the never list is not archived, one in the
// always list is, and the rest follow the default (roster: only contacts
// in the owner's roster).
func (s *Server) archives(ctx context.Context, owner, peer string) bool {
	p := s.archivePrefs(ctx, owner)
	switch {
	case slices.Contains(p.Never, peer):
		return false
	case slices.Contains(p.Always, peer):
		return true
	}
	switch p.Default {
	case storage.ArchiveNever:
		return false
	case storage.ArchiveRoster:
		item, err := s.store.RosterItem(ctx, owner, peer)
		return err == nil && !item.Hidden
	}
	return true
}

// archivePrefs returns owner's preferences, cached like block lists.
func (s *Server) archivePrefs(ctx context.Context, owner string) storage.ArchivePrefs {
	s.blockMu.Lock()
	p, ok := s.prefs[owner]
	epoch := s.blockEpoch
	s.blockMu.Unlock()
	if ok {
		return p
	}
	p, err := s.store.ArchivePrefs(ctx, owner)
	if err != nil {
		s.log.Error("archive: preferences load failed", "owner", owner, "err", err)
		return storage.ArchivePrefs{Default: storage.ArchiveAlways}
	}
	s.blockMu.Lock()
	if s.blockEpoch == epoch {
		s.prefs[owner] = p
	}
	s.blockMu.Unlock()
	return p
}

// ArchivePrefs returns owner's archiving preferences.
func (s *Server) ArchivePrefs(ctx context.Context, owner jid.JID) storage.ArchivePrefs {
	return s.archivePrefs(ctx, owner.Bare().String())
}

// SetArchivePrefs replaces owner's archiving preferences, here and in the
// caches of the other nodes.
func (s *Server) SetArchivePrefs(ctx context.Context, owner jid.JID, p storage.ArchivePrefs) error {
	o := owner.Bare().String()
	if err := s.store.SetArchivePrefs(ctx, o, p); err != nil {
		return err
	}
	s.cachedChanged(o)
	return nil
}

// ReplayArchived delivers to sess, as they would have reached it live,
// archived messages of its account that it may have missed: those sent to
// the account's bare JID or to sess's resource, and — if sess enabled
// carbons — carbons of what the account's other resources sent and
// received. What sess itself sent is skipped. Each carries its stanza-id.
// It returns the ids of the messages delivered.
func (s *Server) ReplayArchived(sess *router.Session, msgs []storage.ArchivedMessage) map[string]bool {
	self := sess.JID()
	owner := self.Bare()
	carbons := sess.Carbons()
	done := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		st, err := stanza.ParseBytes(m.Stanza)
		if err != nil {
			s.log.Warn("archive: unreadable archived message", "owner", owner, "id", m.ID, "err", err)
			continue
		}
		from, _ := jid.Parse(st.From())
		to, _ := jid.Parse(st.To())
		st = withStanzaID(st, owner.String(), m.ID)
		var out *stanza.Element
		switch {
		case from == self:
		case from.Bare() == owner && to.Bare() != owner:
			if carbons && carbonsEligible(st) {
				out = carbon("sent", owner, self, st)
			}
		case to.IsBare() || to == self:
			out = st
		case carbons && carbonsEligible(st):
			out = carbon("received", owner, self, st)
		}
		if out != nil {
			sess.Deliver(out)
			done[m.ID] = true
		}
	}
	return done
}
