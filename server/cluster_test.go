package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/server"
)

func freePort(t *testing.T) int { return testutil.FreePort(t) }

func liveNodes(s *testserver.Server) []string {
	var names []string
	for _, n := range s.Status().Nodes {
		names = append(names, n.Name)
	}
	return names
}

// TestClusterMembership starts three nodes on shared PostgreSQL, checks
// each sees the others (in process and over GET /cluster), and that a node
// that leaves disappears from the others' view.
func TestClusterMembership(t *testing.T) {
	nodes := startNodes(t, 3)
	var st server.ClusterStatus
	if err := json.Unmarshal([]byte(get(t, "http://"+nodes[0].HTTP()+"/cluster")), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Clustered || st.Node != "node1" || len(st.Nodes) != 3 || !st.Nodes[0].Self {
		t.Fatalf("GET /cluster: %+v", st)
	}
	if err := nodes[2].Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[:2] {
		testutil.Eventually(t, 10*time.Second, func() bool { return len(liveNodes(n)) == 2 })
	}
}
