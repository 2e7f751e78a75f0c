package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testutil"
)

// partitionWait bounds every wait below: a death takes DeadAfter (1 s
// here), a healed route up to NATS's one-second redial.
const partitionWait = 10 * time.Second

// startMeshCluster starts n nodes whose routes all go through a
// testutil.Mesh, and waits until all see all.
func startMeshCluster(t *testing.T, n int) ([]*testNode, *testutil.Mesh) {
	t.Helper()
	mesh := testutil.NewMesh(t, n)
	var nodes []*testNode
	for i := range n {
		cfg := testConfig(t, fmt.Sprintf("n%d", i+1), mesh.Peers(i)...)
		cfg.Listen = mesh.Listen(i)
		nodes = append(nodes, startNode(t, cfg))
	}
	waitMembers(t, partitionWait, nodes, names(nodes)...)
	return nodes, mesh
}

// TestPartition cuts the routes between nodes with proxies: each side
// declares the nodes it cannot hear dead and carries on; when the routes
// heal, the same runs are Joined again, marked Returned.
func TestPartition(t *testing.T) {
	tests := []struct {
		name string
		cut  func(m *testutil.Mesh)
		// see[i]: the members node i sees during the partition.
		see [][]string
	}{
		{
			name: "two nodes",
			cut:  func(m *testutil.Mesh) { m.Cut(0, 1) },
			see:  [][]string{{"n1"}, {"n2"}},
		},
		{
			name: "one of three isolated",
			cut:  func(m *testutil.Mesh) { m.Split(2) },
			see:  [][]string{{"n1", "n2"}, {"n1", "n2"}, {"n3"}},
		},
		{
			// NATS does not relay between routes: n1 and n2 lose each
			// other although both still hear n3.
			name: "partial: n1 and n2 cut, both see n3",
			cut:  func(m *testutil.Mesh) { m.Cut(0, 1) },
			see:  [][]string{{"n1", "n3"}, {"n2", "n3"}, {"n1", "n2", "n3"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nodes, mesh := startMeshCluster(t, len(tt.see))
			all := names(nodes)
			tt.cut(mesh)
			for i, n := range nodes {
				waitMembers(t, partitionWait, []*testNode{n}, tt.see[i]...)
			}
			// Every node lost exactly the ones it no longer sees.
			lost := map[string][]*testNode{}
			for i, n := range nodes {
				for _, o := range nodes {
					if !slices.Contains(tt.see[i], o.Name()) {
						n.events.wait(t, partitionWait, Died, o.Name(), o.ID())
						lost[n.Name()] = append(lost[n.Name()], o)
					}
				}
			}

			healed := time.Now()
			mesh.HealAll()
			waitMembers(t, partitionWait, nodes, all...)
			t.Logf("all nodes see all %v after the heal", time.Since(healed).Round(time.Millisecond))
			for _, n := range nodes {
				for _, o := range lost[n.Name()] {
					waitReturned(t, n, o)
				}
				// A node nobody lost is not reported returned.
				for _, o := range nodes {
					if o != n && !slices.Contains(lost[n.Name()], o) && n.events.returned(o.Name(), o.ID()) {
						t.Errorf("%s reported %s returned, but never lost it", n.Name(), o.Name())
					}
				}
			}
		})
	}
}

// waitReturned waits until n saw o's run Joined again after its death.
func waitReturned(t *testing.T, n, o *testNode) {
	t.Helper()
	eventually(t, partitionWait, func() error {
		if !n.events.returned(o.Name(), o.ID()) {
			return fmt.Errorf("%s has no Returned Joined event for %s %s: %v", n.Name(), o.Name(), o.ID(), n.events)
		}
		return nil
	})
}

// returned reports whether a Joined event marked Returned came for the run.
func (r *recorder) returned(name, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		if ev.Kind == Joined && ev.Returned && ev.Member.Name == name && ev.Member.ID == id {
			return true
		}
	}
	return false
}
