package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrNameInUse is returned by Start when a live node already has the name.
var ErrNameInUse = errors.New("cluster: node name in use by a live node")

// msgBuffer is the membership subscription's channel size. Heartbeats
// arrive at (nodes / Heartbeat) per second, so this is many seconds' worth
// even for a large cluster; on overflow NATS drops and reports a slow
// consumer, which costs at most a missed heartbeat.
const msgBuffer = 1024

// flushTimeout bounds Shutdown's flush of the leave message when the
// caller's context has no deadline.
const flushTimeout = 5 * time.Second

// Node is this process's membership in the cluster. Its methods are safe
// for concurrent use.
type Node struct {
	cfg  Config
	log  *slog.Logger
	self Member // Name, ID, Version, Started; never changes
	srv  *server.Server
	nc   *nats.Conn
	msgs chan *nats.Msg // the membership subscription; read by Start, then loop

	// Goroutines: loop (heartbeats, messages, sweeps) owns dups; dispatch
	// calls watchers. Both end at Shutdown.
	quit         chan struct{} // closed by Shutdown to end loop
	loopDone     chan struct{}
	dispatchQuit chan struct{} // closed by Shutdown to end dispatch
	dispatchDone chan struct{}
	wake         chan struct{} // cap 1: the event queue has something
	ncClosed     chan struct{} // closed by the NATS client's closed handler
	dups         map[string]bool

	mu      sync.Mutex // guards the fields below; never held while calling out
	members map[string]Member
	// silent holds, per name, the run last declared dead for its silence,
	// so that its return can be told from a new run (Event.Returned).
	// It has at most one entry per node name ever seen.
	silent   map[string]string
	watchers []*watcher
	queue    []queued
	closed   bool

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start joins the cluster: it starts the embedded NATS server if there is
// one and waits until it is ready, connects, listens for Config.JoinWait to
// learn the members (failing with ErrNameInUse if a live node has this
// name), and then announces this node and keeps announcing it until
// Shutdown. ctx bounds the start only; it must allow more than JoinWait.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg,
		self: Member{
			Name:    cfg.NodeName,
			ID:      newInstanceID(),
			Version: cfg.Version,
			Started: time.Now(),
			C2S:     cfg.ClientAddr,
			C2STLS:  cfg.ClientTLSAddr,
		},
		msgs:         make(chan *nats.Msg, msgBuffer),
		quit:         make(chan struct{}),
		loopDone:     make(chan struct{}),
		dispatchQuit: make(chan struct{}),
		dispatchDone: make(chan struct{}),
		wake:         make(chan struct{}, 1),
		ncClosed:     make(chan struct{}),
		dups:         make(map[string]bool),
		members:      make(map[string]Member),
		silent:       make(map[string]string),
	}
	n.log = cfg.Log.With("node", cfg.NodeName)

	if cfg.embedded() {
		srv, err := startEmbedded(ctx, cfg, n.self.ID)
		if err != nil {
			return nil, err
		}
		n.srv = srv
	}
	if err := n.connect(ctx); err != nil {
		_ = n.stopServer(ctx)
		return nil, err
	}
	if err := n.join(ctx); err != nil {
		n.nc.Close()
		_ = wait(ctx, n.ncClosed)
		_ = n.stopServer(ctx)
		return nil, err
	}
	n.publishHeartbeat()
	go n.loop()
	go n.dispatch()
	n.log.Info("cluster: node started", "id", n.self.ID, "route", n.routeURL(), "members", len(n.Members()))
	return n, nil
}

// connect opens the NATS client (in-process to the embedded server, or to
// NATSURL) and subscribes to the membership subjects.
func (n *Node) connect(ctx context.Context) error {
	opts := []nats.Option{
		nats.Name("parley " + n.self.Name),
		nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			n.log.Warn("cluster: nats error", "err", err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				n.log.Warn("cluster: nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.log.Warn("cluster: nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(n.ncClosed) }),
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(max(time.Until(dl), time.Millisecond)))
	}
	url := n.cfg.NATSURL
	if n.srv != nil {
		url = ""
		opts = append(opts, nats.InProcessServer(n.srv), nats.IgnoreDiscoveredServers())
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("cluster: connect to nats: %w", err)
	}
	if _, err := nc.ChanSubscribe(subjectAll, n.msgs); err != nil {
		nc.Close()
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	if err := n.flush(ctx, nc); err != nil {
		nc.Close()
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	n.nc = nc
	return nil
}

// join listens before this node announces itself: it learns the members
// and looks for a live node with the same name. With an embedded server
// and peers it first waits (within JoinWait) for a route, then probes so
// that members answer at once rather than at their next heartbeat; it
// probes again halfway through in case the first probe raced the routes'
// interest exchange.
func (n *Node) join(ctx context.Context) error {
	window := time.NewTimer(n.cfg.JoinWait)
	defer window.Stop()
	half := time.NewTimer(n.cfg.JoinWait / 2)
	defer half.Stop()
	// routeUp polls for the first route; nil (never ready) once probed.
	var routeUp <-chan time.Time
	if n.srv != nil && len(n.cfg.Peers) > 0 {
		poll := time.NewTicker(5 * time.Millisecond)
		defer poll.Stop()
		routeUp = poll.C
	} else {
		n.probe()
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: join: %w", ctx.Err())
		case <-window.C:
			return nil
		case <-half.C:
			n.probe()
		case <-routeUp:
			if n.srv.NumRoutes() > 0 {
				n.probe()
				routeUp = nil
			}
		case m := <-n.msgs:
			if r := n.receive(m); r.dup != nil {
				return fmt.Errorf("%w: %q is run %s, started %s", ErrNameInUse,
					n.self.Name, r.dup.ID, r.dup.Started.Format(time.RFC3339))
			}
		}
	}
}

