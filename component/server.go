// Package component accepts external components (XEP-0114, the
// jabber:component:accept namespace): a trusted service, such as a push
// app server (XEP-0357), that connects over TCP, proves itself with the
// handshake over a shared secret and then serves a domain of its own.
//
// A connected component is entered in the session directory as
// <domain>/component (im.ComponentResource), so in a cluster every node
// routes to it. One connection per domain: a second one is refused with
// <conflict/> while the first is up. The package owns the connections
// only: where a stanza goes is package im's decision (im.Server.FromComponent
// for what the component sends). It does not speak
// jabber:component:connect (the server dialling the component), and
// offers no TLS: keep the listener on loopback or a private network.
package component

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/internal/stream"
	"github.com/parley-im/parley/stanza"
)

// NSAccept is the content namespace of component streams.
const NSAccept = "jabber:component:accept"

// Config is the listener's behaviour.
type Config struct {
	// Secrets maps each component domain allowed to connect to the secret
	// of its handshake.
	Secrets map[string]string
	Limits  stanza.Limits
	// HandshakeTimeout bounds the time from connecting to a successful
	// handshake (default 30s).
	HandshakeTimeout time.Duration
	// MaxQueue is how many bytes may wait for a component that does not
	// read before it is disconnected (default 16 MiB: a push app server
	// may fall behind in a burst).
	MaxQueue int
	Metrics  *Metrics
	Log      *slog.Logger
}

func (c *Config) defaults() {
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = 16 << 20
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
}

// Server serves component connections.
type Server struct {
	cfg  Config
	core *im.Server
	log  *slog.Logger
	qcfg stream.QueueConfig // every connection's output queue

	conns *stream.Registry[*conn]
	// mu makes checking for a connected component and entering a new one
	// in the router one step, so two connections for one domain cannot
	// both get in on this node, and none gets in once Shutdown collected
	// the connections to close. It is taken before the registry's lock.
	mu sync.Mutex
}

// NewServer returns a component server routing into core. Every domain in
// cfg.Secrets must have been declared with core.AddComponent.
func NewServer(cfg Config, core *im.Server) *Server {
	cfg.defaults()
	return &Server{
		cfg: cfg, core: core, log: cfg.Log,
		qcfg:  stream.QueueConfig{NS: NSAccept, Max: cfg.MaxQueue},
		conns: stream.NewRegistry[*conn](stream.Limits{}, refuse),
	}
}

// refuse tells a connection arriving during shutdown why it is closed.
func refuse(nc net.Conn, why *stanza.StreamError) {
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	b := stanza.StreamHeader(nil, NSAccept, stanza.Attr{Name: "id", Value: randomID()})
	b = why.Element().AppendXML(b, NSAccept)
	_, _ = nc.Write(append(b, stanza.StreamEnd...))
	_ = nc.Close()
}

// ErrClosed is returned by Serve after Shutdown.
var ErrClosed = errors.New("component: server closed")

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.conns.Serve(l, func(nc net.Conn) {
		if !s.conns.Admit(nc) {
			return
		}
		c := newConn(s, nc)
		s.conns.Start(c, nc, func(done func()) {
			defer done()
			c.serve()
		})
	})
	if errors.Is(err, stream.ErrClosed) {
		return ErrClosed
	}
	return err
}

// Shutdown stops accepting, closes every component's stream with
// system-shutdown and waits for the connections to end or ctx to expire
// (the rest are then cut, and ctx's error returned).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	conns := s.conns.StopAccepting()
	s.mu.Unlock()
	for _, c := range conns {
		c.Close(stanza.NewStreamError(stanza.SystemShutdown, "the server is shutting down"))
	}
	return s.conns.Wait(ctx)
}

// Count returns the number of open component connections (handshake done
// or not).
func (s *Server) Count() int { return s.conns.Count() }
