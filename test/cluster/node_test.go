package cluster

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	bin  string
	err  error
}

// parleyBinary builds cmd/parley once per test run, unless
// CLUSTER_PARLEY_BIN names a binary to test instead.
func parleyBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("CLUSTER_PARLEY_BIN"); bin != "" {
		return bin
	}
	build.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin := filepath.Join(binDir, "parley")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/parley-im/parley/cmd/parley").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		build.bin = bin
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// nodeConfig is what stays the same across runs of one node: its name,
// data directory and route port.
type nodeConfig struct {
	bin  string
	name string
	env  []string // PARLEY_* for serve and the user CLI
}

// newNodeConfigs configures n nodes sharing one PostgreSQL database, each
// peering with all the others on loopback route ports. Client and HTTP
// listeners take port 0: the log says which port the kernel gave.
func newNodeConfigs(t *testing.T, bin, dsn string, n int) []*nodeConfig {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	cfgs := make([]*nodeConfig, n)
	for i := range cfgs {
		var peers []string
		for j, p := range ports {
			if j != i {
				peers = append(peers, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		cfgs[i] = &nodeConfig{bin: bin, name: name, env: []string{
			"PARLEY_DATA_DIR=" + filepath.Join(t.TempDir(), name),
			"PARLEY_HOSTS=" + domain,
			"PARLEY_LOG_LEVEL=" + cmp.Or(os.Getenv("CLUSTER_LOG_LEVEL"), "info"), // debug to see the directory at work
			"PARLEY_STORAGE_DRIVER=postgres",
			"PARLEY_STORAGE_POSTGRES_DSN=" + dsn,
			"PARLEY_CLUSTER_NODE_NAME=" + name,
			fmt.Sprintf("PARLEY_CLUSTER_LISTEN=127.0.0.1:%d", ports[i]),
			"PARLEY_CLUSTER_PEERS=" + strings.Join(peers, ","),
			"PARLEY_CLUSTER_HEARTBEAT=" + heartbeat.String(),
			"PARLEY_CLUSTER_DEAD_AFTER=" + deadAfter.String(),
			"PARLEY_LISTENERS_C2S_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_C2S_TLS_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_HTTP_ADDRESS=127.0.0.1:0",
		}}
	}
	return cfgs
}

// node is one run of a parley process.
type node struct {
	cfg     *nodeConfig
	label   string // "n3 (run 2)"
	cmd     *exec.Cmd
	log     *syncBuffer // stdout and stderr
	exited  chan struct{}
	waitErr error // set before exited is closed

	c2s, http, cert string // from the log once ready
}

// start runs `parley serve` with cfg and returns at once; ready waits for
// it. The process is killed at the end of the test if still running, and
// its log shown if the test failed.
func (cfg *nodeConfig) start(t *testing.T, run int) *node {
	t.Helper()
	n := &node{
		cfg:    cfg,
		label:  fmt.Sprintf("%s (run %d)", cfg.name, run),
		log:    &syncBuffer{},
		exited: make(chan struct{}),
	}
	n.cmd = exec.Command(cfg.bin, "serve")
	n.cmd.Env = append(cleanEnv(), cfg.env...)
	n.cmd.Stdout = n.log
	n.cmd.Stderr = n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", n.label, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default: // the test failed before stopping it
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() || os.Getenv("CLUSTER_SHOW_LOGS") != "" {
			t.Logf("log of %s:\n%s", n.label, n.log.String())
		}
	})
	return n
}

var (
	listeningRE = regexp.MustCompile(`msg=listening listener=(\S+) address=(\S+)`)
	certRE      = regexp.MustCompile(`msg="(?:generated a self-signed certificate|using certificate)[^"]*" path=(\S+)`)
)

// waitReady waits until the node has logged that it is ready and answers
// /healthz.
func (n *node) waitReady(t *testing.T) {
	t.Helper()
	eventually(t, startTimeout, func() error {
		select {
		case <-n.exited:
			return permanent{Err: fmt.Errorf("%s exited before it was ready: %v", n.label, n.waitErr)}
		default:
		}
		return n.ready()
	})
	t.Logf("%s is ready (pid %d): c2s %s, http %s", n.label, n.cmd.Process.Pid, n.c2s, n.http)
}

func (n *node) ready() error {
	log := n.log.String()
	if !strings.Contains(log, `msg="parley is ready"`) {
		return errors.New(`no "parley is ready" in the log yet`)
	}
	for _, m := range listeningRE.FindAllStringSubmatch(log, -1) {
		switch m[1] {
		case "c2s":
			n.c2s = m[2]
		case "http":
			n.http = m[2]
		}
	}
	if m := certRE.FindStringSubmatch(log); m != nil {
		n.cert = m[1]
	}
	if n.c2s == "" || n.http == "" || n.cert == "" {
		return permanent{Err: fmt.Errorf("%s is ready, but its log lacks an address or the certificate (c2s %q, http %q, cert %q)",
			n.label, n.c2s, n.http, n.cert)}
	}
	var health struct {
		Status string `json:"status"`
	}
	if err := n.getJSON("/healthz", &health); err != nil {
		return err
	}
	if health.Status != "ok" {
		return fmt.Errorf("%s /healthz: status %q", n.label, health.Status)
	}
	return nil
}

// getJSON GETs path from the node's HTTP listener and decodes the 200 body.
func (n *node) getJSON(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.http+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s GET %s: HTTP %d", n.label, path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s GET %s: %w", n.label, path, err)
	}
	return nil
}

