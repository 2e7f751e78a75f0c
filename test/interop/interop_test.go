// Package interop runs XMPP clients that Parley's authors did not write —
// slixmpp (Python) and xmpp.js (Node) — against the real parley binary, so
// that `go test ./...` catches what an in-process test with our own client
// cannot: a misread RFC agreed on by both ends.
//
// It builds cmd/parley once, starts it on loopback ports the kernel picks,
// creates fresh accounts with the CLI for every scenario, runs each client
// scenario as a subprocess with a deadline, and stops the server with
// SIGTERM, checking that it shut down cleanly. It does not test Parley's
// internals, and it starts nothing but loopback listeners.
//
// Needs /usr/bin/python3 with slixmpp (Debian: python3-slixmpp) and node
// >= 20.10 with npm (Debian: nodejs npm). Without them the tests skip,
// unless CI is set, when they fail and say what to install.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	python = "/usr/bin/python3" // Debian's, where python3-slixmpp lives
	domain = "localhost"

	scenarioTimeout = 60 * time.Second // one client subprocess
	clientsTimeout  = 90 * time.Second // every client subprocess, together
	startTimeout    = 20 * time.Second // server start to healthy
	stopTimeout     = 20 * time.Second // SIGTERM to exit
)

// binDir holds the parley binary built for this test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// parleyBinary builds cmd/parley once per test run, unless
// INTEROP_PARLEY_BIN names a binary to test instead.
func parleyBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("INTEROP_PARLEY_BIN"); bin != "" {
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

// TestInterop starts one server and runs every client scenario against it,
// in parallel, each with its own accounts.
func TestInterop(t *testing.T) {
	srv := startParley(t, parleyBinary(t))
	// However the scenarios hang, the whole run stays bounded.
	srv.clientsDeadline = time.Now().Add(clientsTimeout)
	t.Run("clients", func(t *testing.T) {
		t.Run("slixmpp", func(t *testing.T) {
			t.Parallel()
			runSlixmpp(t, srv)
		})
		t.Run("xmppjs", func(t *testing.T) {
			t.Parallel()
			runXmppjs(t, srv, "")
		})
		t.Run("xmppjs-websocket", func(t *testing.T) {
			t.Parallel()
			runXmppjs(t, srv, "ws://"+srv.http+"/xmpp-websocket")
		})
	})
	srv.stop(t)
}

func runSlixmpp(t *testing.T, srv *parleyServer) {
	if out, err := exec.Command(python, "-c", "import slixmpp").CombinedOutput(); err != nil {
		missing(t, fmt.Sprintf("slixmpp interop tests need %s with slixmpp (apt-get install python3-slixmpp): %v %s",
			python, err, bytes.TrimSpace(out)))
	}
	out, err := exec.Command(python, "slixmpp_test.py", "--list").CombinedOutput()
	if err != nil {
		t.Fatalf("slixmpp_test.py --list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, count, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(count)
		if !ok || err != nil {
			t.Fatalf("slixmpp_test.py --list: bad line %q", line)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			users := srv.addUsers(t, name, n)
			srv.runClient(t, nil, python, "slixmpp_test.py",
				"--host", srv.c2sHost(), "--port", srv.c2sPort(), "--tls-port", srv.tlsPort(),
				"--component-port", hostPort(srv.component, 1),
				"--domain", domain, "--password", srv.password, "--cafile", srv.cert,
				"--users", strings.Join(users, ","), name)
		})
	}
}

// runXmppjs runs the xmpp.js scenario; with websocket set, its first
// client connects over XMPP over WebSocket.
func runXmppjs(t *testing.T, srv *parleyServer, websocket string) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "the xmpp.js interop test needs node >= 20.10 and npm (apt-get install nodejs npm): "+err.Error())
		}
	}
	out, err := exec.Command("node", "-p", "process.versions.node").Output()
	if err != nil {
		t.Fatalf("node -p process.versions.node: %v", err)
	}
	if v := strings.TrimSpace(string(out)); !atLeast(v, 20, 10) {
		missing(t, "the xmpp.js interop test needs node >= 20.10 (@xmpp/client 0.14); found "+v)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "@xmpp", "client", "package.json")); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in test/interop: %v\n%s", err, out)
		}
	}
	name := "xmppjs"
	args := []string{"xmppjs.mjs"}
	if websocket != "" {
		name = "xmppjsws"
		args = []string{"--experimental-websocket", "xmppjs.mjs", "--websocket", websocket}
	}
	users := srv.addUsers(t, name, 2)
	// Trust the self-signed certificate rather than switch checking off.
	env := []string{"NODE_EXTRA_CA_CERTS=" + srv.cert}
	srv.runClient(t, env, "node", append(args,
		"--host", srv.c2sHost(), "--port", srv.c2sPort(), "--domain", domain,
		"--password", srv.password, "--users", strings.Join(users, ","))...)
}

// missing skips a test whose client is not installed, or fails it under CI,
// where a skip would hide that the interop tests never ran.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: install it rather than skip)")
	}
	t.Skip(msg)
}

// atLeast reports whether version "X.Y.Z" is at least major.minor.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	x, err1 := strconv.Atoi(parts[0])
	y, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return x > major || x == major && y >= minor
}

// parleyServer is a running parley binary.
type parleyServer struct {
	bin      string
	env      []string // PARLEY_* for both serve and the user CLI
	password string   // every test account's
	cmd      *exec.Cmd
	log      *syncBuffer // stdout and stderr
	exited   chan struct{}
	waitErr  error // set before exited is closed

	c2s, c2sTLS, http, cert string // from the log once ready
	component               string // the XEP-0114 listener, whose push.localhost has password for secret

	clientsDeadline time.Time // no client subprocess runs past it
}

