package server

import (
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// The histograms beside the counters of each package's own Metrics: the
// routing core's and the storage writers' latencies, measured through
// their hooks (neither package imports Prometheus). docs/architecture.md
// lists every family; docs/grafana/parley-dashboard.json draws them.

// latencyBuckets span a stanza routed from memory (tens of µs) to a commit
// stuck behind a slow disk (seconds), in seconds.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// coreMetrics creates the routing core's instruments and the hooks that
// feed them.
func (s *Server) coreMetrics() im.Metrics {
	route := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "parley_route_duration_seconds",
		Help:    "Time to route a stanza from a client, by kind; a message's includes archiving it.",
		Buckets: latencyBuckets,
	}, []string{"kind"})
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_module_calls_total",
		Help: "IQ requests answered by server modules, by module and result (ok, or error: a stanza error).",
	}, []string{"module", "result"})
	took := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "parley_module_call_duration_seconds",
		Help:    "Time a server module took to answer an IQ request, by module.",
		Buckets: latencyBuckets,
	}, []string{"module"})
	s.reg.MustRegister(route, calls, took)
	return im.Metrics{
		Route: func(kind string) func(time.Duration) {
			h := route.WithLabelValues(kind)
			return func(d time.Duration) { h.Observe(d.Seconds()) }
		},
		Module: func(name string) func(time.Duration, bool) {
			ok, failed, h := calls.WithLabelValues(name, "ok"), calls.WithLabelValues(name, "error"), took.WithLabelValues(name)
			return func(d time.Duration, isErr bool) {
				if isErr {
					failed.Inc()
				} else {
					ok.Inc()
				}
				h.Observe(d.Seconds())
			}
		},
	}
}

// registerCommitHistograms measures the group-commit writers' transactions.
func (s *Server) registerCommitHistograms(sq *storage.SQL) {
	took := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "parley_storage_commit_duration_seconds",
		Help:    "Time a group-commit writer's transaction took, BEGIN to COMMIT, by writer (offline, archive).",
		Buckets: latencyBuckets,
	}, []string{"writer"})
	size := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "parley_storage_batch_size",
		Help:    "Requests committed in one group-commit transaction, by writer (offline, archive).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 … 256, the writers' cap
	}, []string{"writer"})
	s.reg.MustRegister(took, size)
	type obs struct{ took, size prometheus.Observer }
	offline := obs{took.WithLabelValues(storage.WriterOffline), size.WithLabelValues(storage.WriterOffline)}
	archive := obs{took.WithLabelValues(storage.WriterArchive), size.WithLabelValues(storage.WriterArchive)}
	sq.ObserveCommits(func(writer string, n int, d time.Duration) {
		o := offline
		if writer == storage.WriterArchive {
			o = archive
		}
		o.took.Observe(d.Seconds())
		o.size.Observe(float64(n))
	})
}
