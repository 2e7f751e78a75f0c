package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/parley-im/parley/c2s"
	"github.com/parley-im/parley/cluster"
	"github.com/parley-im/parley/cluster/directory"
	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/prometheus/client_golang/prometheus"
)

// startCluster joins the cluster when the configuration names this node.
func (s *Server) startCluster(ctx context.Context) error {
	c := s.cfg.Cluster
	if !c.Enabled() {
		return nil
	}
	listen := c.Listen
	if c.NATSURL != "" {
		listen = "" // an external NATS cluster: no embedded server to listen
	}
	routeTLS, err := routeTLSConfig(c)
	if err != nil {
		return err
	}
	node, err := cluster.Start(ctx, cluster.Config{
		NodeName:  c.NodeName,
		Listen:    listen,
		Peers:     c.Peers,
		Secret:    c.Secret,
		RouteTLS:  routeTLS,
		NATSURL:   c.NATSURL,
		Heartbeat: c.Heartbeat,
		DeadAfter: c.DeadAfter,
		Version:   Version,
		Sessions:  s.router.Count,
		Draining:  s.draining.Load,
		Log:       s.log,

		ClientAddr:    c.ClientAddress,
		ClientTLSAddr: c.ClientTLSAddress,
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	s.node = node
	if err := s.dir.Start(node, s.router, s.core); err != nil {
		return fmt.Errorf("cluster: session directory: %w", err)
	}
	if err := s.serveStats(); err != nil {
		return fmt.Errorf("cluster: stats: %w", err)
	}
	node.Watch(func(ev cluster.Event) {
		s.log.Info("cluster membership", "event", ev.Kind.String(), "node", ev.Member.Name, "version", ev.Member.Version, "returned", ev.Returned)
	})
	return nil
}

// NodeStatus is one node in GET /cluster and `parley cluster status`.
type NodeStatus struct {
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Sessions int       `json:"sessions"`
	Started  time.Time `json:"started"`
	Uptime   string    `json:"uptime"`
	LastSeen time.Time `json:"last_seen"`
	Self     bool      `json:"self"`
	Draining bool      `json:"draining"`
	// ClientAddress and ClientTLSAddress are where drained clients are
	// redirected to reach the node (cluster.client_address).
	ClientAddress    string `json:"client_address,omitempty"`
	ClientTLSAddress string `json:"client_tls_address,omitempty"`
}

// ClusterStatus is the body of GET /cluster.
type ClusterStatus struct {
	Clustered bool         `json:"clustered"`
	Node      string       `json:"node"`
	Nodes     []NodeStatus `json:"nodes"`
}

// Status reports the live nodes; a server that is not clustered reports
// itself alone.
func (s *Server) Status() ClusterStatus {
	now := time.Now()
	if s.node == nil {
		name, _ := os.Hostname()
		return ClusterStatus{Node: name, Nodes: []NodeStatus{{
			Name: name, Version: Version, Sessions: s.router.Count(), Started: s.started,
			Uptime: now.Sub(s.started).Round(time.Second).String(), LastSeen: now, Self: true,
			Draining: s.draining.Load(),
		}}}
	}
	st := ClusterStatus{Clustered: true, Node: s.node.Name()}
	for _, m := range s.node.Members() {
		st.Nodes = append(st.Nodes, NodeStatus{
			Name: m.Name, Version: m.Version, Sessions: m.Sessions, Started: m.Started,
			Uptime: now.Sub(m.Started).Round(time.Second).String(), LastSeen: m.LastSeen,
			Self: m.Name == s.node.Name(), Draining: m.Draining,
			ClientAddress: m.C2S, ClientTLSAddress: m.C2STLS,
		})
	}
	return st
}

func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.Status())
}

