package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCluster runs each scenario on a fresh three-node cluster of real
// embedded NATS servers on loopback.
func TestCluster(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*Config)
		run   func(t *testing.T, nodes []*testNode)
	}{
		{name: "members see each other", run: testMembers},
		{name: "clean shutdown is Left promptly", run: testShutdownLeft},
		{name: "killed node is Died within DeadAfter", run: testKillDied},
		{name: "restart after death rejoins", run: testRestartAfterDeath},
		{
			name: "restart before death replaces the old run",
			// A long DeadAfter, so that only the new run's heartbeat can
			// retire the old one in time.
			tweak: func(c *Config) { c.DeadAfter = 20 * time.Second },
			run:   testRestartBeforeDeath,
		},
		{name: "fourth node joins through one peer", run: testJoinRunning},
		{name: "session counts propagate", run: testSessions},
		{name: "duplicate name fails Start", run: testDuplicateName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, startCluster(t, 3, tt.tweak))
		})
	}
}

func testMembers(t *testing.T, nodes []*testNode) {
	for _, n := range nodes {
		for _, m := range n.Members() {
			var want *testNode
			for _, o := range nodes {
				if o.Name() == m.Name {
					want = o
				}
			}
			if m.ID != want.ID() || m.Version != "test-"+m.Name || m.Started.IsZero() {
				t.Errorf("%s sees %+v, want id %s version test-%s", n.Name(), m, want.ID(), m.Name)
			}
		}
		// The watcher was replayed the members it missed, itself included.
		for _, o := range nodes {
			n.events.wait(t, time.Second, Joined, o.Name(), o.ID())
		}
	}
}

func testShutdownLeft(t *testing.T, nodes []*testNode) {
	gone := nodes[2]
	start := time.Now()
	if err := gone.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[:2] {
		// Promptly: well before the DeadAfter a silent node would take.
		at := n.events.wait(t, testDeadAfter/2, Left, gone.Name(), gone.ID())
		t.Logf("%s saw %s leave after %v", n.Name(), gone.Name(), at.Sub(start).Round(time.Millisecond))
	}
	waitMembers(t, time.Second, nodes[:2], "n1", "n2")
	time.Sleep(testDeadAfter + testHeartbeat) // a negative check: no late Died
	for _, n := range nodes[:2] {
		if _, _, ok := n.events.find(Died, gone.Name(), ""); ok {
			t.Errorf("%s: Died after Left: %v", n.Name(), n.events)
		}
	}
}

func testKillDied(t *testing.T, nodes []*testNode) {
	gone := nodes[2]
	start := time.Now()
	gone.kill(t)
	for _, n := range nodes[:2] {
		at := n.events.wait(t, 10*time.Second, Died, gone.Name(), gone.ID())
		took := at.Sub(start)
		t.Logf("%s declared %s dead after %v", n.Name(), gone.Name(), took.Round(time.Millisecond))
		if took > testDeadAfter+testHeartbeat {
			t.Errorf("%s took %v to declare death, want within DeadAfter+Heartbeat = %v",
				n.Name(), took, testDeadAfter+testHeartbeat)
		}
		if _, _, ok := n.events.find(Left, gone.Name(), ""); ok {
			t.Errorf("%s: a killed node Left: %v", n.Name(), n.events)
		}
	}
	waitMembers(t, time.Second, nodes[:2], "n1", "n2")
}

func testRestartAfterDeath(t *testing.T, nodes []*testNode) {
	old := nodes[2]
	old.kill(t)
	for _, n := range nodes[:2] {
		n.events.wait(t, 10*time.Second, Died, old.Name(), old.ID())
	}
	again := startNode(t, testConfig(t, old.Name(), nodes[0].routeURL()))
	if again.ID() == old.ID() {
		t.Fatal("restarted node kept its run id")
	}
	for _, n := range nodes[:2] {
		n.events.wait(t, 5*time.Second, Joined, again.Name(), again.ID())
	}
	waitMembers(t, 5*time.Second, []*testNode{nodes[0], nodes[1], again}, "n1", "n2", "n3")
}

func testRestartBeforeDeath(t *testing.T, nodes []*testNode) {
	old := nodes[2]
	start := time.Now()
	old.kill(t)
	cfg := testConfig(t, old.Name(), nodes[0].routeURL())
	cfg.DeadAfter = 20 * time.Second
	again := startNode(t, cfg)
	for _, n := range nodes[:2] {
		n.events.wait(t, 5*time.Second, Joined, again.Name(), again.ID())
		died, joined := n.events.index(Died, old.Name(), old.ID()), n.events.index(Joined, again.Name(), again.ID())
		if died < 0 || died > joined {
			t.Errorf("%s: want Died for the old run before Joined for the new: %v", n.Name(), n.events)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("replacement took %v; it should not wait for DeadAfter", took)
	}
	waitMembers(t, 5*time.Second, []*testNode{nodes[0], nodes[1], again}, "n1", "n2", "n3")
}

func testJoinRunning(t *testing.T, nodes []*testNode) {
	// n4 knows only n2; n1 and n3 know nothing of n4 and are not restarted.
	n4 := startNode(t, testConfig(t, "n4", nodes[1].routeURL()))
	all := append(nodes[:3:3], n4)
	waitMembers(t, 5*time.Second, all, "n1", "n2", "n3", "n4")
	for _, n := range nodes {
		n.events.wait(t, time.Second, Joined, "n4", n4.ID())
	}
}

func testSessions(t *testing.T, nodes []*testNode) {
	for i, n := range nodes {
		n.sessions.Store(int64(10 * (i + 1)))
	}
	eventually(t, 5*time.Second, func() error {
		for _, n := range nodes {
			for i, m := range n.Members() {
				if want := 10 * (i + 1); m.Sessions != want {
					return errors.New(n.Name() + " sees " + m.Name + " with a stale session count")
				}
			}
		}
		return nil
	})
}

func testDuplicateName(t *testing.T, nodes []*testNode) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dup, err := Start(ctx, testConfig(t, "n2", nodes[0].routeURL()))
	if !errors.Is(err, ErrNameInUse) {
		if dup != nil {
			_ = dup.Shutdown(ctx)
		}
		t.Fatalf("Start of a second n2: %v, want ErrNameInUse", err)
	}
	t.Log(err)
	waitMembers(t, time.Second, nodes, "n1", "n2", "n3")
	for _, n := range nodes {
		for _, m := range n.Members() {
			if m.Name == "n2" && m.ID != nodes[1].ID() {
				t.Errorf("%s follows the refused n2", n.Name())
			}
		}
		if _, _, ok := n.events.find(Died, "n2", ""); ok {
			t.Errorf("%s: Died for n2: %v", n.Name(), n.events)
		}
	}
}
