package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpHandler serves health and metrics. Web transports, the admin API and
// the web chat join it in later work.
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /cluster", s.clusterStatus)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
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
