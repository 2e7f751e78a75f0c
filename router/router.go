// Package router is the directory of connected resources: which sessions a
// bare JID has, with their presence state, and delivery of a stanza to one
// of them. It applies no XMPP policy (that is package im) and does not own
// connections: a session reaches its connection through the Conn interface.
//
// The cluster adds sessions that live on other nodes behind the same
// interface, so routing decisions made on top of the directory do not change.
package router

import (
	"errors"
	"sort"
	"sync"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// ErrTooManyResources is returned by Bind when the user has reached the
// configured number of resources.
var ErrTooManyResources = errors.New("router: too many resources")

// Conn is where a session's stanzas go.
type Conn interface {
	// Deliver queues a stanza for the client; it must not block on the
	// network.
	Deliver(el *stanza.Element)
	// Close ends the stream with a stream error (nil for a clean close).
	Close(err *stanza.StreamError)
}

// Router maps bare JIDs to their bound sessions.
type Router struct {
	mu    sync.RWMutex // guards users; never held while calling a Conn
	users map[string][]*Session
	count int
}

// New returns an empty router.
func New() *Router {
	return &Router{users: make(map[string][]*Session)}
}

// Bind adds a session for full JID j. A session already bound to the same
// full JID is removed and returned so the caller can close it with
// <conflict/> (RFC 6120 §7.7.2.2, the "override" policy). maxResources of 0
// means no limit.
func (r *Router) Bind(j jid.JID, conn Conn, maxResources int) (s, replaced *Session, err error) {
	s = &Session{jid: j, conn: conn}
	bare := j.Bare().String()
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.users[bare]
	for i, old := range list {
		if old.jid == j {
			replaced = old
			list = append(list[:i:i], list[i+1:]...)
			r.count--
			break
		}
	}
	if maxResources > 0 && len(list) >= maxResources {
		if replaced != nil {
			// Keep the old one rather than leave the user with neither.
			list = append(list, replaced)
			r.count++
		}
		r.users[bare] = list
		return nil, nil, ErrTooManyResources
	}
	r.users[bare] = append(list, s)
	r.count++
	return s, replaced, nil
}

// Unbind removes the session; it reports whether it was still bound (a
// session replaced by a conflict is not).
func (r *Router) Unbind(s *Session) bool {
	bare := s.jid.Bare().String()
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.users[bare]
	for i, cur := range list {
		if cur == s {
			list = append(list[:i:i], list[i+1:]...)
			if len(list) == 0 {
				delete(r.users, bare)
			} else {
				r.users[bare] = list
			}
			r.count--
			return true
		}
	}
	return false
}

// Sessions returns the sessions of a bare JID (a copy; safe to keep).
func (r *Router) Sessions(bare jid.JID) []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := r.users[bare.String()]
	if len(list) == 0 {
		return nil
	}
	return append([]*Session(nil), list...)
}

// Session returns the session bound to the full JID, or nil.
func (r *Router) Session(full jid.JID) *Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.users[full.Bare().String()] {
		if s.jid == full {
			return s
		}
	}
	return nil
}

// Count returns the number of bound sessions.
func (r *Router) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count
}

// All returns every bound session, ordered by JID.
func (r *Router) All() []*Session {
	r.mu.RLock()
	out := make([]*Session, 0, r.count)
	for _, list := range r.users {
		out = append(out, list...)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].jid.String() < out[j].jid.String() })
	return out
}

// Session is one bound resource. Its presence fields are guarded by mu.
type Session struct {
	jid  jid.JID
	conn Conn

	mu              sync.Mutex
	available       bool
	priority        int
	presence        *stanza.Element // last broadcast presence
	rosterRequested bool
	directed        map[jid.JID]struct{} // directed presence sent while available
}

// JID returns the session's full JID.
func (s *Session) JID() jid.JID { return s.jid }

// Deliver queues a stanza for the client.
func (s *Session) Deliver(el *stanza.Element) { s.conn.Deliver(el) }

// Close ends the session's stream.
func (s *Session) Close(err *stanza.StreamError) { s.conn.Close(err) }

// Available reports whether the session has sent available presence, and its
// priority.
func (s *Session) Available() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available, s.priority
}

// Presence returns the last broadcast presence, or nil.
func (s *Session) Presence() *stanza.Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.presence
}

// SetPresence records a broadcast presence; it returns whether this was the
// session's initial presence (it was unavailable before).
func (s *Session) SetPresence(p *stanza.Element, available bool, priority int) (initial bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	initial = !s.available && available
	s.available = available
	s.priority = priority
	if available {
		s.presence = p
	} else {
		s.presence = nil
	}
	return initial
}

// RequestedRoster marks that the client fetched its roster, which makes it
// an "interested resource" for roster pushes and subscription requests
// (RFC 6121 §2.1.6).
func (s *Session) RequestedRoster() {
	s.mu.Lock()
	s.rosterRequested = true
	s.mu.Unlock()
}

// Interested reports whether the session requested the roster.
func (s *Session) Interested() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rosterRequested
}

// AddDirected remembers a directed presence target so it gets unavailable
// presence when the session ends (RFC 6121 §4.6.3).
func (s *Session) AddDirected(to jid.JID, available bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !available {
		delete(s.directed, to)
		return
	}
	if s.directed == nil {
		s.directed = make(map[jid.JID]struct{})
	}
	s.directed[to] = struct{}{}
}

// TakeDirected returns and forgets the directed presence targets.
func (s *Session) TakeDirected() []jid.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]jid.JID, 0, len(s.directed))
	for j := range s.directed {
		out = append(out, j)
	}
	s.directed = nil
	return out
}
