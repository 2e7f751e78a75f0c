// Package testnode runs Parley nodes as real processes for tests: it
// builds cmd/parley once per test binary, configures clusters of nodes on
// loopback (PARLEY_* variables, one PostgreSQL, NATS routes between
// them), starts them, waits until they serve, and stops them by PID
// checking that they exit cleanly. Tests that need it call Run from their
// TestMain.
package testnode

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/parley-im/parley/internal/testkit/testutil"
)

// Domain is the XMPP domain every node serves.
const Domain = "localhost"

const (
	startTimeout = 20 * time.Second // process start to healthy
	stopTimeout  = 20 * time.Second // SIGTERM to exit
)

var build struct {
	dir  string
	once sync.Once
	bin  string
	err  error
}

// Environment for digging into a run: PARLEY_TEST_LOG_LEVEL sets the
// nodes' log level (default info; debug shows the directory at work),
// PARLEY_TEST_SHOW_LOGS=1 shows the logs of a passing test too, and
// PARLEY_TEST_BIN tests a given binary instead of building one.

// Run runs the tests (m.Run) with a temporary directory for the binary
// and returns the exit code: `func TestMain(m *testing.M) { os.Exit(testnode.Run(m)) }`.
func Run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "parley-testnode-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		return 1
	}
	build.dir = dir
	defer os.RemoveAll(dir)
	return m.Run()
}

// Binary builds cmd/parley once per test binary, unless PARLEY_TEST_BIN
// names a binary to test instead.
func Binary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("PARLEY_TEST_BIN"); bin != "" {
		return bin
	}
	if build.dir == "" {
		t.Fatal("testnode: call testnode.Run from TestMain")
	}
	build.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin := filepath.Join(build.dir, "parley")
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

// Config is one node's configuration, as PARLEY_* variables (for serve
// and for the user CLI).
type Config struct {
	Bin  string
	Name string
	Env  []string
}

// Cluster configures n nodes named n1, n2, … sharing the PostgreSQL
// database dsn, each peering with all the others on loopback route ports,
// with env added to each. Client and HTTP listeners take port 0: the log
// says which port the kernel gave.
func Cluster(t testing.TB, bin, dsn string, n int, env ...string) []*Config {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = testutil.FreePort(t)
	}
	cfgs := make([]*Config, n)
	for i := range cfgs {
		var peers []string
		for j, p := range ports {
			if j != i {
				peers = append(peers, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		cfgs[i] = &Config{Bin: bin, Name: name, Env: append([]string{
			"PARLEY_DATA_DIR=" + filepath.Join(t.TempDir(), name),
			"PARLEY_HOSTS=" + Domain,
			"PARLEY_LOG_LEVEL=" + cmp.Or(os.Getenv("PARLEY_TEST_LOG_LEVEL"), "info"),
			"PARLEY_STORAGE_DRIVER=postgres",
			"PARLEY_STORAGE_POSTGRES_DSN=" + dsn,
			"PARLEY_CLUSTER_NODE_NAME=" + name,
			fmt.Sprintf("PARLEY_CLUSTER_LISTEN=127.0.0.1:%d", ports[i]),
			"PARLEY_CLUSTER_PEERS=" + strings.Join(peers, ","),
			"PARLEY_CLUSTER_HEARTBEAT=500ms",
			"PARLEY_CLUSTER_DEAD_AFTER=2s",
			"PARLEY_LISTENERS_C2S_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_C2S_TLS_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_HTTP_ADDRESS=127.0.0.1:0",
		}, env...)}
	}
	return cfgs
}

// AddUser creates an account (a bare JID) with the parley CLI, on the
// node's configuration (so in the shared database).
func (c *Config) AddUser(t testing.TB, jid, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, "user", "add", jid, "--password", password)
	cmd.Env = append(testutil.CleanEnv(), c.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("parley user add %s: %v\n%s", jid, err, out)
	}
}

// Node is a running parley process.
type Node struct {
	Cfg   *Config
	Label string // the name, and which run of it: "n3 (run 2)"
	Cmd   *exec.Cmd
	Log   *SyncBuffer // stdout and stderr

	// From the log once ready: the listeners and the certificate.
	HTTP, C2S, C2STLS, Cert string

	exited  chan struct{}
	waitErr error // set before exited is closed
}

// Start runs `parley serve` and returns at once; WaitReady waits for it.
// The process is killed at the end of the test if still running, and its
// log shown if the test failed.
func (c *Config) Start(t testing.TB) *Node {
	t.Helper()
	return c.StartRun(t, 0)
}

// StartRun is Start for the run-th run of the node (a restart), which its
// label says.
func (c *Config) StartRun(t testing.TB, run int) *Node {
	t.Helper()
	label := c.Name
	if run > 0 {
		label = fmt.Sprintf("%s (run %d)", c.Name, run)
	}
	n := &Node{Cfg: c, Label: label, Log: &SyncBuffer{}, exited: make(chan struct{})}
	n.Cmd = exec.Command(c.Bin, "serve")
	n.Cmd.Env = append(testutil.CleanEnv(), c.Env...)
	n.Cmd.Stdout, n.Cmd.Stderr = n.Log, n.Log
	if err := n.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", n.Label, err)
	}
	go func() {
		n.waitErr = n.Cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default: // the test failed before stopping it
			_ = n.Cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() || os.Getenv("PARLEY_TEST_SHOW_LOGS") != "" {
			t.Logf("log of %s:\n%s", n.Label, n.Log.String())
		}
	})
	return n
}

var (
	listeningRE = regexp.MustCompile(`msg=listening listener=(http|c2s|c2s_tls) address=(\S+)`)
	certRE      = regexp.MustCompile(`msg="(?:generated a self-signed certificate|using certificate)[^"]*" path=(\S+)`)
)

