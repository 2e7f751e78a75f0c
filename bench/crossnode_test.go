package bench_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/bench"
	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
)

// TestRunCrossNode runs the traffic phases with senders on one node of a
// two-node cluster and their partners on the other (RecipientAddr), and
// checks that every message crossed over exactly once. Both nodes run in
// this process, so the one PID owns both listeners.
func TestRunCrossNode(t *testing.T) {
	dsn := testpg.Start(t)
	p1, p2 := freePort(t), freePort(t)
	mk := func(name string, port, peer int) *testserver.Server {
		return testserver.Start(t, testserver.PlainTCP, func(c *config.Config) {
			c.Registration.Enabled = true
			c.Storage.Driver, c.Storage.PostgresDSN = config.DriverPostgres, dsn
			c.Cluster.NodeName = name
			c.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", port)
			c.Cluster.Peers = []string{fmt.Sprintf("nats://127.0.0.1:%d", peer)}
			c.Cluster.Heartbeat = 200 * time.Millisecond
			c.Cluster.DeadAfter = time.Second
		})
	}
	n1, n2 := mk("n1", p1, p2), mk("n2", p2, p1)
	for _, n := range []*testserver.Server{n1, n2} {
		testutil.Eventually(t, 10*time.Second, func() bool { return len(n.Status().Nodes) == 2 })
	}

	cfg := smallConfig(n1.C2S())
	cfg.RecipientAddr = n2.C2S()
	cfg.ServerPID = 0
	cfg.ServerPIDs = []int{os.Getpid(), os.Getpid()} // counted once
	// Where the sessions are once every user is logged in: the idle phase
	// starts then.
	var mu sync.Mutex
	var local1, local2 int
	cfg.Progress = progressFunc(func(line string) {
		if strings.HasPrefix(line, "idle: start") {
			mu.Lock()
			local1, local2 = n1.Router().Count(), n2.Router().Count()
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 || len(rep.Warnings) > 0 {
		t.Errorf("problems %q, warnings %q", rep.Problems, rep.Warnings)
	}
	mu.Lock()
	if local1 != 40 || local2 != 10 {
		t.Errorf("sessions on n1, n2 = %d, %d; want 40 senders and idle users, 10 partners", local1, local2)
	}
	mu.Unlock()
	if rep.RecipientAddr != n2.C2S() || rep.ServerPID != os.Getpid() || rep.ServerPIDs != nil {
		t.Errorf("recipient_addr %q, server_pid %d, server_pids %v", rep.RecipientAddr, rep.ServerPID, rep.ServerPIDs)
	}
	if rep.ServerOwnsListener == nil || !*rep.ServerOwnsListener {
		t.Errorf("server_owns_listener = %v, want true", rep.ServerOwnsListener)
	}
	if i := rep.Phases.Idle; i == nil || i.Established < 50 {
		t.Errorf("idle = %+v, want 50 connections held over both nodes", i)
	}
	th, la := rep.Phases.Throughput, rep.Phases.Latency
	if th == nil || la == nil {
		t.Fatal("no traffic results")
	}
	checkDelivery(t, "throughput", th.Delivery)
	checkDelivery(t, "latency", la.Delivery)
	if th.Pairs != 10 || th.PresenceAcks != 20 || la.Sent != 200 {
		t.Errorf("throughput pairs %d, acks %d; latency sent %d", th.Pairs, th.PresenceAcks, la.Sent)
	}
}

type progressFunc func(line string)

func (f progressFunc) Write(b []byte) (int, error) {
	f(string(b))
	return len(b), nil
}

func freePort(t *testing.T) int { return testutil.FreePort(t) }
