// Package im is the instant-messaging core of RFC 6121 on top of the session
// directory: it decides where each stanza a client sends goes — another
// resource, every resource of a user (§8.5), the offline store, or a server
// module — and keeps rosters and the presence subscription state machine.
//
// It never touches a connection: stanzas leave through router sessions'
// Deliver, and IQs addressed to the server go to the handlers registered
// with Handle.
package im

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Target says to which addresses an IQ handler answers.
type Target uint8

// Targets of IQ handlers.
const (
	ToServer  Target = 1 << iota // the domain itself: to='example.com'
	ToSelf                       // the user's own account: no to, or to=own bare JID
	ToAccount                    // another local user's bare JID
)

// IQ is a request addressed to the server or to an account.
type IQ struct {
	Stanza  *stanza.Element // with from stamped
	Payload *stanza.Element // its one child
	From    jid.JID         // the sender's full JID (zero before bind)
	To      jid.JID         // the addressed host or bare account
	Session *router.Session // the sender's session, nil before bind
}

// IsSet reports whether the request is type='set'.
func (q IQ) IsSet() bool { return q.Stanza.Type() == "set" }

// Result builds a result for the request.
func (q IQ) Result(payload ...*stanza.Element) *stanza.Element {
	return stanza.Result(q.Stanza, payload...)
}

// IQHandler answers IQs with one payload namespace. It returns the full
// response stanza, or a *stanza.Error.
type IQHandler interface {
	HandleIQ(ctx context.Context, q IQ) (*stanza.Element, error)
}

// IQHandlerFunc adapts a function.
type IQHandlerFunc func(ctx context.Context, q IQ) (*stanza.Element, error)

// HandleIQ calls f.
func (f IQHandlerFunc) HandleIQ(ctx context.Context, q IQ) (*stanza.Element, error) { return f(ctx, q) }

type handlerKey struct {
	ns     string
	target Target
}

// iqHandler is a registered handler and the recorder of its module's
// calls (nil when not measured).
type iqHandler struct {
	h      IQHandler
	record func(d time.Duration, failed bool)
}

// Config is what the core needs to know.
type Config struct {
	Hosts              []string
	MaxOfflineMessages int
	// NoArchive switches the message archive off (config archive.enabled:
	// false): messages are delivered without being archived and carry no
	// stanza-id of ours.
	NoArchive bool
	Log       *slog.Logger
	Now       func() time.Time
	Metrics   Metrics
	// Cluster reaches the other nodes (the cluster directory); nil on a
	// node alone.
	Cluster Cluster
}

// Cluster is what the core tells the other nodes of a cluster, and asks
// of them.
type Cluster interface {
	// OfflineStored: a message was stored offline here for bare (a node
	// where that user is available delivers it).
	OfflineStored(bare jid.JID)
	// CachedChanged: owner's block list or archiving preferences changed
	// here (the others drop their cached copies).
	CachedChanged(owner string)
	// Request sends an IQ request to the component entry c, which is
	// connected to another node, and returns its answer (see Request).
	Request(ctx context.Context, c *router.Session, iq *stanza.Element) (*stanza.Element, error)
}

// Server is the routing core. Create it with New, register IQ handlers and
// features, then pass stanzas from clients to Handle.
type Server struct {
	hosts   map[string]bool
	router  *router.Router
	store   storage.Store
	log     *slog.Logger
	now     func() time.Time
	maxOff  int
	noArch  bool                     // archive.enabled: false; see archiveMessage
	handler map[handlerKey]iqHandler // written only before serving starts
	metrics Metrics
	routed  [3]func(time.Duration) // Metrics.Route's recorders, indexed by kindOf

	features   []string                               // disco features of the server, in registration order
	ended      []func(*router.Session)                // session-end hooks, registered before serving
	cluster    Cluster                                // nil on a node alone
	offlineMsg []func(to jid.JID, st *stanza.Element) // see OnOfflineMessage (hooks_push.go)
	comp       components                             // external components (component.go)
	pushIDs    pushIDs                                // ids of PushToInterested's iqs (interest.go)

	blockMu    sync.Mutex                      // guards blocks, prefs, blockEpoch
	blocks     map[string]map[string]struct{}  // owner bare JID -> blocked JIDs; cache of storage
	prefs      map[string]storage.ArchivePrefs // owner bare JID -> archiving preferences; cache of storage
	blockEpoch uint64                          // counts invalidations (see blockList)
}

