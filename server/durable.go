package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Durable stream management sessions (c2s/durable.go) are recorded with
// the node and process (member) holding them. A record whose process is
// gone — killed, crashed, or this node before a restart — is taken over
// when its client comes back; one nobody comes back for is dropped by
// sweepOrphans once the resumption window has passed since its holder was
// first seen gone.

// member identifies this process as a holder of durable sessions: its
// cluster member id, or a fresh id on a node alone.
func (s *Server) member() (node, member string) {
	if s.node != nil {
		return s.node.Name(), s.node.ID()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "local", hex.EncodeToString(b[:])
}

// holderAlive reports whether a cluster member still runs.
func (s *Server) holderAlive() func(node, member string) bool {
	if s.node == nil {
		return nil
	}
	return func(_, member string) bool {
		for _, m := range s.node.Members() {
			if m.ID == member {
				return true
			}
		}
		return false
	}
}

// takeoverWait is how long a resuming client waits for the cluster to
// notice that the node holding its session died.
func (s *Server) takeoverWait() time.Duration {
	if s.node == nil {
		return 0
	}
	return s.cfg.Cluster.DeadAfter + 2*s.cfg.Cluster.Heartbeat
}

// sweepOrphans drops, every period, the session records of processes that
// have been gone for longer than the resumption window.
func (s *Server) sweepOrphans(self string, alive func(node, member string) bool, period time.Duration, stop <-chan struct{}) {
	window := s.cfg.StreamManagement.ResumeTimeout
	goneSince := map[string]time.Time{}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		holders, err := s.store.SMHolders(ctx)
		if err != nil {
			s.log.Warn("could not list stream management holders", "err", err)
			cancel()
			continue
		}
		seen := map[string]bool{}
		now := time.Now()
		for _, h := range holders {
			node, member := h[0], h[1]
			if member == self || alive != nil && alive(node, member) {
				continue
			}
			seen[member] = true
			since, ok := goneSince[member]
			if !ok {
				goneSince[member] = now
				continue
			}
			if now.Sub(since) < window {
				continue
			}
			n, err := s.store.DeleteSMSessionsOf(ctx, member)
			if err != nil {
				s.log.Warn("could not drop orphaned stream management sessions", "node", node, "err", err)
				continue
			}
			s.log.Info("dropped stream management sessions nobody resumed", "node", node, "sessions", n)
		}
		for m := range goneSince {
			if !seen[m] {
				delete(goneSince, m)
			}
		}
		cancel()
	}
}
