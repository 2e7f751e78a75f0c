package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/api"
	"github.com/parley-im/parley/cluster"
	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testutil"
)

// clusterStats is GET /api/v1/cluster/stats as a test reads it.
type clusterStats struct {
	Nodes []struct {
		Name     string       `json:"name"`
		Self     bool         `json:"self"`
		Error    string       `json:"error"`
		Time     time.Time    `json:"time"`
		Families []api.Family `json:"families"`
	} `json:"nodes"`
}

// node returns the named node's entry, or fails.
func (s clusterStats) node(t *testing.T, name string) int {
	t.Helper()
	for i, n := range s.Nodes {
		if n.Name == name {
			return i
		}
	}
	t.Fatalf("no %s in the stats of %d nodes", name, len(s.Nodes))
	return -1
}

// sum adds up the values of a family's series whose labels include
// match (name, value pairs).
func (s clusterStats) sum(i int, family string, match ...string) float64 {
	var total float64
	for _, f := range s.Nodes[i].Families {
		if f.Name != family {
			continue
		}
	series:
		for _, x := range f.Series {
			for j := 0; j+1 < len(match); j += 2 {
				if x.Labels[match[j]] != match[j+1] {
					continue series
				}
			}
			if x.Value != nil {
				total += *x.Value
			}
		}
	}
	return total
}

// Node 1's cluster stats hold node 2's own metrics, which move with the
// traffic on node 2; a member that does not answer is listed with an
// error, not left out.
func TestClusterStatsCrossNode(t *testing.T) {
	ports := []int{freePort(t), freePort(t)}
	nodes := startNodesWith(t, 2, func(i int) (string, []string) {
		return fmt.Sprintf("127.0.0.1:%d", ports[i]), []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[1-i])}
	}, func(c *config.Config) {
		c.API.Enabled = true
		c.API.Tokens = []string{apiToken}
	})
	e := &crossEnv{t: t, nodes: nodes, seq: new(atomic.Int32)}
	n1 := nodes[0].HTTP()
	get := func() clusterStats {
		t.Helper()
		var s clusterStats
		if st := apiCall(t, n1, "GET", "/api/v1/cluster/stats", nil, &s); st != http.StatusOK {
			t.Fatalf("GET /api/v1/cluster/stats: %d", st)
		}
		return s
	}
	before := get()
	if len(before.Nodes) != 2 {
		t.Fatalf("stats of %d nodes, want 2: %+v", len(before.Nodes), before)
	}
	i1, i2 := before.node(t, "node1"), before.node(t, "node2")
	if !before.Nodes[i1].Self || before.Nodes[i2].Self || before.Nodes[i2].Error != "" || len(before.Nodes[i2].Families) == 0 {
		t.Fatalf("stats: %+v", before)
	}

	// Traffic: two users on node2, one on node1, messages across.
	u := e.accounts("ann", "ben", "cat")
	e.relate(u[0], u[2])
	a := e.online(1, u[0], "r", 0)
	e.login(1, u[1], "r")
	c := e.online(0, u[2], "r", 0)
	for i := range 3 {
		id := fmt.Sprintf("stats-%d", i)
		a.chat(c.bare(), id)
		c.expect("message "+id, messageID(id))
	}
	var after clusterStats
	testutil.Eventually(t, crossWait, func() bool {
		after = get()
		j := after.node(t, "node2")
		return after.sum(j, "parley_sessions") == 2 && after.sum(j, "parley_c2s_connections") == 2
	})
	j := after.node(t, "node2")
	for _, m := range []struct {
		family string
		labels []string
	}{
		{"parley_c2s_logins_total", nil},
		{"parley_c2s_stanzas_received_total", []string{"kind", "message"}},
		{"parley_cluster_forwarded_total", []string{"direction", "out"}},
	} {
		was, now := before.sum(i2, m.family, m.labels...), after.sum(j, m.family, m.labels...)
		if now <= was {
			t.Errorf("node2's %s %v: %v before the traffic, %v after", m.family, m.labels, was, now)
		}
	}
	if k := after.node(t, "node1"); after.sum(k, "parley_c2s_connections") != 1 {
		t.Errorf("node1 has %v connections, want 1", after.sum(k, "parley_c2s_connections"))
	}

	// A member that does not serve stats: listed, with the error.
	ghost, err := cluster.Start(context.Background(), cluster.Config{
		NodeName: "ghost", Listen: "127.0.0.1:0", Peers: []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[0])},
		Heartbeat: 200 * time.Millisecond, DeadAfter: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ghost.Shutdown(ctx)
	})
	var withGhost clusterStats
	testutil.Eventually(t, crossSeen, func() bool {
		withGhost = get()
		return len(withGhost.Nodes) == 3
	})
	g := withGhost.node(t, "ghost")
	if msg := withGhost.Nodes[g].Error; !strings.Contains(msg, "no stats from ghost") || len(withGhost.Nodes[g].Families) != 0 {
		t.Fatalf("ghost: error %q with %d families", msg, len(withGhost.Nodes[g].Families))
	}
	if k := withGhost.node(t, "node2"); withGhost.Nodes[k].Error != "" {
		t.Fatalf("node2: %s", withGhost.Nodes[k].Error)
	}
}
