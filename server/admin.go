package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/parley-im/parley/admin"
	"github.com/parley-im/parley/api"
)

// The admin dashboard (package admin) at /admin, and what it shows: every
// node's metrics through the admin API's GET /api/v1/cluster/stats, each
// node answering for itself over the cluster.

// statsWait bounds the wait for another node's stats.
const statsWait = time.Second

// dashboard builds the admin dashboard on first use (by httpHandler,
// which the admin API's Sessions and mountAdmin share it from); nil if it
// cannot be built, which the log then says.
func (s *Server) dashboard() *admin.Dashboard {
	if s.dash != nil || s.dashErr {
		return s.dash
	}
	d, err := admin.New(admin.Config{
		Users:          s.cfg.Admin.Users,
		Accounts:       s.store,
		Secret:         s.cfg.Cluster.Secret,
		WebDir:         s.cfg.Listeners.HTTP.WebDir,
		Client:         s.adminClient,
		RequirePrivate: s.cfg.Listeners.C2S.StartTLSRequired,
		Log:            s.log,
	})
	if err != nil {
		s.log.Error("the admin dashboard is off", "err", err)
		s.dashErr = true
		return nil
	}
	s.dash = d
	return d
}

// mountAdmin serves the dashboard at /admin (and uPlot at /web/uplot/).
func (s *Server) mountAdmin(mux *http.ServeMux) {
	if d := s.dashboard(); d != nil {
		d.Mount(mux)
	}
}

// apiSessions is the dashboard as the admin API's cookie check, or nil.
func (s *Server) apiSessions() api.Sessions {
	if d := s.dashboard(); d != nil {
		return d
	}
	return nil
}

// adminClient describes a dashboard request's client as webClient does.
func (s *Server) adminClient(r *http.Request) admin.Client {
	addr, encrypted := s.webPeer(r)
	_, host := s.publicBase(r)
	return admin.Client{
		Addr:      addr.IP.String(),
		Private:   encrypted || addr.IP.IsLoopback(),
		Encrypted: encrypted,
		Host:      host,
	}
}

// statsSnapshot is one node's stats as sent to the node that asked.
type statsSnapshot struct {
	Time     time.Time    `json:"time"`
	Families []api.Family `json:"families"`
}

// localStats takes this node's snapshot.
func (s *Server) localStats() statsSnapshot {
	fams, err := api.Gather(s.reg)
	if err != nil {
		// What could be gathered is still worth showing.
		s.log.Debug("gathering metrics for the dashboard", "err", err)
	}
	return statsSnapshot{Time: time.Now(), Families: fams}
}

// serveStats answers the other nodes' requests for this node's stats.
func (s *Server) serveStats() error {
	return s.dir.ServeStats(func() ([]byte, error) { return json.Marshal(s.localStats()) })
}

// clusterStats is every live node's snapshot: this node's own, the
// others' asked for in parallel; one that does not answer within
// statsWait is listed with the error.
func (s *Server) clusterStats(ctx context.Context) []api.NodeStats {
	nodes := s.Status().Nodes
	out := make([]api.NodeStats, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		out[i] = api.NodeStats{Name: n.Name, Self: n.Self}
		if n.Self || s.dir == nil {
			snap := s.localStats()
			out[i].Time, out[i].Families = snap.Time, snap.Families
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, statsWait)
			defer cancel()
			b, err := s.dir.NodeStats(ctx, n.Name)
			var snap statsSnapshot
			if err == nil {
				err = json.Unmarshal(b, &snap)
			}
			if err != nil {
				out[i].Error = "no stats from " + n.Name + ": " + err.Error()
				return
			}
			out[i].Time, out[i].Families = snap.Time, snap.Families
		})
	}
	wg.Wait()
	return out
}