// New creates the core.
func New(cfg Config, r *router.Router, st storage.Store) *Server {
	s := &Server{
		hosts:   make(map[string]bool),
		router:  r,
		store:   st,
		log:     cfg.Log,
		now:     cfg.Now,
		maxOff:  cfg.MaxOfflineMessages,
		noArch:  cfg.NoArchive,
		handler: make(map[handlerKey]iqHandler),
		metrics: cfg.Metrics,
		cluster: cfg.Cluster,
		blocks:  make(map[string]map[string]struct{}),
		prefs:   make(map[string]storage.ArchivePrefs),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, h := range cfg.Hosts {
		s.hosts[h] = true
	}
	if r := cfg.Metrics.Route; r != nil {
		for k, kind := range routeKinds {
			s.routed[k] = r(kind)
		}
	}
	s.Handle(stanza.NSRoster, ToSelf, IQHandlerFunc(s.handleRoster))
	return s
}

// Handle registers an IQ handler for a payload namespace and the targets it
// answers; a second handler for the same namespace and target panics.
// Call before serving. Its calls are measured under the module
// name ModuleName(ns).
func (s *Server) Handle(ns string, targets Target, h IQHandler) {
	e := iqHandler{h: h}
	if m := s.metrics.Module; m != nil {
		e.record = m(ModuleName(ns))
	}
	for t := ToServer; t <= ToAccount; t <<= 1 {
		if targets&t != 0 {
			k := handlerKey{ns, t}
			if _, dup := s.handler[k]; dup {
				// Two modules answering one namespace: a wiring bug.
				panic("im: a second handler for " + ns)
			}
			s.handler[k] = e
		}
	}
}

// AddFeature adds disco#info features the server advertises.
func (s *Server) AddFeature(features ...string) {
	s.features = append(s.features, features...)
}

// OnSessionEnded registers a hook run when a session ends, after its
// unavailable presence went out. Call before serving.
func (s *Server) OnSessionEnded(fn func(*router.Session)) {
	s.ended = append(s.ended, fn)
}

// Features lists the registered disco features.
func (s *Server) Features() []string { return append([]string(nil), s.features...) }

// IsLocal reports whether the domain is one of ours.
func (s *Server) IsLocal(domain string) bool { return s.hosts[domain] }

// Router returns the session directory.
func (s *Server) Router() *router.Router { return s.router }

// Store returns the storage.
func (s *Server) Store() storage.Store { return s.store }

// Now returns the current time from the injected clock.
func (s *Server) Now() time.Time { return s.now() }

// Route routes one stanza a bound client sent. from is stamped here: the
// server sets 'from' on everything a client sends (RFC 6120 §8.1.2.1).
func (s *Server) Route(ctx context.Context, sess *router.Session, st *stanza.Element) {
	k := kindOf(st.Name)
	if k < 0 || s.routed[k] == nil {
		s.route(ctx, sess, st)
		return
	}
	// The monotonic clock, not the injected one: this is a duration.
	start := time.Now()
	s.route(ctx, sess, st)
	s.routed[k](time.Since(start))
}

func (s *Server) route(ctx context.Context, sess *router.Session, st *stanza.Element) {
	st = st.Copy()
	st.SetAttr("from", sess.JID().String())
	var to jid.JID
	if raw := st.To(); raw != "" {
		var err error
		if to, err = jid.Parse(raw); err != nil {
			s.bounce(sess, st, &stanza.Error{Condition: stanza.JIDMalformed, Text: "the 'to' address is not a valid JID"})
			return
		}
	}
	switch st.Name {
	case "message":
		s.message(ctx, sess, st, to)
	case "presence":
		s.presence(ctx, sess, st, to)
	case "iq":
		s.iq(ctx, sess, st, to)
	}
}

// EndSessions closes every session of bare, on whichever node, with the
// stream error why: the way a module ends a user's sessions (it never
// closes one itself).
func (s *Server) EndSessions(bare jid.JID, why *stanza.StreamError) {
	for _, ss := range s.router.Sessions(bare) {
		ss.Close(why)
	}
}

// bounce sends an error reply to the session that sent st, unless st is
// itself an error (errors are never answered with errors).
func (s *Server) bounce(sess *router.Session, st *stanza.Element, e *stanza.Error) {
	if st.Type() == "error" {
		return
	}
	sess.Deliver(stanza.ErrorReply(st, e))
}

// bounceTo sends an error reply to whoever sent st, wherever they are.
func (s *Server) bounceTo(ctx context.Context, st *stanza.Element, e *stanza.Error) {
	if st.Type() == "error" {
		return
	}
	from, err := jid.Parse(st.From())
	if err != nil {
		return
	}
	reply := stanza.ErrorReply(st, e)
	if from.IsBare() {
		for _, ss := range s.router.Sessions(from) {
			ss.Deliver(reply)
		}
		return
	}
	if ss := s.router.Session(from); ss != nil {
		ss.Deliver(reply)
	}
}