func startParley(t *testing.T, bin string) *parleyServer {
	t.Helper()
	data := t.TempDir()
	s := &parleyServer{
		bin:      bin,
		password: "interop-" + randomHex(t, 8),
		log:      &syncBuffer{},
		exited:   make(chan struct{}),
		env: []string{
			"PARLEY_DATA_DIR=" + data,
			"PARLEY_HOSTS=" + domain,
			"PARLEY_LOG_LEVEL=info",
			// Port 0: the kernel picks free ports; the log says which.
			"PARLEY_LISTENERS_C2S_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_C2S_TLS_ADDRESS=127.0.0.1:0",
			"PARLEY_LISTENERS_HTTP_ADDRESS=127.0.0.1:0",
		},
	}
	// An external component (XEP-0114), push.localhost, for the
	// component scenario; its secret is the accounts' password.
	s.env = append(s.env, "PARLEY_LISTENERS_COMPONENT_ADDRESS=127.0.0.1:0", "PARLEY_COMPONENTS=push."+domain+"="+s.password)
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = append(cleanEnv(), s.env...)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start parley: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default: // the test failed before stop: do not leave it running
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("parley log:\n%s", s.log.String())
		}
	})

	eventually(t, startTimeout, func() error {
		select {
		case <-s.exited:
			return permanent{Err: fmt.Errorf("parley exited before it was ready: %v", s.waitErr)}
		default:
		}
		return s.ready()
	})
	t.Logf("parley is ready: c2s %s, c2s_tls %s, http %s", s.c2s, s.c2sTLS, s.http)
	return s
}

var (
	listeningRE = regexp.MustCompile(`msg=listening listener=(\S+) address=(\S+)`)
	certRE      = regexp.MustCompile(`msg="generated a self-signed certificate[^"]*" path=(\S+)`)
)

// ready reads the bound addresses from the log, then asks /healthz.
func (s *parleyServer) ready() error {
	log := s.log.String()
	if !strings.Contains(log, `msg="parley is ready"`) {
		return errors.New(`no "parley is ready" in the log yet`)
	}
	for _, m := range listeningRE.FindAllStringSubmatch(log, -1) {
		switch m[1] {
		case "c2s":
			s.c2s = m[2]
		case "c2s_tls":
			s.c2sTLS = m[2]
		case "http":
			s.http = m[2]
		case "component":
			s.component = m[2]
		}
	}
	if m := certRE.FindStringSubmatch(log); m != nil {
		s.cert = m[1]
	}
	if s.c2s == "" || s.c2sTLS == "" || s.http == "" || s.cert == "" {
		return permanent{Err: fmt.Errorf("ready, but the log lacks an address or the certificate (c2s %q, c2s_tls %q, http %q, cert %q)",
			s.c2s, s.c2sTLS, s.http, s.cert)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.http+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var health struct {
		Status string   `json:"status"`
		Hosts  []string `json:"hosts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	if resp.StatusCode != http.StatusOK || health.Status != "ok" {
		return fmt.Errorf("healthz: HTTP %d, status %q", resp.StatusCode, health.Status)
	}
	return nil
}

func (s *parleyServer) c2sHost() string { return hostPort(s.c2s, 0) }
func (s *parleyServer) c2sPort() string { return hostPort(s.c2s, 1) }
func (s *parleyServer) tlsPort() string { return hostPort(s.c2sTLS, 1) }

// hostPort returns the host (0) or the port (1) of an address.
func hostPort(addr string, i int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return [2]string{host, port}[i]
}

// addUsers creates n fresh accounts with the parley CLI, next to the
// running server, and returns their localparts.
func (s *parleyServer) addUsers(t *testing.T, prefix string, n int) []string {
	t.Helper()
	suffix := randomHex(t, 3)
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("%s-%c-%s", prefix, 'a'+i, suffix)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, s.bin, "user", "add", users[i]+"@"+domain, "--password", s.password)
		cmd.Env = append(cleanEnv(), s.env...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("parley user add %s: %v\n%s", users[i], err, out)
		}
	}
	return users
}

// runClient runs one client scenario and fails the test, showing
// everything it printed, unless it exits 0 in time.
func (s *parleyServer) runClient(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(scenarioTimeout)
	if !s.clientsDeadline.IsZero() && s.clientsDeadline.Before(deadline) {
		deadline = s.clientsDeadline
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var out syncBuffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	// At the deadline, SIGINT lets the client print its stanza trace;
	// SIGKILL follows if it does not exit.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case ctx.Err() != nil:
		t.Errorf("%s %s: killed after %v, at its deadline\n%s", name, args[0], took, out.String())
	case err != nil:
		t.Errorf("%s %s: %v after %v\n%s", name, args[0], err, took, out.String())
	default:
		t.Logf("passed in %v:\n%s", took, out.String())
	}
}

// stop sends SIGTERM and checks for a clean exit: status 0, the shutdown
// logged, no error logged.
func (s *parleyServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to parley (pid %d): %v", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("parley (pid %d) still running %v after SIGTERM", s.cmd.Process.Pid, stopTimeout)
	}
	if s.waitErr != nil {
		t.Errorf("parley exited with %v after SIGTERM, want status 0", s.waitErr)
	}
	log := s.log.String()
	if !strings.Contains(log, "shutting down: closing every stream") {
		t.Error("parley did not log its clean shutdown")
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") {
			t.Errorf("parley logged an error: %s", sc.Text())
		}
	}
}

func cleanEnv() []string { return testutil.CleanEnv() }

type permanent = testutil.Permanent

func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	testutil.EventuallyErr(t, timeout, fn)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

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
