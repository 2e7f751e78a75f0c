package c2s

import (
	"github.com/parley-im/parley/sasl"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the c2s listener's Prometheus instruments.
type Metrics struct {
	Connections  prometheus.Gauge
	Refused      prometheus.Counter
	Logins       *prometheus.CounterVec // by mechanism
	AuthFailures prometheus.Counter
	Stanzas      *prometheus.CounterVec // by kind: message, presence, iq
	StreamErrors *prometheus.CounterVec // by condition sent
	// Stream management: sessions detached (connection lost, waiting to
	// be resumed), resumptions by where (here, from another node), and
	// sessions whose resumption window passed.
	SMDetached prometheus.Counter
	SMResumed  *prometheus.CounterVec
	SMExpired  prometheus.Counter

	// The stanza counters resolved once: label lookups hash on every call
	// and this is the per-stanza path.
	messages, presences, iqs prometheus.Counter
}

// stanza counts one received stanza of the kind.
func (m *Metrics) stanza(kind string) {
	switch kind {
	case "message":
		m.messages.Inc()
	case "presence":
		m.presences.Inc()
	default:
		m.iqs.Inc()
	}
}

// NewMetrics creates the instruments and registers them with reg (nil:
// not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_c2s_connections", Help: "Open client connections."}),
		Refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_c2s_connections_refused_total", Help: "Connections refused by connection limits."}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_c2s_logins_total", Help: "Successful SASL authentications."}, []string{"mechanism"}),
		AuthFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_c2s_auth_failures_total", Help: "Failed SASL authentications."}),
		Stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_c2s_stanzas_received_total", Help: "Stanzas received from clients."}, []string{"kind"}),
		StreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_c2s_stream_errors_total", Help: "Stream errors sent to clients."}, []string{"condition"}),
		SMDetached: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sm_detached_total", Help: "Stream management sessions kept for resumption after their connection was lost."}),
		SMResumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_sm_resumed_total", Help: "Stream management sessions resumed, on the node that held them (local) or handed over by another (remote)."}, []string{"from"}),
		SMExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sm_expired_total", Help: "Detached sessions nobody resumed in time (their unacknowledged stanzas rerouted)."}),
	}
	m.SMResumed.WithLabelValues("local")
	m.SMResumed.WithLabelValues("remote")
	// Export every mechanism from the start, so dashboards see zeros.
	for _, mech := range []string{sasl.ScramSHA1, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA256Plus, sasl.Plain} {
		m.Logins.WithLabelValues(mech)
	}
	m.messages = m.Stanzas.WithLabelValues("message")
	m.presences = m.Stanzas.WithLabelValues("presence")
	m.iqs = m.Stanzas.WithLabelValues("iq")
	if reg != nil {
		reg.MustRegister(m.Connections, m.Refused, m.Logins, m.AuthFailures, m.Stanzas, m.StreamErrors,
			m.SMDetached, m.SMResumed, m.SMExpired)
	}
	return m
}
