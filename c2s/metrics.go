package c2s

import (
	"bytes"

	"github.com/parley-im/parley/sasl"
	"github.com/prometheus/client_golang/prometheus"
)

// transport is how a client reached us, a label of the connection metrics.
type transport uint8

const (
	transportTCP       transport = iota // port 5222, STARTTLS
	transportTLS                        // direct TLS (XEP-0368)
	transportWebSocket                  // RFC 7395
	transportBOSH                       // XEP-0124/0206
	numTransports
)

var transportNames = [numTransports]string{"tcp", "tls", "websocket", "bosh"}

// authFailureReasons are the reason labels of AuthFailures: the SASL
// conditions we send (RFC 6120 §6.5), rate-limited for the per-address
// login limit, which the RFC folds into temporary-auth-failure, and
// channel-binding-downgrade for a gs2 flag "y" where -PLUS was offered,
// which it folds into not-authorized (docs/authentication.md).
var authFailureReasons = []string{
	"aborted", "encryption-required", "incorrect-encoding", "invalid-mechanism",
	"malformed-request", "not-authorized", "temporary-auth-failure", "rate-limited",
	"channel-binding-downgrade",
}

// Metrics are the c2s listener's Prometheus instruments.
type Metrics struct {
	Connections  *prometheus.GaugeVec   // open, by transport: tcp, tls, websocket, bosh
	Accepted     *prometheus.CounterVec // admitted, by transport
	Refused      prometheus.Counter
	Logins       *prometheus.CounterVec // by mechanism
	AuthFailures *prometheus.CounterVec // by reason (authFailureReasons)
	Stanzas      *prometheus.CounterVec // received, by kind: message, presence, iq
	StanzasSent  *prometheus.CounterVec // routed to clients, by kind
	StreamErrors *prometheus.CounterVec // by condition sent
	// Stream management: sessions detached (connection lost, waiting to
	// be resumed), resumptions by where (here, from another node), and
	// sessions whose resumption window passed.
	SMDetached prometheus.Counter
	SMResumed  *prometheus.CounterVec
	SMExpired  prometheus.Counter

	// The stanza counters resolved once: label lookups hash on every call
	// and this is the per-stanza path.
	messages, presences, iqs             prometheus.Counter
	sentMessages, sentPresences, sentIQs prometheus.Counter
	open                                 [numTransports]prometheus.Gauge
	accepted                             [numTransports]prometheus.Counter
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

// sent counts one stanza of the kind routed to a client.
func (m *Metrics) sent(kind string) {
	switch kind {
	case "message":
		m.sentMessages.Inc()
	case "presence":
		m.sentPresences.Inc()
	default:
		m.sentIQs.Inc()
	}
}

// sentRaw counts one serialized stanza routed to a client.
func (m *Metrics) sentRaw(b []byte) {
	switch {
	case bytes.HasPrefix(b, []byte("<message")):
		m.sentMessages.Inc()
	case bytes.HasPrefix(b, []byte("<presence")):
		m.sentPresences.Inc()
	default:
		m.sentIQs.Inc()
	}
}

// opened counts a connection admitted over t; closed, its end.
func (m *Metrics) opened(t transport) {
	m.accepted[t].Inc()
	m.open[t].Inc()
}

func (m *Metrics) closed(t transport) { m.open[t].Dec() }

// NewMetrics creates the instruments and registers them with reg (nil:
// not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_c2s_connections", Help: "Open client connections, by transport (tcp: STARTTLS port, tls: direct TLS, websocket, bosh)."}, []string{"transport"}),
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_c2s_connections_accepted_total", Help: "Client connections admitted, by transport."}, []string{"transport"}),
		Refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_c2s_connections_refused_total", Help: "Connections refused by connection limits."}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_c2s_logins_total", Help: "Successful SASL authentications."}, []string{"mechanism"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_c2s_auth_failures_total", Help: "SASL failures sent, by reason: the SASL condition, or rate-limited."}, []string{"reason"}),
		Stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_c2s_stanzas_received_total", Help: "Stanzas received from clients."}, []string{"kind"}),
		StanzasSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_c2s_stanzas_sent_total", Help: "Stanzas routed to clients (queued on their connections)."}, []string{"kind"}),
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
	m.SMResumed.WithLabelValues("takeover")
	// Export every mechanism from the start, so dashboards see zeros.
	for _, mech := range []string{sasl.ScramSHA1, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA256Plus, sasl.Plain} {
		m.Logins.WithLabelValues(mech)
	}
	for _, r := range authFailureReasons {
		m.AuthFailures.WithLabelValues(r)
	}
	m.messages = m.Stanzas.WithLabelValues("message")
	m.presences = m.Stanzas.WithLabelValues("presence")
	m.iqs = m.Stanzas.WithLabelValues("iq")
	m.sentMessages = m.StanzasSent.WithLabelValues("message")
	m.sentPresences = m.StanzasSent.WithLabelValues("presence")
	m.sentIQs = m.StanzasSent.WithLabelValues("iq")
	for t, name := range transportNames {
		m.open[t] = m.Connections.WithLabelValues(name)
		m.accepted[t] = m.Accepted.WithLabelValues(name)
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.Accepted, m.Refused, m.Logins, m.AuthFailures, m.Stanzas, m.StanzasSent, m.StreamErrors,
			m.SMDetached, m.SMResumed, m.SMExpired)
	}
	return m
}
