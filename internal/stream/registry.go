package stream

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/parley-im/parley/internal/graceful"
	"github.com/parley-im/parley/stanza"
)

// Conn is what a Registry needs of a connection: to be a map key, and a
// way to cut it when shutdown runs out of time.
type Conn interface {
	comparable
	// Cut closes the connection's socket at once.
	Cut()
}

// Limits bound a registry's open connections; zero is no limit.
type Limits struct {
	Max   int // server-wide
	PerIP int // from one remote address
}

// ErrClosed is returned by Serve once the registry stopped accepting.
var ErrClosed = errors.New("stream: listener closed")

// Registry accepts connections on any number of listeners and keeps the
// open ones: it applies the limits, refuses what is over them with a
// stream error, and at shutdown stops accepting, hands the open
// connections to be closed and waits for them, cutting the rest when time
// is up.
type Registry[C Conn] struct {
	lim    Limits
	refuse func(nc net.Conn, why *stanza.StreamError)

	mu        sync.Mutex // guards everything below
	conns     map[C]string
	perIP     map[string]int
	pending   int // admitted, not yet started
	listeners []net.Listener
	closing   bool
	wg        sync.WaitGroup // admitted connections not yet over
}

// NewRegistry returns a registry applying lim. refuse tells a connection
// that is refused why — it writes the stream error and closes nc — and
// runs on a goroutine of its own, so a peer that does not read holds up
// nothing.
func NewRegistry[C Conn](lim Limits, refuse func(nc net.Conn, why *stanza.StreamError)) *Registry[C] {
	return &Registry[C]{lim: lim, refuse: refuse, conns: make(map[C]string), perIP: make(map[string]int)}
}

// Serve accepts connections on l until StopAccepting, and hands each to
// accept (which makes its connection and calls Admit and Start, or only
// closes it). It returns ErrClosed once stopped, or the listener's error.
func (r *Registry[C]) Serve(l net.Listener, accept func(nc net.Conn)) error {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return ErrClosed
	}
	r.listeners = append(r.listeners, l)
	r.mu.Unlock()
	for {
		nc, err := l.Accept()
		if err != nil {
			if r.Closing() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		accept(nc)
	}
}

// Admit applies the limits to a new connection, nc, from any transport
// (the accept loop, or an HTTP handler for WebSocket and BOSH). A refused
// one is told why (resource-constraint over the server-wide limit,
// policy-violation over its address's, system-shutdown once stopping)
// and Admit returns false; an admitted one must be passed to Start.
func (r *Registry[C]) Admit(nc net.Conn) bool {
	ip := RemoteIP(nc)
	var why *stanza.StreamError
	r.mu.Lock()
	switch {
	case r.closing:
		why = stanza.NewStreamError(stanza.SystemShutdown, "the server is shutting down")
	case r.lim.Max > 0 && len(r.conns)+r.pending >= r.lim.Max:
		why = stanza.NewStreamError(stanza.StreamResourceLimit, "the server is at its connection limit")
	case r.lim.PerIP > 0 && r.perIP[ip] >= r.lim.PerIP:
		why = stanza.NewStreamError(stanza.StreamPolicyViolation, "too many connections from your address")
	default:
		r.perIP[ip]++
		r.pending++
		// Under mu, before any StopAccepting: Wait sees it.
		r.wg.Add(1)
	}
	r.mu.Unlock()
	if why != nil {
		go r.refuse(nc, why)
	}
	return why == nil
}

// Start runs an admitted connection c, whose socket is nc: serve runs on
// a goroutine of its own and calls done when c is over (from whichever
// goroutine ends it).
func (r *Registry[C]) Start(c C, nc net.Conn, serve func(done func())) {
	ip := RemoteIP(nc)
	r.mu.Lock()
	r.pending--
	r.conns[c] = ip
	r.mu.Unlock()
	go serve(func() {
		r.mu.Lock()
		delete(r.conns, c)
		if r.perIP[ip]--; r.perIP[ip] <= 0 {
			delete(r.perIP, ip)
		}
		r.mu.Unlock()
		r.wg.Done()
	})
}

// StopAccepting closes the listeners, makes Admit refuse from now on and
// returns the open connections, for the caller to close as it sees fit.
func (r *Registry[C]) StopAccepting() []C {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closing = true
	for _, l := range r.listeners {
		_ = l.Close()
	}
	conns := make([]C, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	return conns
}

// Wait waits for every admitted connection to end; when ctx expires first
// it cuts the remaining ones, waits for them anyway and returns ctx's
// error.
func (r *Registry[C]) Wait(ctx context.Context) error {
	return graceful.Wait(ctx, &r.wg, func() {
		r.mu.Lock()
		for c := range r.conns {
			c.Cut()
		}
		r.mu.Unlock()
	})
}

// Closing reports whether StopAccepting was called.
func (r *Registry[C]) Closing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closing
}

// Count returns the number of started connections still open.
func (r *Registry[C]) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// RemoteIP is the address the per-IP limit counts nc under.
func RemoteIP(nc net.Conn) string {
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}
