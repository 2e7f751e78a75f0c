package api_test

import (
	"math"
	"net/http"
	"testing"

	"github.com/parley-im/parley/api"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/prometheus/client_golang/prometheus"
)

func TestGather(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_things_total", Help: "h"}, []string{"kind"})
	c.WithLabelValues("a").Add(3)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_level", Help: "h"})
	g.Set(math.NaN())
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_wait_seconds", Help: "h", Buckets: []float64{0.1, 1}})
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(5)
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "go_other", Help: "h"})
	reg.MustRegister(c, g, h, other)

	fams, err := api.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]api.Family{}
	for _, f := range fams {
		byName[f.Name] = f
	}
	if len(fams) != 3 || byName["go_other"].Name != "" {
		t.Fatalf("families %+v, want the three parley_ ones", fams)
	}
	if f := byName["parley_things_total"]; f.Type != "counter" || len(f.Series) != 1 || f.Series[0].Labels["kind"] != "a" || *f.Series[0].Value != 3 {
		t.Fatalf("counter %+v", f)
	}
	if f := byName["parley_level"]; f.Type != "gauge" || f.Series[0].Value != nil {
		t.Fatalf("NaN gauge %+v: want no value", f)
	}
	f := byName["parley_wait_seconds"]
	s := f.Series[0]
	if f.Type != "histogram" || *s.Count != 3 || *s.Sum != 5.55 || len(s.Buckets) != 2 ||
		s.Buckets[0] != (api.Bucket{LE: 0.1, Count: 1}) || s.Buckets[1] != (api.Bucket{LE: 1, Count: 2}) {
		t.Fatalf("histogram %+v %+v", f, s)
	}
}

type nodeStats struct {
	Nodes []struct {
		Name     string       `json:"name"`
		Self     bool         `json:"self"`
		Error    string       `json:"error"`
		Families []api.Family `json:"families"`
	} `json:"nodes"`
}

// sum adds up a family's values.
func (s nodeStats) sum(node int, family string) float64 {
	var total float64
	for _, f := range s.Nodes[node].Families {
		if f.Name == family {
			for _, x := range f.Series {
				if x.Value != nil {
					total += *x.Value
				}
			}
		}
	}
	return total
}

// A node alone reports itself, and its numbers move with traffic.
func TestClusterStatsSingleNode(t *testing.T) {
	e := start(t)
	var before nodeStats
	e.request("GET", "/api/v1/cluster/stats", nil).ok(http.StatusOK, &before)
	if len(before.Nodes) != 1 || !before.Nodes[0].Self || before.Nodes[0].Error != "" || before.Nodes[0].Name == "" {
		t.Fatalf("stats %+v", before)
	}
	for _, f := range before.Nodes[0].Families {
		if f.Name[:len(api.MetricPrefix)] != api.MetricPrefix {
			t.Fatalf("family %s is not Parley's", f.Name)
		}
	}
	e.addUser("amy")
	c := e.login("amy", "r", "")
	c.available("")
	var after nodeStats
	testutil.Eventually(t, wait, func() bool {
		e.request("GET", "/api/v1/cluster/stats", nil).ok(http.StatusOK, &after)
		return after.sum(0, "parley_sessions") == 1
	})
	for _, fam := range []string{"parley_c2s_logins_total", "parley_c2s_stanzas_received_total", "parley_c2s_connections"} {
		if after.sum(0, fam) <= before.sum(0, fam) {
			t.Errorf("%s: %v then %v, want more", fam, before.sum(0, fam), after.sum(0, fam))
		}
	}
}
