package push

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the module's Prometheus instruments.
type Metrics struct {
	// Notifications counts publishes by result: ok (the app server
	// accepted it), error (it answered with an error), timeout (no answer
	// in time), unavailable (the app server was not connected), failed
	// (our side: storage, the cluster).
	Notifications *prometheus.CounterVec
	// Disabled counts registrations disabled after an app server's error.
	Disabled prometheus.Counter
}

var results = []string{"ok", "error", "timeout", "unavailable", "failed"}

// NewMetrics creates the instruments and registers them with reg (nil:
// not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_push_notifications_total", Help: "Push notifications (XEP-0357) published to app servers, by result."}, []string{"result"}),
		Disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_push_registrations_disabled_total", Help: "Push registrations disabled because the app server answered a publish with an error."}),
	}
	// Export every result from the start, so dashboards see zeros.
	for _, r := range results {
		m.Notifications.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Notifications, m.Disabled)
	}
	return m
}

func (m *Metrics) result(r string) { m.Notifications.WithLabelValues(r).Inc() }