// WaitReady waits until the node has logged that it is ready and answers
// /healthz.
func (n *Node) WaitReady(t testing.TB) {
	t.Helper()
	testutil.EventuallyErr(t, startTimeout, func() error {
		select {
		case <-n.exited:
			return testutil.Permanent{Err: fmt.Errorf("%s exited before it was ready: %v", n.Label, n.waitErr)}
		default:
		}
		log := n.Log.String()
		if !strings.Contains(log, `msg="parley is ready"`) {
			return errors.New(`no "parley is ready" in the log yet`)
		}
		for _, m := range listeningRE.FindAllStringSubmatch(log, -1) {
			switch m[1] {
			case "http":
				n.HTTP = m[2]
			case "c2s":
				n.C2S = m[2]
			case "c2s_tls":
				n.C2STLS = m[2]
			}
		}
		if m := certRE.FindStringSubmatch(log); m != nil {
			n.Cert = m[1]
		}
		if n.HTTP == "" || n.C2S == "" || n.Cert == "" {
			return testutil.Permanent{Err: fmt.Errorf("%s is ready, but its log lacks an address or the certificate (http %q, c2s %q, cert %q)", n.Label, n.HTTP, n.C2S, n.Cert)}
		}
		var health struct {
			Status string `json:"status"`
		}
		if err := n.GetJSON("/healthz", &health); err != nil {
			return err
		}
		if health.Status != "ok" {
			return fmt.Errorf("%s /healthz: status %q", n.Label, health.Status)
		}
		return nil
	})
	t.Logf("%s is ready (pid %d): http %s, c2s %s", n.Label, n.Cmd.Process.Pid, n.HTTP, n.C2S)
}

// GetJSON GETs path from the node's HTTP listener and decodes the 200 body.
func (n *Node) GetJSON(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTP+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s GET %s: HTTP %d", n.Label, path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Members returns the names of the live nodes GET /cluster lists, sorted.
func (n *Node) Members() ([]string, error) {
	var st struct {
		Clustered bool   `json:"clustered"`
		Node      string `json:"node"`
		Nodes     []struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	if err := n.GetJSON("/cluster", &st); err != nil {
		return nil, err
	}
	if !st.Clustered || st.Node != n.Cfg.Name {
		return nil, testutil.Permanent{Err: fmt.Errorf("%s GET /cluster: clustered %v as node %q, want node %q", n.Label, st.Clustered, st.Node, n.Cfg.Name)}
	}
	names := make([]string, 0, len(st.Nodes))
	for _, m := range st.Nodes {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names, nil
}

// WaitMembers waits until every node lists exactly want in GET /cluster.
func WaitMembers(t testing.TB, timeout time.Duration, nodes []*Node, want ...string) {
	t.Helper()
	slices.Sort(want)
	testutil.EventuallyErr(t, timeout, func() error {
		for _, n := range nodes {
			got, err := n.Members()
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s lists %v, want %v", n.Label, got, want)
			}
		}
		return nil
	})
}

// Exited is closed when the process has exited; WaitErr then says how.
func (n *Node) Exited() <-chan struct{} { return n.exited }

// WaitErr is the process's exit (after Exited is closed).
func (n *Node) WaitErr() error { return n.waitErr }

// Kill sends SIGKILL, as a crash or power loss would, and waits for the
// process to be gone.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	if err := n.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL to %s (pid %d): %v", n.Label, n.Cmd.Process.Pid, err)
	}
	select {
	case <-n.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("%s (pid %d) still running %v after SIGKILL", n.Label, n.Cmd.Process.Pid, stopTimeout)
	}
}

// StopAll stops the nodes at once (see Stop).
func StopAll(t testing.TB, nodes []*Node) {
	t.Helper()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { n.Stop(t) })
	}
	wg.Wait()
}

// Stop sends SIGTERM and checks for a clean exit: status 0, the drain
// and shutdown logged, no error logged. It may run on any goroutine: it
// reports with t.Errorf.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	if err := n.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM to %s (pid %d): %v", n.Label, n.Cmd.Process.Pid, err)
		return
	}
	select {
	case <-n.exited:
	case <-time.After(stopTimeout):
		t.Errorf("%s (pid %d) still running %v after SIGTERM", n.Label, n.Cmd.Process.Pid, stopTimeout)
		return
	}
	if n.waitErr != nil {
		t.Errorf("%s exited with %v after SIGTERM, want status 0", n.Label, n.waitErr)
	}
	log := n.Log.String()
	if !strings.Contains(log, "drained and stopped") { // SIGTERM drains a cluster node
		t.Errorf("%s did not log its clean shutdown", n.Label)
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") {
			t.Errorf("%s logged an error: %s", n.Label, sc.Text())
		}
	}
}

// Missing skips a test whose prerequisite is not installed, or fails it
// under CI, where a skip would hide that the test never ran.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: install it rather than skip)")
	}
	t.Skip(msg)
}

// SyncBuffer is a bytes.Buffer safe for a writing process and a reading
// test.
type SyncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// RunScript runs a Node.js script (the args of `node`) from the test's
// directory and returns its output, failing the test, with the output,
// unless it exits 0 within timeout. At the deadline the script gets
// SIGINT, to print what it saw and close its browser; SIGKILL follows if
// it does not exit.
func RunScript(t testing.TB, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out SyncBuffer
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Env = testutil.CleanEnv()
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("node %s: killed after %v, at its deadline\n%s", args[0], took, out.String())
	case err != nil:
		t.Fatalf("node %s: %v after %v\n%s", args[0], err, took, out.String())
	}
	t.Logf("node %s passed in %v:\n%s", args[0], took, out.String())
	return out.String()
}

// RandomHex returns n random bytes in hex, for passwords and names.
func RandomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
