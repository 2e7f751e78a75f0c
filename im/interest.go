package im

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// Interest names what a resource fetched and so is told about when it
// changes: a roster (RFC 6121 §2.1.6), a block list (XEP-0191 §3.2). It is
// the session's state, replicated to every node of a cluster, so a push
// made on any node reaches the interested resources on all of them.
type Interest = router.Interests

// Interests modules mark and push.
const (
	RosterInterest    = router.RosterInterest
	BlockListInterest = router.BlockListInterest
)

// MarkInterested records that the resource that sent q (a get it answers)
// is interested in i from now on, until its session ends. A request
// without a session (before bind) marks nothing.
func (s *Server) MarkInterested(q IQ, i Interest) {
	if q.Session != nil {
		q.Session.AddInterests(i)
	}
}

// PushToInterested sends payload, in an iq set of its own with a fresh id,
// to every resource of owner interested in i, on this node or another. The
// pushes carry no 'from': they come from the user's account (RFC 6121
// §2.1.6). The resources' answers are not waited for. The pushes share
// payload: it must not change afterwards.
func (s *Server) PushToInterested(owner jid.JID, i Interest, payload *stanza.Element) {
	for _, ss := range s.router.Sessions(owner.Bare()) {
		if !ss.Interests().Has(i) {
			continue
		}
		ss.Deliver(stanza.New("iq", stanza.NSClient, "type", "set", "id", s.pushIDs.next(), "to", ss.JID().String()).Append(payload))
	}
}

// pushIDs makes the ids of pushes: a prefix random per process (pushes
// from several nodes reach one stream) and a counter.
type pushIDs struct {
	once   sync.Once
	prefix string
	n      atomic.Uint64
}

func (p *pushIDs) next() string {
	p.once.Do(func() {
		var b [4]byte
		_, _ = rand.Read(b[:])
		p.prefix = "push-" + hex.EncodeToString(b[:]) + "-"
	})
	return p.prefix + strconv.FormatUint(p.n.Add(1), 10)
}
