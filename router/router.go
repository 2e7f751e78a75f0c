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
	"sync/atomic"
	"time"

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

// RawConn is implemented by connections that can take a stanza already
// serialized for a client (as it arrives from another node), saving a parse
// and a serialization.
type RawConn interface {
	DeliverRaw(b []byte)
}

// Fanout is implemented by the Conn of sessions on other nodes: one call
// hands a stanza to that node for every available resource of a bare JID it
// holds, so presence to a contact costs one message per node, not one per
// resource.
type Fanout interface {
	DeliverAvailable(bare jid.JID, el *stanza.Element)
}

// DeliverAvailable delivers el to every available resource of bare: local
// ones directly, each other node's with one message.
func (r *Router) DeliverAvailable(bare jid.JID, el *stanza.Element) {
	var nodes map[string]bool
	for _, s := range r.Sessions(bare) {
		if a, _ := s.Available(); !a {
			continue
		}
		if f, ok := s.conn.(Fanout); ok && s.node != "" {
			if nodes[s.node] {
				continue
			}
			if nodes == nil {
				nodes = make(map[string]bool, 2)
			}
			nodes[s.node] = true
			f.DeliverAvailable(bare, el)
			continue
		}
		s.Deliver(el)
	}
}

// DeliverLocalAvailableRaw delivers a serialized stanza to the available
// resources of bare connected to this node (the receiving end of Fanout).
func (r *Router) DeliverLocalAvailableRaw(bare jid.JID, b []byte) error {
	for _, s := range r.Sessions(bare) {
		if a, _ := s.Available(); a && s.node == "" {
			if err := s.DeliverRaw(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// Router maps bare JIDs to their bound sessions: local ones, and in a
// cluster the sessions of other nodes, kept here by the cluster directory.
type Router struct {
	mu    sync.RWMutex // guards users and count; never held while calling a Conn or an observer
	users map[string][]*Session
	count int // local sessions only

	// observers hear about every change to a local session (the cluster
	// directory publishes them); fixed by New.
	observers []Observer
}

// Observer is told about every change to a local session, after the fact
// and from the goroutine that made it: bind, unbind, presence or interest.
type Observer interface {
	SessionChanged(Change)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Change)

// SessionChanged calls f.
func (f ObserverFunc) SessionChanged(ch Change) { f(ch) }

// ChangeKind says what happened to a local session.
type ChangeKind int

// Kinds of Change.
const (
	Bound ChangeKind = iota
	Unbound
	Updated // presence, interests or carbons changed
)

// Change is one event for the observer.
type Change struct {
	Kind    ChangeKind
	Session *Session
	// Replaced is, for Bound, the session of the same full JID that the
	// bind replaced (local or on another node), if any.
	Replaced *Session
}

func (r *Router) notify(kind ChangeKind, s, replaced *Session) {
	if s.node != "" {
		return
	}
	for _, o := range r.observers {
		o.SessionChanged(Change{Kind: kind, Session: s, Replaced: replaced})
	}
}

// New returns an empty router whose local sessions' changes go to the
// observers.
func New(observers ...Observer) *Router {
	return &Router{users: make(map[string][]*Session), observers: observers}
}

// Bind adds a session for full JID j. A session already bound to the same
// full JID is removed and returned so the caller can close it with
// <conflict/> (RFC 6120 §7.7.2.2, the "override" policy). maxResources of 0
// means no limit.
//
// A replaced session may live on another node (Remote reports it); closing
// it asks that node to end its stream.
func (r *Router) Bind(j jid.JID, conn Conn, maxResources int) (s, replaced *Session, err error) {
	s = &Session{jid: j, conn: conn, router: r, bound: time.Now()}
	bare := j.Bare().String()
	r.mu.Lock()
	list := r.users[bare]
	for i, old := range list {
		if old.jid == j {
			replaced = old
			list = append(list[:i:i], list[i+1:]...)
			if old.node == "" {
				r.count--
			}
			break
		}
	}
	if maxResources > 0 && len(list) >= maxResources {
		if replaced != nil {
			// Keep the old one rather than leave the user with neither.
			list = append(list, replaced)
			if replaced.node == "" {
				r.count++
			}
		}
		r.users[bare] = list
		r.mu.Unlock()
		return nil, nil, ErrTooManyResources
	}
	r.users[bare] = append(list, s)
	r.count++
	r.mu.Unlock()
	r.notify(Bound, s, replaced)
	return s, replaced, nil
}

// PutRemote adds or replaces the entry for a session on another node. It
// returns the local session it displaced, if any (a conflict won by the
// other node), which the caller closes.
func (r *Router) PutRemote(s *Session) (displaced *Session) {
	displaced, _ = r.PutRemoteUnless(s, nil)
	return displaced
}

// PutRemoteUnless is PutRemote, except that when an entry of the same full
// JID exists (local or remote) and keep reports true for it, that entry
// stays and s is not added. keep runs under the router's lock: it must not
// call the router. put reports whether s was added.
func (r *Router) PutRemoteUnless(s *Session, keep func(old *Session) bool) (displaced *Session, put bool) {
	bare := s.jid.Bare().String()
	s.router = r
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.users[bare]
	for i, old := range list {
		if old.jid == s.jid {
			if keep != nil && keep(old) {
				return nil, false
			}
			if old.node == "" {
				displaced = old
				r.count--
			}
			list[i] = s
			return displaced, true
		}
	}
	r.users[bare] = append(list, s)
	return nil, true
}

// Remote returns the entry for a session on another node, or nil.
func (r *Router) Remote(full jid.JID, node string) *Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.users[full.Bare().String()] {
		if s.jid == full && s.node == node {
			return s
		}
	}
	return nil
}

// RemoveRemote drops the entry for full if it is the given node's; it
// returns the removed entry.
func (r *Router) RemoveRemote(full jid.JID, node string) *Session {
	bare := full.Bare().String()
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.users[bare]
	for i, s := range list {
		if s.jid == full && s.node == node {
			r.setList(bare, append(list[:i:i], list[i+1:]...))
			return s
		}
	}
	return nil
}

// RemoveNode drops the entries of a node that left or died and returns
// them. With run set, only that run's entries go: a node restarted quickly
// may already have published sessions of its new run.
func (r *Router) RemoveNode(node, run string) []*Session {
	return r.RemoveRemoteIf(node, func(s *Session) bool { return run == "" || s.run == run })
}

// RemoveRemoteIf drops the entries of a node for which drop reports true,
// and returns them. drop runs under the router's lock: it must not call
// the router.
func (r *Router) RemoveRemoteIf(node string, drop func(*Session) bool) []*Session {
	if node == "" {
		return nil // local sessions leave through Unbind
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var gone []*Session
	for bare, list := range r.users {
		kept := list[:0:0]
		for _, s := range list {
			if s.node == node && drop(s) {
				gone = append(gone, s)
			} else {
				kept = append(kept, s)
			}
		}
		if len(kept) != len(list) {
			r.setList(bare, kept)
		}
	}
	return gone
}

// OfNode returns the entries of the sessions on another node.
func (r *Router) OfNode(node string) []*Session {
	if node == "" {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Session
	for _, list := range r.users {
		for _, s := range list {
			if s.node == node {
				out = append(out, s)
			}
		}
	}
	return out
}

// Local returns every local session.
func (r *Router) Local() []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Session, 0, r.count)
	for _, list := range r.users {
		for _, s := range list {
			if s.node == "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (r *Router) setList(bare string, list []*Session) {
	if len(list) == 0 {
		delete(r.users, bare)
	} else {
		r.users[bare] = list
	}
}

// Unbind removes the session; it reports whether it was still bound (a
// session replaced by a conflict is not).
func (r *Router) Unbind(s *Session) bool {
	bare := s.jid.Bare().String()
	r.mu.Lock()
	list := r.users[bare]
	found := false
	for i, cur := range list {
		if cur == s {
			r.setList(bare, append(list[:i:i], list[i+1:]...))
			r.count--
			found = true
			break
		}
	}
	r.mu.Unlock()
	if found {
		r.notify(Unbound, s, nil)
	}
	return found
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

// Count returns the number of local bound sessions.
func (r *Router) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count
}

// All returns every session known, local and remote, ordered by JID.
func (r *Router) All() []*Session {
	r.mu.RLock()
	out := make([]*Session, 0, len(r.users))
	for _, list := range r.users {
		out = append(out, list...)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].jid.String() < out[j].jid.String() })
	return out
}

// Session is one bound resource, on this node or (node != "") on another
// node of the cluster. Its presence fields are guarded by mu.
type Session struct {
	jid  jid.JID
	conn Conn
	node string // "" for a local session
	run  string // the run of the node that published a remote entry
	// bound is when the session was bound, by the clock of the node that
	// holds it; it tells two bindings of one full JID apart.
	bound  time.Time
	router *Router

	carbons atomic.Bool // XEP-0280 enabled

	// durable is the resumption id of the session's stream management
	// state when it is kept in storage (local sessions only); handling is
	// the count of client stanzas that includes the one being routed.
	durable  atomic.Pointer[durableSM]
	handling atomic.Uint32

	mu        sync.Mutex
	available bool
	priority  int
	presence  *stanza.Element // last broadcast presence
	interests Interests
	directed  map[jid.JID]struct{} // directed presence sent while available
}

// Interests is the set of things a session fetched and so is told about
// when they change: the server pushes each change to the resources
// interested in it, on whichever node they are. A session's interests only
// grow while it is bound.
//
// The bits are replicated between nodes as a number: do not renumber them.
type Interests uint8

// The interests a session can have.
const (
	// RosterInterest: the client fetched its roster, which makes it an
	// "interested resource" for roster pushes (RFC 6121 §2.1.6).
	RosterInterest Interests = 1 << iota
	// BlockListInterest: the client fetched its block list, and gets
	// block and unblock pushes (XEP-0191 §3.2).
	BlockListInterest
)

// Has reports whether the set holds every interest of want (none: false).
func (i Interests) Has(want Interests) bool { return want != 0 && i&want == want }

// NewRemote returns the entry for a session on another node, with its
// replicated presence state and interests; conn forwards to that node.
// run identifies the node's current run (cluster.Node.ID).
func NewRemote(full jid.JID, node, run string, conn Conn, available bool, priority int, presence *stanza.Element, interests Interests) *Session {
	return &Session{jid: full, conn: conn, node: node, run: run, available: available, priority: priority, presence: presence, interests: interests}
}

// WithBound sets when a remote entry's session was bound, by its node's
// clock; call it before the entry is put in the router. It returns s.
func (s *Session) WithBound(t time.Time) *Session {
	s.bound = t
	return s
}

// Bound is when the session was bound, by the clock of its node (zero for
// a remote entry whose node did not say).
func (s *Session) Bound() time.Time { return s.bound }

// SetRemoteState replaces a remote entry's replicated presence state and
// interests.
func (s *Session) SetRemoteState(available bool, priority int, presence *stanza.Element, interests Interests) {
	s.mu.Lock()
	s.available, s.priority, s.presence, s.interests = available, priority, presence, interests
	s.mu.Unlock()
}

// State returns the session's presence state at once, with whether it
// fetched the roster (what a stream management handover carries; the
// directory replicates every interest, see Interests).
func (s *Session) State() (available bool, priority int, presence *stanza.Element, interested bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available, s.priority, s.presence, s.interests.Has(RosterInterest)
}

// Run is the run of the node that published a remote entry.
func (s *Session) Run() string { return s.run }

// Conn is where the session's stanzas go.
func (s *Session) Conn() Conn { return s.conn }

// Node is the cluster node the session lives on, "" for this one.
func (s *Session) Node() string { return s.node }

// IsLocal reports whether the session is connected to this node.
func (s *Session) IsLocal() bool { return s.node == "" }

// JID returns the session's full JID.
func (s *Session) JID() jid.JID { return s.jid }

// Deliver queues a stanza for the client.
func (s *Session) Deliver(el *stanza.Element) { s.conn.Deliver(el) }

// DeliverRaw queues a stanza serialized for a client (jabber:client, as
// AppendXML writes it): written as is where the connection allows, parsed
// and delivered otherwise.
func (s *Session) DeliverRaw(b []byte) error {
	if rc, ok := s.conn.(RawConn); ok {
		rc.DeliverRaw(b)
		return nil
	}
	el, err := stanza.ParseBytes(b)
	if err != nil {
		return err
	}
	s.conn.Deliver(el)
	return nil
}

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
	initial = !s.available && available
	s.available = available
	s.priority = priority
	if available {
		s.presence = p
	} else {
		s.presence = nil
	}
	s.mu.Unlock()
	s.changed()
	return initial
}

func (s *Session) changed() {
	if s.router != nil {
		s.router.notify(Updated, s, nil)
	}
}

// AddInterests adds to the session's interests; a change is published
// like presence, so that pushes from other nodes reach the session too.
func (s *Session) AddInterests(i Interests) {
	s.mu.Lock()
	was := s.interests
	s.interests |= i
	now := s.interests
	s.mu.Unlock()
	if now != was {
		s.changed()
	}
}

// RequestedRoster is AddInterests(RosterInterest).
func (s *Session) RequestedRoster() { s.AddInterests(RosterInterest) }

// Interests returns the session's interests.
func (s *Session) Interests() Interests {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interests
}

// SetCarbons records whether the client enabled Message Carbons
// (XEP-0280); a change is published like presence.
func (s *Session) SetCarbons(on bool) {
	if s.carbons.Swap(on) != on {
		s.changed()
	}
}

// SetRemoteCarbons replaces a remote entry's replicated carbons flag.
func (s *Session) SetRemoteCarbons(on bool) { s.carbons.Store(on) }

// Carbons reports whether the client enabled Message Carbons.
func (s *Session) Carbons() bool { return s.carbons.Load() }

// durableSM names a session's record in storage: its resumption id and
// the process holding it.
type durableSM struct{ id, holder string }

// SetDurableSM records that the session's stream management state is kept
// in storage under the resumption id, held by the process holder ("" to
// stop).
func (s *Session) SetDurableSM(id, holder string) {
	if id == "" {
		s.durable.Store(nil)
		return
	}
	s.durable.Store(&durableSM{id: id, holder: holder})
}

// SetHandling records the count of client stanzas handled once the one
// about to be routed is (the connection's reader calls it before routing
// each stanza of a durable session).
func (s *Session) SetHandling(h uint32) { s.handling.Store(h) }

// DurableSM returns the resumption id and holder of a durable session and
// the count of handled client stanzas that includes the one being routed;
// ok is false for other sessions.
func (s *Session) DurableSM() (id, holder string, handled uint32, ok bool) {
	p := s.durable.Load()
	if p == nil {
		return "", "", 0, false
	}
	return p.id, p.holder, s.handling.Load(), true
}

// WithCarbons returns the sessions of bare that enabled Message Carbons,
// other than skip; nil (no allocation) when there are none, the usual case.
func (r *Router) WithCarbons(bare jid.JID, skip *Session) []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Session
	for _, s := range r.users[bare.String()] {
		if s != skip && s.carbons.Load() {
			out = append(out, s)
		}
	}
	return out
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
