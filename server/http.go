package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/parley-im/parley/api"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpHandler serves health and metrics. Web transports, the admin API and
// the web chat join it in later work.
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /cluster", s.clusterStatus)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.Handle(api.Prefix, s.adminAPI())
	s.mountWeb(mux)
	s.mountAdmin(mux)
	s.mountWebChat(mux)
	return mux
}

type healthReport struct {
	Status   string   `json:"status"`
	Version  string   `json:"version"`
	Hosts    []string `json:"hosts"`
	Sessions int      `json:"sessions"`
	Uptime   string   `json:"uptime"`
}

// health answers 200 while the node takes clients and 503 once it drains,
// so that a load balancer's health check takes it out of rotation.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	status := "ok"
	if s.draining.Load() {
		status = "draining"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(healthReport{
		Status:   status,
		Version:  Version,
		Hosts:    s.cfg.Hosts,
		Sessions: s.router.Count(),
		Uptime:   time.Since(s.started).Round(time.Second).String(),
	})
}

// startPprof serves Go's profiler on its own listener (debug.pprof_address),
// never on the public HTTP one.
func (s *Server) startPprof(ctx context.Context, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s.listen(ctx, "pprof", addr, func(l net.Listener) error {
		if err := s.pprof.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}