// members returns the names of the live nodes GET /cluster lists, sorted.
func (n *node) members() ([]string, error) {
	var st struct {
		Clustered bool   `json:"clustered"`
		Node      string `json:"node"`
		Nodes     []struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	if err := n.getJSON("/cluster", &st); err != nil {
		return nil, err
	}
	if !st.Clustered || st.Node != n.cfg.name {
		return nil, permanent{Err: fmt.Errorf("%s GET /cluster: clustered %v as node %q, want node %q", n.label, st.Clustered, st.Node, n.cfg.name)}
	}
	names := make([]string, 0, len(st.Nodes))
	for _, m := range st.Nodes {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names, nil
}

// waitMembers waits until every node in ns lists exactly want.
func waitMembers(t *testing.T, timeout time.Duration, ns []*node, want ...string) {
	t.Helper()
	slices.Sort(want)
	eventually(t, timeout, func() error {
		for _, n := range ns {
			got, err := n.members()
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s lists %v, want %v", n.label, got, want)
			}
		}
		return nil
	})
}

// addUser creates an account with the parley CLI, on the node's
// configuration (so in the shared database).
func (cfg *nodeConfig) addUser(t *testing.T, user, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.bin, "user", "add", user+"@"+domain, "--password", password)
	cmd.Env = append(cleanEnv(), cfg.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("parley user add %s: %v\n%s", user, err, out)
	}
}

// kill sends SIGKILL, as a crash or power loss would, and waits for the
// process to be gone.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL to %s (pid %d): %v", n.label, n.cmd.Process.Pid, err)
	}
	select {
	case <-n.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("%s (pid %d) still running %v after SIGKILL", n.label, n.cmd.Process.Pid, stopTimeout)
	}
}

// stop sends SIGTERM and checks for a clean exit: status 0, the shutdown
// logged, no error logged.
func (n *node) stop(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to %s (pid %d): %v", n.label, n.cmd.Process.Pid, err)
	}
	select {
	case <-n.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("%s (pid %d) still running %v after SIGTERM", n.label, n.cmd.Process.Pid, stopTimeout)
	}
	if n.waitErr != nil {
		t.Errorf("%s exited with %v after SIGTERM, want status 0", n.label, n.waitErr)
	}
	log := n.log.String()
	if !strings.Contains(log, "drained and stopped") { // SIGTERM drains a cluster node
		t.Errorf("%s did not log its clean shutdown", n.label)
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") {
			t.Errorf("%s logged an error: %s", n.label, sc.Text())
		}
	}
}
