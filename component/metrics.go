package component

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the component listener's Prometheus instruments.
type Metrics struct {
	Connected         prometheus.Gauge       // components past the handshake, on this node
	HandshakeFailures prometheus.Counter     // wrong secrets
	Stanzas           *prometheus.CounterVec // by direction: in (from components), out
	StreamErrors      *prometheus.CounterVec // by condition sent

	in, out prometheus.Counter // Stanzas resolved once: this is the per-stanza path
}

// NewMetrics creates the instruments and registers them with reg (nil:
// not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_components_connected", Help: "External components (XEP-0114) connected to this node."}),
		HandshakeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_component_handshake_failures_total", Help: "Component handshakes refused for a wrong secret."}),
		Stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_component_stanzas_total", Help: "Stanzas received from (in) and queued for (out) external components."}, []string{"direction"}),
		StreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_component_stream_errors_total", Help: "Stream errors sent to external components."}, []string{"condition"}),
	}
	m.in = m.Stanzas.WithLabelValues("in")
	m.out = m.Stanzas.WithLabelValues("out")
	if reg != nil {
		reg.MustRegister(m.Connected, m.HandshakeFailures, m.Stanzas, m.StreamErrors)
	}
	return m
}
