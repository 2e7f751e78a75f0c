// Package cluster runs Parley as a cluster of real `parley` processes on
// loopback, with independent XMPP clients (slixmpp) on different nodes,
// and breaks it: a node is killed with SIGKILL mid-conversation and
// restarted, and the test checks what the survivors and the clients see.
//
// It builds cmd/parley once, starts three nodes sharing one throwaway
// PostgreSQL (internal/testkit/testpg), configured through PARLEY_* variables, and
// drives one client script (kill_node.py) that takes turns with the test
// over its stdout and stdin. Processes are stopped by PID; every wait is
// bounded.
//
// Needs /usr/bin/python3 with slixmpp (Debian: python3-slixmpp) and
// PostgreSQL's binaries (Debian: postgresql). Without them the test skips,
// unless CI is set, when it fails and says what to install.
//
// On failure it shows the script's output with every client's stanza
// trace, each node's log and what the offline store holds. For digging:
// PARLEY_TEST_LOG_LEVEL=debug sets the nodes' log level (NATS's route
// events included), PARLEY_TEST_SHOW_LOGS=1 shows the logs of a passing
// run too, and PARLEY_TEST_BIN tests a given binary instead of building
// one (internal/testkit/testnode).
package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/parley-im/parley/internal/testkit/testnode"
	"github.com/parley-im/parley/internal/testkit/testpg"
)

const (
	python = "/usr/bin/python3" // Debian's, where python3-slixmpp lives
	domain = "localhost"

	heartbeat = 500 * time.Millisecond
	deadAfter = 2 * time.Second

	startTimeout   = 20 * time.Second // process start to healthy
	stopTimeout    = 20 * time.Second // a signal to exit
	joinTimeout    = 10 * time.Second // started nodes to a full member list
	departTimeout  = 10 * time.Second // a kill to the survivors' new member list
	scriptTimeout  = 70 * time.Second // the client script, all of it
	scriptTurnWait = 40 * time.Second // for the script's next marker
)

func TestMain(m *testing.M) { os.Exit(testnode.Run(m)) }

// TestKillNodeMidConversation: alice on n1, bob on n2 and carol on n3
// subscribe to each other's presence (alice with bob, alice with carol)
// and chat across every pair of nodes. While alice and bob chat on, n3 is
// killed with SIGKILL: alice must hear carol's unavailable presence, once,
// within 10 s; alice and bob lose nothing; n1 and n2 must list two nodes
// within 10 s. Then n3 restarts with the same name and data directory,
// rejoins, and carol logs in on it again: alice sees her, she sees alice,
// gets what alice sent while she was away, and they chat.
func TestKillNodeMidConversation(t *testing.T) {
	if out, err := exec.Command(python, "-c", "import slixmpp").CombinedOutput(); err != nil {
		missing(t, fmt.Sprintf("the cluster test needs %s with slixmpp (apt-get install python3-slixmpp): %v %s",
			python, err, bytes.TrimSpace(out)))
	}
	dsn := testpg.Start(t) // skips, or fails under CI, without PostgreSQL
	// Runs before the database is dropped.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("offline messages left in the database:\n%s", offlineMessages(dsn))
		}
	})
	bin := parleyBinary(t)
	begin := time.Now()

	cfgs := newNodeConfigs(t, bin, dsn, 3)
	nodes := make([]*node, len(cfgs))
	for i, cfg := range cfgs { // all at once, as after a power cut
		nodes[i] = cfg.start(t, 1)
	}
	for _, n := range nodes {
		n.waitReady(t)
	}
	waitMembers(t, joinTimeout, nodes, "n1", "n2", "n3")
	t.Logf("three nodes see each other, %v after the start", time.Since(begin).Round(time.Millisecond))

	password := "cluster-" + randomHex(t, 8)
	for _, u := range []string{"alice", "bob", "carol"} {
		cfgs[0].addUser(t, u, password)
	}
	args := []string{"kill_node.py", "--domain", domain, "--password", password, "--users", "alice,bob,carol"}
	for _, n := range nodes {
		args = append(args, "--node", n.c2s+","+n.cert)
	}
	sc := startScript(t, scriptTimeout, args...)

	sc.expect(t, "kill", scriptTurnWait)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	n3.kill(t)
	killed := time.Now()
	sc.send(t, "killed")
	t.Logf("killed %s (pid %d) mid-conversation", n3.label, n3.cmd.Process.Pid)

	waitMembers(t, departTimeout, []*node{n1, n2}, "n1", "n2")
	t.Logf("n1 and n2 list two nodes %v after the kill", time.Since(killed).Round(time.Millisecond))
	// The script bounds this wait at 10 s; here it is only timed.
	sc.expect(t, "unavailable", scriptTurnWait)
	t.Logf("alice (on n1) heard carol was gone %v after the kill", time.Since(killed).Round(time.Millisecond))

	sc.expect(t, "restart", scriptTurnWait)
	n3 = cfgs[2].start(t, 2) // same name, data directory and route port
	n3.waitReady(t)
	waitMembers(t, joinTimeout, []*node{n1, n2, n3}, "n1", "n2", "n3")
	t.Logf("%s rejoined: every node lists three", n3.label)
	sc.send(t, "restarted "+n3.c2s+" "+n3.cert)

	sc.wait(t)
	t.Logf("client script:\n%s", sc.out.String())
	for _, n := range []*node{n1, n2, n3} {
		n.stop(t)
	}
	t.Logf("took %v from the first start", time.Since(begin).Round(time.Millisecond))
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// offlineMessages lists what the offline store holds, for a failure
// report: a message there was not delivered live.
func offlineMessages(dsn string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT owner, id, stanza FROM offline_messages ORDER BY owner, id")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b bytes.Buffer
	for rows.Next() {
		var owner string
		var id int64
		var st []byte
		if err := rows.Scan(&owner, &id, &st); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "%s #%d: %s\n", owner, id, st)
	}
	if err := rows.Err(); err != nil {
		fmt.Fprintln(&b, err)
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}
