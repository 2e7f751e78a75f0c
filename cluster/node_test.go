package cluster

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func TestSingleNode(t *testing.T) {
	cfg := testConfig(t, "solo")
	cfg.Listen = "" // no routes at all
	n := startNode(t, cfg)
	n.sessions.Store(3)
	ms := n.Members()
	if len(ms) != 1 || ms[0].Name != "solo" || ms[0].ID != n.ID() || ms[0].Sessions != 3 {
		t.Fatalf("Members() = %+v", ms)
	}
	if n.Conn() == nil || !n.Conn().IsConnected() {
		t.Fatal("Conn() is not connected")
	}
	if err := n.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(t.Context()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if !n.Conn().IsClosed() {
		t.Error("Conn() still open after Shutdown")
	}
}

// TestExternalNATS runs two nodes against one standalone NATS server, as a
// deployment with its own NATS cluster would.
func TestExternalNATS(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	var nodes []*testNode
	for _, name := range []string{"x1", "x2"} {
		cfg := testConfig(t, name)
		cfg.Listen, cfg.NATSURL = "", srv.ClientURL()
		nodes = append(nodes, startNode(t, cfg))
	}
	waitMembers(t, 5*time.Second, nodes, "x1", "x2")
	if err := nodes[1].Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	nodes[0].events.wait(t, time.Second, Left, "x2", nodes[1].ID())
}

// TestListenInUse: a taken route port is an error from Start, not a
// nats-server Fatalf that exits the process.
func TestListenInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t, "busy")
	cfg.Listen = l.Addr().String()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err == nil {
		_ = n.Shutdown(ctx)
		t.Fatal("Start on a port in use succeeded")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Start: %v, want the listen error", err)
	}
}

// TestWatchStop: a stopped watcher gets nothing more, others carry on.
func TestWatchStop(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	stopped := &recorder{}
	stop := nodes[0].Watch(stopped.add)
	stopped.wait(t, time.Second, Joined, "n2", nodes[1].ID())
	stop()
	if err := nodes[1].Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	nodes[0].events.wait(t, time.Second, Left, "n2", nodes[1].ID())
	if _, _, ok := stopped.find(Left, "n2", ""); ok {
		t.Errorf("stopped watcher got %v", stopped)
	}
}

// TestStartCancelled: a cancelled Start fails and leaves nothing running
// (goleak checks the last part).
func TestStartCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cfg := testConfig(t, "late")
	n, err := Start(ctx, cfg)
	if err == nil {
		_ = n.Shutdown(t.Context())
		t.Fatal("Start with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Start: %v, want context.Canceled", err)
	}
}

// A node's draining state and client addresses reach the others.
func TestDrainingAndClientAddressesAnnounced(t *testing.T) {
	var draining atomic.Bool
	nodes := startCluster(t, 2, func(c *Config) {
		if c.NodeName == "n2" {
			c.Draining = draining.Load
			c.ClientAddr, c.ClientTLSAddr = "n2.example.com:5222", "n2.example.com:5223"
		}
	})
	member := func(name string) Member {
		for _, m := range nodes[0].Members() {
			if m.Name == name {
				return m
			}
		}
		t.Fatalf("n1 does not see %s", name)
		return Member{}
	}
	if m := member("n2"); m.Draining || m.C2S != "n2.example.com:5222" || m.C2STLS != "n2.example.com:5223" {
		t.Fatalf("n1 sees n2 as %+v, want not draining with its client addresses", m)
	}
	if m := member("n1"); m.C2S != "" || m.Draining {
		t.Fatalf("n1 sees itself as %+v, want no client address, not draining", m)
	}
	draining.Store(true)
	nodes[1].Announce()
	eventually(t, 5*time.Second, func() error {
		if !member("n2").Draining {
			return errors.New("n1 does not see n2 draining yet")
		}
		return nil
	})
	if !nodes[1].selfMember().Draining {
		t.Error("n2 does not report itself draining")
	}
}
