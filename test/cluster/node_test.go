package cluster

import (
	"os/exec"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testnode"
)

// The nodes as processes: internal/testkit/testnode, with names this package's
// tests read well with.

// parleyBinary builds cmd/parley once per test run (PARLEY_TEST_BIN names
// a binary to test instead).
func parleyBinary(t *testing.T) string { return testnode.Binary(t) }

// nodeConfig is what stays the same across runs of one node: its name,
// data directory and route port, as PARLEY_* variables (a test may change
// them before a start: setEnv).
type nodeConfig struct {
	bin  string
	name string
	env  []string // PARLEY_* for serve and the user CLI
}

// newNodeConfigs configures n nodes sharing one PostgreSQL database, each
// peering with all the others on loopback route ports (testnode.Cluster).
func newNodeConfigs(t *testing.T, bin, dsn string, n int) []*nodeConfig {
	t.Helper()
	var cfgs []*nodeConfig
	for _, c := range testnode.Cluster(t, bin, dsn, n,
		"PARLEY_CLUSTER_HEARTBEAT="+heartbeat.String(), "PARLEY_CLUSTER_DEAD_AFTER="+deadAfter.String()) {
		cfgs = append(cfgs, &nodeConfig{bin: c.Bin, name: c.Name, env: c.Env})
	}
	return cfgs
}

// node is one run of a parley process.
type node struct {
	*testnode.Node
	cfg    *nodeConfig
	label  string // "n3 (run 2)"
	cmd    *exec.Cmd
	log    *testnode.SyncBuffer // stdout and stderr
	exited <-chan struct{}

	c2s, http, cert string // from the log once ready
}

// start runs `parley serve` with cfg and returns at once; waitReady waits
// for it. The process is killed at the end of the test if still running,
// and its log shown if the test failed.
func (cfg *nodeConfig) start(t *testing.T, run int) *node {
	t.Helper()
	tn := (&testnode.Config{Bin: cfg.bin, Name: cfg.name, Env: cfg.env}).StartRun(t, run)
	return &node{Node: tn, cfg: cfg, label: tn.Label, cmd: tn.Cmd, log: tn.Log, exited: tn.Exited()}
}

// waitReady waits until the node has logged that it is ready and answers
// /healthz, and notes its addresses.
func (n *node) waitReady(t *testing.T) {
	t.Helper()
	n.WaitReady(t)
	n.c2s, n.http, n.cert = n.C2S, n.HTTP, n.Cert
}

// waitErr is how the process exited (once exited is closed).
func (n *node) waitErr() error { return n.WaitErr() }

// waitMembers waits until every node in ns lists exactly want.
func waitMembers(t *testing.T, timeout time.Duration, ns []*node, want ...string) {
	t.Helper()
	tns := make([]*testnode.Node, len(ns))
	for i, n := range ns {
		tns[i] = n.Node
	}
	testnode.WaitMembers(t, timeout, tns, want...)
}

// addUser creates an account with the parley CLI, on the node's
// configuration (so in the shared database).
func (cfg *nodeConfig) addUser(t *testing.T, user, password string) {
	t.Helper()
	(&testnode.Config{Bin: cfg.bin, Name: cfg.name, Env: cfg.env}).AddUser(t, user+"@"+domain, password)
}

// kill sends SIGKILL, as a crash or power loss would, and waits for the
// process to be gone.
func (n *node) kill(t *testing.T) { t.Helper(); n.Kill(t) }

// stop sends SIGTERM and checks for a clean exit: status 0, the shutdown
// logged, no error logged.
func (n *node) stop(t *testing.T) { t.Helper(); n.Stop(t) }

// syncBuffer is testnode's, for the other processes of these tests.
type syncBuffer = testnode.SyncBuffer
