// Package c2s accepts client connections (RFC 6120): it negotiates the
// stream — STARTTLS or direct TLS (XEP-0368), SASL, resource binding —
// enforces limits, and then hands every stanza the client sends to the
// instant-messaging core. It owns the connections and nothing else: where
// a stanza goes is package im's decision.
package c2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/internal/stream"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
	"golang.org/x/time/rate"
)

// Config is one listener's behaviour.
type Config struct {
	Hosts        []string
	TLS          *tls.Config       // nil: no TLS offered
	ServerCert   *x509.Certificate // for tls-server-end-point channel binding
	DirectTLS    bool              // XEP-0368: TLS from the first byte
	RequireTLS   bool              // STARTTLS required before authentication
	AllowPlain   bool              // SASL PLAIN (only ever over TLS)
	Registration bool              // XEP-0077 in-band registration
	Limits       stanza.Limits
	MaxConns     int // 0: unlimited
	MaxConnsIP   int // 0: unlimited
	AuthTimeout  time.Duration
	PingInterval time.Duration // 0: never ping
	PingTimeout  time.Duration
	MaxResources int
	LoginRate    float64                // SASL attempts per second per IP; 0: unlimited
	IdleTimeout  time.Duration          // close a connection silent this long; 0: never
	MaxQueue     int                    // bytes queued for a slow client before it is dropped
	Caps         func() *stanza.Element // XEP-0115 <c/> for stream features, or nil
	// Stream management (XEP-0198): SM offers it; a broken connection's
	// session can be resumed for SMResumeTimeout (0: no resumption); a
	// client may leave SMMaxUnacked stanzas unacknowledged.
	SM              bool
	SMResumeTimeout time.Duration
	SMMaxUnacked    int
	// SMLocation and SMTLSLocation, when set, are sent in <enabled/> as
	// where to reconnect to resume (this node: sessions are resumed on
	// the node that holds them), for STARTTLS and direct TLS clients.
	SMLocation, SMTLSLocation string
	// RemoteResume, in a cluster, asks the other nodes for a resumable
	// session this node does not hold (the client came back through a
	// load balancer); it returns ErrNotHere-like errors when none has it,
	// or a *stanza.StreamError for a bad h.
	RemoteResume func(id, user string, h uint32) (*Handover, error)
	// ResumeFrom, in a cluster, asks the process (cluster member id)
	// that a durable session's record names for the session: the same
	// results as RemoteResume, ErrNotHere when it runs without the
	// session, ErrHolderUnreachable when it cannot be reached at all.
	ResumeFrom func(holder, id, user string, h uint32) (*Handover, error)
	// TakenOver, in a cluster, is called once a session taken over from
	// a lost holder (of node lost) is bound here: it tells every node, and returns the
	// stanzas (serialized for the client) they still kept for the old
	// holder.
	TakenOver func(full jid.JID, lost string) [][]byte
	// Durable stream management (durable.go): with Member set, resumable
	// sessions are recorded in storage as held by Node's process Member,
	// and one whose holder is gone is taken over where its client comes
	// back. HolderAlive reports whether another holder still runs (nil:
	// none does); a client may come back before the cluster noticed its
	// node died, so for up to TakeoverWait a holder believed alive is
	// asked again.
	Node, Member string
	HolderAlive  func(node, member string) bool
	TakeoverWait time.Duration
	// MaxClockSkew: a taken-over session is replayed from the archive from
	// its acknowledged mark less this, since ids from different nodes sort
	// by their clocks, which may disagree.
	MaxClockSkew time.Duration

	// QueuedDetached, when set, is told about each stanza queued for a
	// session whose connection is gone while it waits for its client to
	// resume it: full is the session's JID, b the stanza as serialized
	// for the client (read it, do not keep or change it). The push module
	// notifies from it (XEP-0357). It runs on the routing goroutine and
	// must not block.
	QueuedDetached func(full jid.JID, b []byte)

	Metrics *Metrics
	Log     *slog.Logger
}

