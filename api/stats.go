package api

import (
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// GET /api/v1/cluster/stats: every live node's own metrics, for the admin
// dashboard's live view. Each node gathers its Prometheus registry
// (Gather); the node asked collects the others' over the cluster.

// MetricPrefix is what the families in a snapshot are named with.
const MetricPrefix = "parley_"

// NodeStats is one node's metrics snapshot, or why there is none.
type NodeStats struct {
	Name string `json:"name"`
	Self bool   `json:"self"` // the node that answered
	// Time is when the snapshot was taken, by the answering node's clock.
	Time time.Time `json:"time"`
	// Error says why the node gave no snapshot (it did not answer in
	// time); Families is then empty.
	Error    string   `json:"error,omitempty"`
	Families []Family `json:"families"`
}

// Family is one metric family: its name, type and series.
type Family struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"` // counter, gauge, histogram, summary, untyped
	Series []Series `json:"series"`
}

// Series is one labelled series: a value (counter, gauge, untyped), or
// cumulative buckets with sum and count (histogram; a summary has only
// sum and count).
type Series struct {
	Labels  map[string]string `json:"labels,omitempty"`
	Value   *float64          `json:"value,omitempty"` // absent when not a finite number
	Buckets []Bucket          `json:"buckets,omitempty"`
	Sum     *float64          `json:"sum,omitempty"`
	Count   *uint64           `json:"count,omitempty"`
}

// Bucket is a histogram bucket: how many observations were at most LE.
// The +Inf bucket is the series' Count.
type Bucket struct {
	LE    float64 `json:"le"`
	Count uint64  `json:"count"`
}

// statsList is the body of GET /api/v1/cluster/stats.
type statsList struct {
	Nodes []NodeStats `json:"nodes"`
}

// Gather takes a snapshot of g's families named with MetricPrefix.
func Gather(g prometheus.Gatherer) ([]Family, error) {
	mfs, err := g.Gather()
	out := make([]Family, 0, len(mfs))
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), MetricPrefix) {
			continue
		}
		f := Family{Name: mf.GetName(), Type: strings.ToLower(mf.GetType().String()), Series: make([]Series, 0, len(mf.GetMetric()))}
		for _, m := range mf.GetMetric() {
			var s Series
			if lp := m.GetLabel(); len(lp) > 0 {
				s.Labels = make(map[string]string, len(lp))
				for _, l := range lp {
					s.Labels[l.GetName()] = l.GetValue()
				}
			}
			switch {
			case m.GetCounter() != nil:
				s.Value = finite(m.GetCounter().GetValue())
			case m.GetGauge() != nil:
				s.Value = finite(m.GetGauge().GetValue())
			case m.GetUntyped() != nil:
				s.Value = finite(m.GetUntyped().GetValue())
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					if !math.IsInf(b.GetUpperBound(), 0) && !math.IsNaN(b.GetUpperBound()) {
						s.Buckets = append(s.Buckets, Bucket{LE: b.GetUpperBound(), Count: b.GetCumulativeCount()})
					}
				}
				s.Sum, s.Count = finite(h.GetSampleSum()), ptr(h.GetSampleCount())
			case m.GetSummary() != nil:
				s.Sum, s.Count = finite(m.GetSummary().GetSampleSum()), ptr(m.GetSummary().GetSampleCount())
			}
			f.Series = append(f.Series, s)
		}
		out = append(out, f)
	}
	// Gather returns what it could together with the error.
	return out, err
}

// finite returns a pointer to v, or nil for NaN and ±Inf, which JSON
// cannot carry.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func ptr[T any](v T) *T { return &v }

func (a *API) clusterStats(w http.ResponseWriter, r *http.Request) error {
	var list []NodeStats
	if a.cfg.Stats != nil {
		list = a.cfg.Stats(r.Context())
	}
	slices.SortFunc(list, func(x, y NodeStats) int { return strings.Compare(x.Name, y.Name) })
	for i := range list {
		if list[i].Families == nil {
			list[i].Families = []Family{}
		}
	}
	writeJSON(w, http.StatusOK, statsList{Nodes: append([]NodeStats{}, list...)})
	return nil
}
