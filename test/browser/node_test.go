package browser

import (
	"bufio"
	"bytes"
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

	"github.com/parley-im/parley/internal/testutil"
)

// The nodes as processes: a trimmed copy of test/cluster's helpers.

var build struct {
	once sync.Once
	bin  string
	err  error
}

// parleyBinary builds cmd/parley once per test run, unless
// BROWSER_PARLEY_BIN names a binary to test instead.
func parleyBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("BROWSER_PARLEY_BIN"); bin != "" {
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

// nodeConfig is one node's configuration, as PARLEY_* variables.
type nodeConfig struct {
	bin  string
	name string
	env  []string // for serve and the user CLI
}

// newNodeConfigs configures n nodes sharing one PostgreSQL database, each
// peering with all the others on loopback route ports and serving the web
// chat from webDir. Client and HTTP listeners take port 0: the log says
// which port the kernel gave.
func newNodeConfigs(t *testing.T, bin, dsn, webDir string, n int) []*nodeConfig {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = testutil.FreePort(t)
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
			"PARLEY_LOG_LEVEL=info",
			"PARLEY_STORAGE_DRIVER=postgres",
			"PARLEY_STORAGE_POSTGRES_DSN=" + dsn,
			"PARLEY_CLUSTER_NODE_NAME=" + name,
			fmt.Sprintf("PARLEY_CLUSTER_LISTEN=127.0.0.1:%d", ports[i]),
			"PARLEY_CLUSTER_PEERS=" + strings.Join(peers, ","),
			"PARLEY_CLUSTER_HEARTBEAT=500ms",
			"PARLEY_CLUSTER_DEAD_AFTER=2s",
			// SIGTERM drains, waiting for sessions that wait for their
			// client to resume them (a browser closed without logging out)
			// up to this bound, then exits with an error.
			"PARLEY_CLUSTER_DRAIN_TIMEOUT=5s",
			"PARLEY_LISTENERS_C2S_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_C2S_TLS_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_HTTP_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_HTTP_WEB_DIR=" + webDir,
		}}
	}
	return cfgs
}

// node is a running parley process.
type node struct {
	cfg     *nodeConfig
	cmd     *exec.Cmd
	log     *syncBuffer // stdout and stderr
	exited  chan struct{}
	waitErr error // set before exited is closed

	http, c2s, cert string // from the log once ready
}

// start runs `parley serve` with cfg and returns at once; waitReady waits
// for it. The process is killed at the end of the test if still running,
// and its log shown if the test failed.
func (cfg *nodeConfig) start(t *testing.T) *node {
	t.Helper()
	n := &node{cfg: cfg, log: &syncBuffer{}, exited: make(chan struct{})}
	n.cmd = exec.Command(cfg.bin, "serve")
	n.cmd.Env = append(testutil.CleanEnv(), cfg.env...)
	n.cmd.Stdout = n.log
	n.cmd.Stderr = n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cfg.name, err)
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
		if t.Failed() {
			t.Logf("log of %s:\n%s", cfg.name, n.log.String())
		}
	})
	return n
}

var (
	listeningRE = regexp.MustCompile(`msg=listening listener=(http|c2s) address=(\S+)`)
	certRE      = regexp.MustCompile(`msg="(?:generated a self-signed certificate|using certificate)[^"]*" path=(\S+)`)
)

// waitReady waits until the node has logged that it is ready and answers
// /healthz.
func (n *node) waitReady(t *testing.T) {
	t.Helper()
	testutil.EventuallyErr(t, startTimeout, func() error {
		select {
		case <-n.exited:
			return testutil.Permanent{Err: fmt.Errorf("%s exited before it was ready: %v", n.cfg.name, n.waitErr)}
		default:
		}
		log := n.log.String()
		if !strings.Contains(log, `msg="parley is ready"`) {
			return errors.New(`no "parley is ready" in the log yet`)
		}
		for _, m := range listeningRE.FindAllStringSubmatch(log, -1) {
			if m[1] == "http" {
				n.http = m[2]
			} else {
				n.c2s = m[2]
			}
		}
		if m := certRE.FindStringSubmatch(log); m != nil {
			n.cert = m[1]
		}
		if n.http == "" || n.c2s == "" || n.cert == "" {
			return testutil.Permanent{Err: fmt.Errorf("%s is ready, but its log lacks an address or the certificate (http %q, c2s %q, cert %q)", n.cfg.name, n.http, n.c2s, n.cert)}
		}
		var health struct {
			Status string `json:"status"`
		}
		if err := n.getJSON("/healthz", &health); err != nil {
			return err
		}
		if health.Status != "ok" {
			return fmt.Errorf("%s /healthz: status %q", n.cfg.name, health.Status)
		}
		return nil
	})
	t.Logf("%s is ready (pid %d): http %s", n.cfg.name, n.cmd.Process.Pid, n.http)
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
		return fmt.Errorf("%s GET %s: HTTP %d", n.cfg.name, path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitMembers waits until every node in ns lists exactly want in GET /cluster.
func waitMembers(t *testing.T, timeout time.Duration, ns []*node, want ...string) {
	t.Helper()
	slices.Sort(want)
	testutil.EventuallyErr(t, timeout, func() error {
		for _, n := range ns {
			var st struct {
				Nodes []struct {
					Name string `json:"name"`
				} `json:"nodes"`
			}
			if err := n.getJSON("/cluster", &st); err != nil {
				return err
			}
			var got []string
			for _, m := range st.Nodes {
				got = append(got, m.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s lists %v, want %v", n.cfg.name, got, want)
			}
		}
		return nil
	})
}

// addUser creates an account with the parley CLI, in the shared database.
func (cfg *nodeConfig) addUser(t *testing.T, user, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.bin, "user", "add", user+"@"+domain, "--password", password)
	cmd.Env = append(testutil.CleanEnv(), cfg.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("parley user add %s: %v\n%s", user, err, out)
	}
}

// stopAll stops the nodes at once.
func stopAll(t *testing.T, ns []*node) {
	t.Helper()
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Go(func() { n.stop(t) })
	}
	wg.Wait()
}

// stop sends SIGTERM and checks for a clean exit: status 0 and no error
// logged. It may run on any goroutine: it reports with t.Errorf.
func (n *node) stop(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM to %s (pid %d): %v", n.cfg.name, n.cmd.Process.Pid, err)
		return
	}
	select {
	case <-n.exited:
	case <-time.After(stopTimeout):
		t.Errorf("%s (pid %d) still running %v after SIGTERM", n.cfg.name, n.cmd.Process.Pid, stopTimeout)
		return
	}
	if n.waitErr != nil {
		t.Errorf("%s exited with %v after SIGTERM, want status 0", n.cfg.name, n.waitErr)
	}
	sc := bufio.NewScanner(strings.NewReader(n.log.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") {
			t.Errorf("%s logged an error: %s", n.cfg.name, sc.Text())
		}
	}
}

// missing skips a test whose prerequisite is not installed, or fails it
// under CI, where a skip would hide that the test never ran.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: install it rather than skip)")
	}
	t.Skip(msg)
}

func cleanEnv() []string { return testutil.CleanEnv() }

// syncBuffer is a bytes.Buffer safe for a writing process and a reading test.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