// loop heartbeats, applies membership messages and declares silent nodes
// dead, until Shutdown. Sweeping at a quarter of Heartbeat means a dead
// node is noticed within DeadAfter + Heartbeat/4 of its last heartbeat.
func (n *Node) loop() {
	defer close(n.loopDone)
	hb := time.NewTicker(n.cfg.Heartbeat)
	defer hb.Stop()
	sweep := time.NewTicker(max(n.cfg.Heartbeat/4, time.Millisecond))
	defer sweep.Stop()
	for {
		select {
		case <-n.quit:
			return
		case <-hb.C:
			n.publishHeartbeat()
		case <-sweep.C:
			n.sweep(time.Now())
		case m := <-n.msgs:
			r := n.receive(m)
			if r.dup != nil {
				n.duplicate(*r.dup)
			}
			if r.probed {
				n.publishHeartbeat()
			}
		}
	}
}

func (n *Node) publishHeartbeat() {
	n.publish(subjectHeartbeat, heartbeat{
		Name:     n.self.Name,
		ID:       n.self.ID,
		Version:  n.self.Version,
		Sessions: n.cfg.Sessions(),
		Started:  n.self.Started,
		Draining: n.cfg.Draining(),
		C2S:      n.self.C2S,
		C2STLS:   n.self.C2STLS,
	})
}

// Announce publishes this node's heartbeat now, so that a change (the
// node started draining) reaches the others without waiting for the next
// interval.
func (n *Node) Announce() { n.publishHeartbeat() }

func (n *Node) probe() { n.publish(subjectProbe, leave{Name: n.self.Name, ID: n.self.ID}) }

// publish sends a membership message. Publishing only buffers (also while
// the client reconnects), so a failure here means the connection is closed
// or its buffer is full; the next heartbeat tries again.
func (n *Node) publish(subject string, v any) {
	data, err := json.Marshal(v)
	if err == nil {
		err = n.nc.Publish(subject, data)
	}
	if err != nil {
		n.log.Warn("cluster: publish failed", "subject", subject, "err", err)
	}
}

// Name is this node's name.
func (n *Node) Name() string { return n.self.Name }

// ID identifies this run of the node (see Member.ID).
func (n *Node) ID() string { return n.self.ID }

// Heartbeat is how often this node announces itself (Config.Heartbeat).
func (n *Node) Heartbeat() time.Duration { return n.cfg.Heartbeat }

// Conn is the NATS connection, for routing between nodes. It is closed by
// Shutdown.
func (n *Node) Conn() *nats.Conn { return n.nc }

// Members returns the live nodes, this one included, sorted by name.
func (n *Node) Members() []Member {
	self := n.selfMember()
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sortedLocked(self)
}

func (n *Node) selfMember() Member {
	m := n.self
	m.Sessions = n.cfg.Sessions()
	m.Draining = n.cfg.Draining()
	m.LastSeen = time.Now()
	return m
}

func (n *Node) sortedLocked(self Member) []Member {
	out := make([]Member, 0, len(n.members)+1)
	out = append(out, self)
	for _, m := range n.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// routeURL is the embedded server's route URL, "" without one.
func (n *Node) routeURL() string {
	if n.srv == nil {
		return ""
	}
	if a := n.srv.ClusterAddr(); a != nil {
		return "nats://" + a.String()
	}
	return ""
}

// Shutdown leaves the cluster: it stops heartbeats, tells the other nodes
// this node is leaving (so they drop it at once rather than after
// DeadAfter), closes the NATS connection and the embedded server, and
// delivers the events still queued for watchers. It returns when all of
// the node's goroutines have ended, or with ctx's error if ctx ends first.
// Calling it again returns the first call's result.
func (n *Node) Shutdown(ctx context.Context) error {
	return n.shutdown(ctx, true)
}

// shutdown is Shutdown; with announce false it leaves without a word, as a
// crashed node would (tests use that through kill).
func (n *Node) shutdown(ctx context.Context, announce bool) error {
	n.shutdownOnce.Do(func() {
		var errs []error
		close(n.quit)
		if err := wait(ctx, n.loopDone); err != nil {
			errs = append(errs, err)
		}
		if announce {
			n.publish(subjectLeave, leave{Name: n.self.Name, ID: n.self.ID})
			if err := n.flush(ctx, n.nc); err != nil {
				errs = append(errs, fmt.Errorf("cluster: flush leave: %w", err))
			}
		}
		n.nc.Close()
		if err := wait(ctx, n.ncClosed); err != nil {
			errs = append(errs, err)
		}
		if err := n.stopServer(ctx); err != nil {
			errs = append(errs, err)
		}
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		close(n.dispatchQuit)
		if err := wait(ctx, n.dispatchDone); err != nil {
			errs = append(errs, err)
		}
		n.shutdownErr = errors.Join(errs...)
		n.log.Info("cluster: node stopped", "announced", announce)
	})
	return n.shutdownErr
}

// stopServer shuts the embedded server down, if there is one.
func (n *Node) stopServer(ctx context.Context) error {
	if n.srv == nil {
		return nil
	}
	n.srv.Shutdown()
	done := make(chan struct{})
	go func() {
		n.srv.WaitForShutdown()
		close(done)
	}()
	return wait(ctx, done)
}

// flush waits until the server has processed everything nc sent.
func (n *Node) flush(ctx context.Context, nc *nats.Conn) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	return nc.FlushWithContext(ctx)
}

func wait(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: shutdown: %w", ctx.Err())
	}
}
