package im

import (
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// OnOfflineMessage adds fn to those told about every message stored
// offline, once it is committed: to is the user's bare JID, st the message
// as it was routed. The push module notifies the user's app servers from
// it (XEP-0357). fn runs on the routing goroutine and must not block. Call
// before serving.
func (s *Server) OnOfflineMessage(fn func(to jid.JID, st *stanza.Element)) {
	s.offlineMsg = append(s.offlineMsg, fn)
}

func (s *Server) offlineMessage(to jid.JID, st *stanza.Element) {
	for _, fn := range s.offlineMsg {
		fn(to, st)
	}
}

// WorthStoring reports whether a message is one a user would want kept
// while offline: not a chat state alone, not marked no-store (XEP-0334),
// and of type normal or chat. The push module notifies only for those.
func WorthStoring(st *stanza.Element) bool { return worthStoring(st) }
