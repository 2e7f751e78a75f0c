package server

import (
	"github.com/parley-im/parley/api"
)

// adminAPI builds the admin REST API (package api) over this node's core
// and cluster view; it answers 404 for everything unless api.enabled.
// httpHandler mounts it at api.Prefix for every method, so a catch-all
// pattern with a method ("GET /") would conflict with it in the ServeMux:
// serve such a thing (a web chat) at "/" without a method, or below a
// path of its own.
func (s *Server) adminAPI() *api.API {
	return api.New(api.Config{
		Enabled:         s.cfg.API.Enabled,
		Tokens:          s.cfg.API.Tokens,
		Hosts:           s.cfg.Hosts,
		SCRAMIterations: s.cfg.Auth.SCRAMIterations,
		Core:            s.core,
		Nodes:           s.apiNodes,
		Stats:           s.clusterStats,
		Sessions:        s.apiSessions(),
		Log:             s.log,
	})
}

// apiNodes is Status in the API's terms.
func (s *Server) apiNodes() []api.Node {
	st := s.Status()
	out := make([]api.Node, len(st.Nodes))
	for i, n := range st.Nodes {
		out[i] = api.Node{
			Name: n.Name, Version: n.Version, Sessions: n.Sessions, Started: n.Started,
			LastSeen: n.LastSeen, Self: n.Self, Draining: n.Draining,
			ClientAddress: n.ClientAddress, ClientTLSAddress: n.ClientTLSAddress,
		}
	}
	return out
}
