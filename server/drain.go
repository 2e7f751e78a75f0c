package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-im/parley/cluster"
	"github.com/parley-im/parley/stanza"
)

// Drain takes the node out of service for an upgrade or a move, losing
// nothing: it reports itself draining (GET /healthz answers 503, so a load
// balancer stops sending clients; the other nodes hear it at once and stop
// redirecting clients here), stops accepting, moves its clients away at
// cluster.drain_rate — see-other-host to the least loaded node that
// advertises a client address, else a clean stream close so that the client
// reconnects through the load balancer — and, once no connection is left
// or ctx expired, shuts down (leaving the cluster). progress, if not nil,
// is told how many client connections are still open as they go.
//
// What was routed to a session before its stream closed is written to it;
// what arrives later, and what the client sends until it closes its side,
// is routed as usual (to the client's new session, another resource, or
// offline storage).
func (s *Server) Drain(ctx context.Context, progress func(open int)) error {
	if s.draining.Swap(true) {
		return errors.New("drain: already draining")
	}
	s.requestDrain() // a drain started by a signal satisfies `parley drain` too
	if s.node != nil {
		s.node.Announce()
	}
	if s.node != nil {
		s.log.Info("draining: moving clients to other nodes", "clients", s.c2s.Count(), "rate_per_second", s.cfg.Cluster.DrainRate)
	} else {
		s.log.Info("draining: closing every client stream (no other node to send clients to)", "clients", s.c2s.Count(), "rate_per_second", s.cfg.Cluster.DrainRate)
	}
	var r *redirector
	if s.node != nil {
		r = &redirector{node: s.node, sent: make(map[string]int)}
	}
	redirect := func(directTLS bool) *stanza.StreamError {
		if r == nil {
			return nil
		}
		return r.next(directTLS)
	}
	// Clients with resumable stream management lose their connection
	// instead, and resume on another node, when there is one to take them.
	elsewhere := r != nil && r.anyOther()
	err := s.c2s.Drain(ctx, s.cfg.Cluster.DrainRate, redirect, progress, elsewhere)
	if err != nil {
		s.log.Warn("draining: time is up, cutting the remaining connections", "err", err)
	} else {
		s.log.Info("draining: every client has left")
	}
	if s.node != nil {
		// Stanzas other nodes routed here before they heard that the
		// sessions left are in flight for a moment: let them arrive and
		// be re-routed before the node stops listening.
		time.Sleep(min(s.cfg.Cluster.Heartbeat, time.Second))
	}
	// The connections are gone; Shutdown closes the rest within a short
	// bound of its own (ctx may be spent by now).
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if serr := s.Shutdown(sctx); err == nil {
		err = serr
	}
	if err != nil {
		err = fmt.Errorf("drain: %w", err)
	}
	// Tell `parley drain` clients how it ended before the process exits.
	s.drainErr = err
	close(s.drained)
	done := make(chan struct{})
	go func() { s.reporters.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	return err
}

// Draining reports whether Drain has started.
func (s *Server) Draining() bool { return s.draining.Load() }

// DrainRequested is closed when `parley drain` asks this node to drain
// (over the control socket); the process runs Drain and exits.
func (s *Server) DrainRequested() <-chan struct{} { return s.drainReq }

func (s *Server) requestDrain() {
	s.drainOnce.Do(func() { close(s.drainReq) })
}

// redirector picks where each moved client goes: the live node, not
// draining, advertising an address for the client's kind of connection,
// with the fewest sessions counting the clients already sent there.
type redirector struct {
	node *cluster.Node
	mu   sync.Mutex
	sent map[string]int
}

func (r *redirector) next(directTLS bool) *stanza.StreamError {
	r.mu.Lock()
	defer r.mu.Unlock()
	best, bestLoad := "", 0
	var addr string
	for _, m := range r.node.Members() {
		a := m.C2S
		if directTLS {
			a = m.C2STLS
		}
		if m.Name == r.node.Name() || m.Draining || a == "" {
			continue
		}
		if load := m.Sessions + r.sent[m.Name]; best == "" || load < bestLoad {
			best, bestLoad, addr = m.Name, load, a
		}
	}
	if best == "" {
		return nil
	}
	r.sent[best]++
	return &stanza.StreamError{Condition: stanza.SeeOtherHost, Other: addr, Text: "this node is draining; please continue on " + best}
}

// anyOther reports whether another live node takes clients.
func (r *redirector) anyOther() bool {
	for _, m := range r.node.Members() {
		if m.Name != r.node.Name() && !m.Draining {
			return true
		}
	}
	return false
}
