package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testpg"
)

// TestDrainMovesClients runs three real nodes that advertise their client
// addresses, with slixmpp clients chatting from the first and second
// node. `parley drain` drains the first and SIGTERM the second: each time
// the node moves its client with see-other-host to the least loaded node,
// slixmpp follows, the chat goes on, and the node exits 0 once empty.
func TestDrainMovesClients(t *testing.T) {
	if out, err := exec.Command(python, "-c", "import slixmpp").CombinedOutput(); err != nil {
		missing(t, fmt.Sprintf("the drain test needs %s with slixmpp (apt-get install python3-slixmpp): %v %s",
			python, err, bytes.TrimSpace(out)))
	}
	dsn := testpg.Start(t)
	bin := parleyBinary(t)
	// Each node advertises its client address, which the certificate
	// covers (127.0.0.1).
	fc := startFixedCluster(t, bin, dsn, 3, func(cfg *nodeConfig, a nodeAddrs) {
		cfg.setEnv("PARLEY_CLUSTER_CLIENT_ADDRESS", a.c2s)
	})
	cfgs, nodes, certPath := fc.cfgs, fc.nodes, fc.certPath
	advertised := []string{fc.addrs[0].c2s, fc.addrs[1].c2s}

	password := "drain-" + randomHex(t, 8)
	cfgs[0].addUser(t, "alice", password)
	cfgs[0].addUser(t, "bob", password)
	sc := startScript(t, scriptTimeout, "drain_node.py", "--domain", domain, "--password", password,
		"--users", "alice,bob", "--cafile", certPath, "--node", advertised[0], "--node", advertised[1])

	sc.expect(t, "drain", scriptTurnWait)
	out := runDrain(t, cfgs[0])
	if !strings.Contains(out, "drained: every client has left") {
		t.Errorf("parley drain said:\n%s\nwant it to report the drain done", out)
	}
	nodes[0].waitExit(t, "drained and stopped")
	sc.send(t, "drained")

	sc.expect(t, "sigterm", scriptTurnWait)
	nodes[1].stop(t) // SIGTERM, a clean exit, "drained and stopped" logged
	sc.send(t, "stopped")

	sc.wait(t)
	t.Logf("client script:\n%s", sc.out.String())
	nodes[2].stop(t)
}

// runDrain runs `parley drain` with the node's configuration and returns
// its output; it must exit 0.
func runDrain(t *testing.T, cfg *nodeConfig) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.bin, "drain")
	cmd.Env = append(cleanEnv(), cfg.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("parley drain: %v\n%s", err, out)
	}
	return string(out)
}

// waitExit waits for the node to exit by itself with status 0 and the
// line logged.
func (n *node) waitExit(t *testing.T, line string) {
	t.Helper()
	select {
	case <-n.exited:
	case <-time.After(stopTimeout):
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		t.Fatalf("%s (pid %d) still running %v after its drain", n.label, n.cmd.Process.Pid, stopTimeout)
	}
	if n.waitErr() != nil {
		t.Errorf("%s exited with %v, want status 0", n.label, n.waitErr())
	}
	if !strings.Contains(n.log.String(), line) {
		t.Errorf("%s did not log %q", n.label, line)
	}
}