func (c *Config) defaults() {
	if c.AuthTimeout == 0 {
		c.AuthTimeout = 30 * time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 30 * time.Second
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = 4 << 20
	}
	if c.SMMaxUnacked == 0 {
		c.SMMaxUnacked = 5000
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
}

// Server serves client connections on any number of listeners.
type Server struct {
	cfg   Config
	core  *im.Server
	store storage.Store
	log   *slog.Logger
	hosts map[string]bool
	login *loginLimiter
	qcfg  stream.QueueConfig // every connection's output queue

	conns *stream.Registry[*conn] // listeners and open connections, with the limits

	resMu      sync.Mutex       // guards resumables
	resumables map[string]*conn // stream management id -> the connection that enabled it

	marks *markFlusher // durable sessions' lazy writes
}

// NewServer returns a c2s server routing into core.
func NewServer(cfg Config, core *im.Server, store storage.Store) *Server {
	cfg.defaults()
	s := &Server{
		cfg:   cfg,
		core:  core,
		store: store,
		log:   cfg.Log,
		hosts: make(map[string]bool),
		login: newLoginLimiter(cfg.LoginRate),
		qcfg:  stream.QueueConfig{NS: stanza.NSClient, Max: cfg.MaxQueue},

		resumables: make(map[string]*conn),
	}
	for _, h := range cfg.Hosts {
		s.hosts[h] = true
	}
	s.marks = newMarkFlusher(s)
	s.conns = stream.NewRegistry[*conn](stream.Limits{Max: cfg.MaxConns, PerIP: cfg.MaxConnsIP}, s.refuse)
	return s
}

// ErrClosed is returned by Serve after Shutdown.
var ErrClosed = errors.New("c2s: server closed")

// Serve accepts connections on l until Shutdown. directTLS selects XEP-0368
// direct TLS for this listener.
func (s *Server) Serve(l net.Listener, directTLS bool) error {
	err := s.conns.Serve(l, func(nc net.Conn) {
		if s.conns.Admit(nc) {
			s.start(newConn(s, nc, directTLS), nil)
		}
	})
	if errors.Is(err, stream.ErrClosed) {
		return ErrClosed
	}
	return err
}

// start serves an admitted connection; done, if not nil, is called when it
// is over.
func (s *Server) start(c *conn, done func()) {
	s.conns.Start(c, c.nc, func(over func()) {
		s.cfg.Metrics.opened(c.transport)
		c.serve(func() {
			s.cfg.Metrics.closed(c.transport)
			over()
			if done != nil {
				done()
			}
		})
	})
}

// refuse tells a client refused by the connection limits why (a stream
// error, so the client knows), without reading from it.
func (s *Server) refuse(nc net.Conn, why *stanza.StreamError) {
	s.cfg.Metrics.Refused.Inc()
	host := ""
	if len(s.cfg.Hosts) > 0 {
		host = s.cfg.Hosts[0]
	}
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	buf := appendHeader(nil, host, "", "")
	buf = why.Element().AppendXML(buf, stanza.NSClient)
	buf = append(buf, "</stream:stream>"...)
	_, _ = nc.Write(buf)
	_ = nc.Close()
}

// Shutdown stops accepting, closes every stream with system-shutdown
// (RFC 6120 §4.9.3.19) and waits for the connections to end or ctx to
// expire.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, c := range s.conns.StopAccepting() {
		// In parallel: each close ends a session (presence to contacts).
		go c.Close(stanza.NewStreamError(stanza.SystemShutdown, "the server is shutting down"))
	}
	err := s.conns.Wait(ctx)
	s.expireDetached()
	s.marks.close()
	return err
}

// Drain stops accepting and moves every client away, at most perSecond
// streams a second so that the nodes they move to are not stormed by
// reconnections: each stream is closed with the error redirect returns for
// it (see-other-host), or with a plain closing tag when it returns nil, so
// the client reconnects through the load balancer. Sessions leave the
// router before their closing tag (see conn.Close), and what a client
// sends until it closes its side is still routed. Drain returns when every
// connection has ended, or when ctx expires (the rest are then cut, and
// ctx's error returned). progress, if not nil, is told how many
// connections are still open after each one is asked to leave.
func (s *Server) Drain(ctx context.Context, perSecond int, redirect func(directTLS bool) *stanza.StreamError, progress func(open int), resumeElsewhere bool) error {
	lim := rate.NewLimiter(rate.Limit(max(perSecond, 1)), max(perSecond/10, 1))
	for _, c := range s.conns.StopAccepting() {
		if err := lim.Wait(ctx); err != nil {
			break
		}
		if resumeElsewhere && c.dropForResume() {
			// A client with resumable stream management just loses its
			// connection: it reconnects (through the balancer) and
			// resumes on another node, which takes the session over.
		} else {
			var why *stanza.StreamError
			if redirect != nil && !c.web {
				// A WebSocket client comes back to the URL it knows.
				why = redirect(c.directTLS)
			}
			c.Close(why)
		}
		if progress != nil {
			progress(s.Count())
		}
	}
	err := s.conns.Wait(ctx)
	if err == nil {
		err = s.waitResumed(ctx)
	}
	s.expireDetached()
	s.marks.close()
	return err
}

// waitResumed waits, within ctx, until no session waits for a resumption
// here (their clients resumed them elsewhere).
func (s *Server) waitResumed(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for s.detachedCount() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// detachedCount is how many sessions wait for a resumption.
func (s *Server) detachedCount() int {
	s.resMu.Lock()
	list := make([]*conn, 0, len(s.resumables))
	for _, c := range s.resumables {
		list = append(list, c)
	}
	s.resMu.Unlock()
	n := 0
	for _, c := range list {
		c.out.mu.Lock()
		if c.out.sm.detached && !c.out.sm.over {
			n++
		}
		c.out.mu.Unlock()
	}
	return n
}

// Count returns the number of open connections.
func (s *Server) Count() int { return s.conns.Count() }

// remoteIP is the address limits count nc under (connections, logins).
func remoteIP(nc net.Conn) string { return stream.RemoteIP(nc) }

func (s *Server) addResumable(id string, c *conn) {
	s.resMu.Lock()
	s.resumables[id] = c
	s.resMu.Unlock()
}

func (s *Server) resumable(id string) *conn {
	s.resMu.Lock()
	defer s.resMu.Unlock()
	return s.resumables[id]
}

func (s *Server) forgetResumable(id string) {
	if id == "" {
		return
	}
	s.resMu.Lock()
	delete(s.resumables, id)
	s.resMu.Unlock()
}

// expireDetached ends every session waiting for a resumption (the server
// stops: nobody will resume them here), rerouting what their clients never
// acknowledged.
func (s *Server) expireDetached() {
	s.resMu.Lock()
	var list []*conn
	for _, c := range s.resumables {
		list = append(list, c)
	}
	s.resMu.Unlock()
	for _, c := range list {
		c.out.mu.Lock()
		owner, waiting := c.out.conn, c.out.sm.detached
		c.out.mu.Unlock()
		if waiting {
			owner.expire()
		}
	}
}