// registerClusterMetrics exposes the traffic between nodes. It reads
// ClusterStats at each scrape: s.dir is set before the HTTP listener
// serves /metrics.
func (s *Server) registerClusterMetrics() {
	for _, c := range []struct {
		name, help, dir string
		get             func(directory.Stats) uint64
	}{
		{"parley_cluster_forwarded_total", "Stanzas (and session closes) forwarded between nodes.", "out", func(st directory.Stats) uint64 { return st.Sent }},
		{"parley_cluster_forwarded_total", "Stanzas (and session closes) forwarded between nodes.", "in", func(st directory.Stats) uint64 { return st.Received }},
		{"parley_cluster_batches_total", "NATS messages carrying forwarded stanzas (several per message when busy).", "out", func(st directory.Stats) uint64 { return st.SentBatches }},
		{"parley_cluster_batches_total", "NATS messages carrying forwarded stanzas (several per message when busy).", "in", func(st directory.Stats) uint64 { return st.ReceivedBatches }},
	} {
		s.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: c.name, Help: c.help, ConstLabels: prometheus.Labels{"direction": c.dir},
		}, func() float64 { return float64(c.get(s.ClusterStats())) }))
	}
	s.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "parley_cluster_resent_batches_total", Help: "Batches of forwarded stanzas published again because the receiving node did not acknowledge them in time.",
	}, func() float64 { return float64(s.ClusterStats().Resent) }))
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_cluster_unacked_batches", Help: "Batches of forwarded stanzas waiting for the receiving node's acknowledgement.",
	}, func() float64 { return float64(s.ClusterStats().Unacked) }))
}

// ClusterStats returns the node-to-node traffic counters (zero when not
// clustered).
func (s *Server) ClusterStats() directory.Stats {
	if s.dir == nil {
		return directory.Stats{}
	}
	return s.dir.Stats()
}

// remoteResume lets c2s resume a stream management session another node
// holds (nil when not clustered).
func (s *Server) remoteResume() func(id, user string, h uint32) (*c2s.Handover, error) {
	if s.dir == nil {
		return nil
	}
	return func(id, user string, h uint32) (*c2s.Handover, error) {
		state, err := s.dir.Resume(id, user, h)
		var refused directory.RefusedError
		if errors.As(err, &refused) {
			return nil, stanza.NewStreamError(stanza.StreamUndefined, string(refused))
		}
		if err != nil {
			return nil, err
		}
		var ho c2s.Handover
		if err := json.Unmarshal(state, &ho); err != nil {
			return nil, err
		}
		return &ho, nil
	}
}

// resumeFrom lets c2s ask the process holding a durable session for it
// (nil when not clustered).
func (s *Server) resumeFrom() func(holder, id, user string, h uint32) (*c2s.Handover, error) {
	if s.dir == nil {
		return nil
	}
	return func(holder, id, user string, h uint32) (*c2s.Handover, error) {
		state, err := s.dir.ResumeFrom(holder, id, user, h)
		var refused directory.RefusedError
		switch {
		case errors.As(err, &refused):
			return nil, stanza.NewStreamError(stanza.StreamUndefined, string(refused))
		case errors.Is(err, directory.ErrUnreachable):
			return nil, c2s.ErrHolderUnreachable
		case errors.Is(err, directory.ErrNoSession):
			return nil, c2s.ErrNotHere
		case err != nil:
			return nil, err
		}
		var ho c2s.Handover
		if err := json.Unmarshal(state, &ho); err != nil {
			return nil, err
		}
		return &ho, nil
	}
}

// takenOver tells the cluster that a session was taken over here (nil
// when not clustered).
func (s *Server) takenOver() func(full jid.JID, lost string) [][]byte {
	if s.dir == nil {
		return nil
	}
	return s.dir.TakenOver
}

// handOver gives a session this node holds to the node where its client
// resumed it.
func (s *Server) handOver(id, user string, h uint32) ([]byte, error) {
	ho, err := s.c2s.HandOver(id, user, h)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ho)
}

// routeTLSConfig builds the routes' TLS from cluster.tls_*: the node's
// certificate both ways, and only certificates from the cluster's CA
// accepted.
func routeTLSConfig(c config.Cluster) (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("cluster.tls_cert/tls_key: %w", err)
	}
	pem, err := os.ReadFile(c.TLSCA)
	if err != nil {
		return nil, fmt.Errorf("cluster.tls_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster.tls_ca: %s holds no PEM certificate", c.TLSCA)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
