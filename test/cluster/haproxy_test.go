package cluster

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/csv"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const (
	haproxyBin = "/usr/sbin/haproxy" // Debian's package
	// haproxyConfig is the operators' configuration, which the test runs.
	haproxyConfig = "../../deploy/haproxy/haproxy.cfg"

	lbTimeout    = 15 * time.Second // a node's change to HAProxy's view of it
	loginTimeout = 20 * time.Second // one login through the balancer
	chatTimeout  = 10 * time.Second // a route to a new session; one message
)

// The two frontends of haproxy.cfg: STARTTLS and direct TLS.
const (
	feStartTLS  = "xmpp_client"
	feDirectTLS = "xmpps_client"
)

// TestHAProxy runs deploy/haproxy/haproxy.cfg in front of three nodes and
// checks what an operator relies on:
//
//   - Clients connecting through either frontend (STARTTLS, direct TLS
//     passed through: SCRAM-SHA-256-PLUS binds to the node's TLS session)
//     are spread over the nodes, one per node per frontend (leastconn), and
//     chat across nodes through the balancer.
//   - After a node is killed (SIGKILL), its clients' connections through
//     HAProxy close, HAProxy's check of GET /healthz marks it down and sends
//     it nothing more, and those clients log in again through HAProxy, land
//     on the survivors and chat with everyone.
//   - Restarted, the node is marked up again, and the next client through
//     each frontend lands on it (it has the fewest connections).
//
// The test runs the committed file with only addresses, ports and check
// intervals changed (see renderHAProxyConfig); it starts haproxy on
// loopback as a child process and stops it by PID.
//
// Needs Debian's haproxy (apt-get install haproxy) and PostgreSQL; without
// them it skips, unless CI is set, when it fails.
func TestHAProxy(t *testing.T) {
	if _, err := os.Stat(haproxyBin); err != nil {
		missing(t, fmt.Sprintf("the HAProxy test needs %s (apt-get install haproxy): %v", haproxyBin, err))
	}
	committed, err := os.ReadFile(haproxyConfig)
	if err != nil {
		t.Fatal(err)
	}
	// The committed file as is, global section included (it names Debian's
	// haproxy user and chroot, which the package creates).
	haproxyCheck(t, haproxyConfig)

	dsn := testpg.Start(t)
	bin := parleyBinary(t)
	begin := time.Now()

	// Fixed client and HTTP ports, so that HAProxy's configuration holds
	// after a restart.
	fc := startFixedCluster(t, bin, dsn, 3, nil)
	cfgs, nodes, addrs, ports, roots := fc.cfgs, fc.nodes, fc.addrs, fc.ports, fc.roots
	lb := startHAProxy(t, string(committed), addrs, ports)
	lb.waitServers(t, "n1", "n2", "n3")
	t.Logf("haproxy (pid %d) sees three nodes up, %v after the start", lb.cmd.Process.Pid, time.Since(begin).Round(time.Millisecond))

	password := "lb-" + randomHex(t, 8)
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	for _, u := range users {
		cfgs[0].addUser(t, u, password)
	}
	env := &lbEnv{lb: lb, nodes: nodes, password: password, roots: roots}

	// (a) Six clients, three through each frontend: leastconn puts one of
	// each on every node.
	var clients []*lbClient
	for i, u := range users[:6] {
		fe := feStartTLS
		if i >= 3 {
			fe = feDirectTLS
		}
		clients = append(clients, env.login(t, u, fe))
	}
	for _, n := range nodes {
		var got []string
		for _, c := range clients {
			if c.node == n {
				got = append(got, c.frontend)
			}
		}
		if len(got) != 2 || got[0] != feStartTLS || got[1] != feDirectTLS {
			t.Fatalf("%s has the clients of frontends %v, want one of %s and one of %s (leastconn over three nodes): %s",
				n.label, got, feStartTLS, feDirectTLS, placement(clients))
		}
	}
	t.Logf("six clients through haproxy, two per node: %s", placement(clients))
	chatAll(t, clients)
	t.Log("every client chatted with every client on another node, all through haproxy")

	// (b) Kill a node: HAProxy passes the close on to its clients, its
	// check takes the node out, and the clients come back on the others.
	victim, survivors := nodes[2], nodes[:2]
	var orphans, staying []*lbClient
	for _, c := range clients {
		if c.node == victim {
			orphans = append(orphans, c)
		} else {
			staying = append(staying, c)
		}
	}
	// What was forwarded to the victim is acknowledged before it dies:
	// a message cut in flight would be routed again (at least once) and
	// reach its recipient twice, which chatAll counts as wrong.
	waitAcked(t, nodes...)
	victim.kill(t)
	killed := time.Now()
	env.nodes = survivors
	t.Logf("killed %s (pid %d)", victim.label, victim.cmd.Process.Pid)
	for _, c := range orphans {
		c.waitClosed(t)
	}
	lb.waitDown(t, victim.cfg.name)
	t.Logf("haproxy marked %s down %v after the kill", victim.cfg.name, time.Since(killed).Round(time.Millisecond))
	lb.waitIdle(t, victim.cfg.name)
	sentBefore := lb.sessionsTo(t, victim.cfg.name)
	// The survivors forget the dead node's sessions, so the same full JIDs
	// bind again without a conflict with a session nobody can end.
	waitMembers(t, departTimeout, survivors, "n1", "n2")

	clients = staying
	for _, old := range orphans {
		c := env.login(t, old.user, old.frontend)
		if c.node == victim {
			t.Fatalf("%s logged in again on the dead node %s", c.jid, victim.label)
		}
		clients = append(clients, c)
	}
	if got := lb.sessionsTo(t, victim.cfg.name); got != sentBefore {
		t.Errorf("haproxy sent %s %d connections after marking it down, want none", victim.cfg.name, got-sentBefore)
	}
	t.Logf("%s's clients are back through haproxy: %s", victim.cfg.name, placement(clients))
	chatAll(t, clients)
	t.Log("after the kill every client chatted with every client on the other node")

	// (c) The node restarts: back in rotation, and, having the fewest
	// connections, it gets the next client of each frontend.
	victim = cfgs[2].start(t, 2)
	victim.waitReady(t)
	nodes = []*node{nodes[0], nodes[1], victim}
	env.nodes = nodes
	waitMembers(t, joinTimeout, nodes, "n1", "n2", "n3")
	lb.waitServers(t, victim.cfg.name)
	for i, fe := range []string{feStartTLS, feDirectTLS} {
		c := env.login(t, users[6+i], fe)
		if c.node != victim {
			t.Fatalf("%s (through %s) landed on %s, want the restarted %s, which had no connections: %s",
				c.jid, fe, c.node.label, victim.label, placement(append(clients, c)))
		}
		clients = append(clients, c)
	}
	t.Logf("%s is back in rotation: %s", victim.label, placement(clients))
	chatAll(t, clients)
	t.Logf("took %v from the first start", time.Since(begin).Round(time.Millisecond))
}

// nodeAddrs are a node's fixed listener addresses.
type nodeAddrs struct {
	name              string
	c2s, c2sTLS, http string
}

// fixedCluster is n nodes with fixed client and HTTP ports and one
// certificate for the domain on every node, as docs/cluster.md asks of
// operators.
type fixedCluster struct {
	cfgs     []*nodeConfig
	nodes    []*node
	addrs    []nodeAddrs
	ports    *portSet
	certPath string
	roots    *x509.CertPool
}

// startFixedCluster configures, starts and waits for n such nodes; tweak,
// if not nil, may change each node's configuration first.
func startFixedCluster(t *testing.T, bin, dsn string, n int, tweak func(*nodeConfig, nodeAddrs)) *fixedCluster {
	t.Helper()
	fc := &fixedCluster{cfgs: newNodeConfigs(t, bin, dsn, n)}
	var keyPath string
	fc.certPath, keyPath, fc.roots = domainCertificate(t)
	fc.ports = newPortSet(t, fc.cfgs)
	for _, cfg := range fc.cfgs {
		a := nodeAddrs{name: cfg.name, c2s: fc.ports.addr(), c2sTLS: fc.ports.addr(), http: fc.ports.addr()}
		fc.addrs = append(fc.addrs, a)
		cfg.setEnv("PARLEY_LISTENERS_C2S_ADDRESS", a.c2s)
		cfg.setEnv("PARLEY_LISTENERS_C2S_TLS_ADDRESS", a.c2sTLS)
		cfg.setEnv("PARLEY_LISTENERS_HTTP_ADDRESS", a.http)
		cfg.setEnv("PARLEY_TLS_CERT", fc.certPath)
		cfg.setEnv("PARLEY_TLS_KEY", keyPath)
		if tweak != nil {
			tweak(cfg, a)
		}
	}
	for _, cfg := range fc.cfgs {
		fc.nodes = append(fc.nodes, cfg.start(t, 1))
	}
	for _, n := range fc.nodes {
		n.waitReady(t)
	}
	var names []string
	for _, cfg := range fc.cfgs {
		names = append(names, cfg.name)
	}
	waitMembers(t, joinTimeout, fc.nodes, names...)
	return fc
}

// setEnv replaces a PARLEY_ variable of the node's configuration.
func (cfg *nodeConfig) setEnv(key, value string) {
	for i, kv := range cfg.env {
		if strings.HasPrefix(kv, key+"=") {
			cfg.env[i] = key + "=" + value
			return
		}
	}
	cfg.env = append(cfg.env, key+"="+value)
}

// portSet hands out distinct free loopback ports, none of them a route
// port of the nodes' configurations.
type portSet struct {
	t    *testing.T
	used map[int]bool
}

var routePortRE = regexp.MustCompile(`^PARLEY_CLUSTER_LISTEN=127\.0\.0\.1:(\d+)$`)

func newPortSet(t *testing.T, cfgs []*nodeConfig) *portSet {
	s := &portSet{t: t, used: map[int]bool{}}
	for _, cfg := range cfgs {
		for _, kv := range cfg.env {
			if m := routePortRE.FindStringSubmatch(kv); m != nil {
				p, _ := strconv.Atoi(m[1])
				s.used[p] = true
			}
		}
	}
	return s
}

func (s *portSet) addr() string {
	s.t.Helper()
	for {
		if p := freePort(s.t); !s.used[p] {
			s.used[p] = true
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		}
	}
}

// domainCertificate writes a self-signed certificate for the test's
// domain, for every node, and returns the pool a client trusts it with.
func domainCertificate(t *testing.T) (certPath, keyPath string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: domain},
		DNSNames:     []string{domain},
		// Clients redirected to a node by address (see-other-host in the
		// drain test) check it against the address.
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certPath, keyPath, roots
}

// Health-check timing in the test: a node is out after two failed checks
// 100 ms apart, instead of the operators' seconds.
var testCheckTiming = map[string]string{
	"inter": "100ms", "fastinter": "100ms", "downinter": "100ms", "rise": "2", "fall": "2",
}

var (
	sectionRE = regexp.MustCompile(`^(global|defaults|frontend|backend|listen)\b\s*(\S*)`)
	serverRE  = regexp.MustCompile(`^(\s+)server\s+(\S+)\s+(\S+)(.*)$`)
	portRE    = regexp.MustCompile(`\bport\s+\d+\b`)
	timingRE  = regexp.MustCompile(`\b(inter|fastinter|downinter|rise|fall)\s+\S+`)
)

// renderHAProxyConfig is the committed configuration with what a test
// must change, and nothing else:
//
//   - the global section (syslog, chroot, dropping root, daemon: process
//     plumbing a test cannot use) becomes logging to stderr;
//   - each bind line of the two frontends and the stats page listens on a
//     loopback port of the test;
//   - each server line of the two backends points at that node's c2s or
//     c2s_tls listener, and a "port" (the health check's) at its HTTP
//     listener;
//   - the check intervals of default-server are shortened.
//
// Anything it does not recognize fails the test, so that a change to the
// committed file is either exercised here or noticed.
func renderHAProxyConfig(t *testing.T, committed string, addrs []nodeAddrs, binds map[string]string) string {
	t.Helper()
	byName := map[string]nodeAddrs{}
	for _, a := range addrs {
		byName[a.name] = a
	}
	var out strings.Builder
	var section, name string
	seen := map[string]bool{} // "backend/server", "bind section", "default-server backend"
	for line := range strings.Lines(committed) {
		trimmed := strings.TrimSpace(line)
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			section, name = m[1], m[2]
			out.WriteString(line)
			if section == "global" {
				out.WriteString("    log stderr format raw local0\n")
			}
			continue
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			out.WriteString(line)
			continue
		}
		switch fields := strings.Fields(trimmed); {
		case section == "global":
			// dropped
		case fields[0] == "bind":
			addr, ok := binds[name]
			if !ok || seen["bind "+name] {
				t.Fatalf("%s: unexpected bind line in %s %s: %q", haproxyConfig, section, name, trimmed)
			}
			seen["bind "+name] = true
			fmt.Fprintf(&out, "    bind %s\n", addr)
		case fields[0] == "server":
			m := serverRE.FindStringSubmatch(strings.TrimRight(line, "\n"))
			if m == nil || section != "backend" || byName[m[2]].name == "" {
				t.Fatalf("%s: unexpected server line in %s %s: %q", haproxyConfig, section, name, trimmed)
			}
			a := byName[m[2]]
			var target string
			switch name {
			case "parley_c2s":
				target = a.c2s
			case "parley_c2s_tls":
				target = a.c2sTLS
			default:
				t.Fatalf("%s: server line in an unknown backend %s: %q", haproxyConfig, name, trimmed)
			}
			_, httpPort, _ := net.SplitHostPort(a.http)
			rest := portRE.ReplaceAllString(m[4], "port "+httpPort)
			seen[name+"/"+a.name] = true
			fmt.Fprintf(&out, "%sserver %s %s%s\n", m[1], a.name, target, rest)
		case fields[0] == "default-server":
			seen["default-server "+name] = true
			out.WriteString(timingRE.ReplaceAllStringFunc(line, func(kv string) string {
				k := strings.Fields(kv)[0]
				return k + " " + testCheckTiming[k]
			}))
		default:
			out.WriteString(line)
		}
	}
	want := []string{"default-server parley_c2s"}
	for fe := range binds {
		want = append(want, "bind "+fe)
	}
	for _, a := range addrs {
		want = append(want, "parley_c2s/"+a.name, "parley_c2s_tls/"+a.name)
	}
	for _, w := range want {
		if !seen[w] {
			t.Fatalf("%s: no %s: the test no longer matches the committed configuration", haproxyConfig, w)
		}
	}
	return out.String()
}

// haproxyCheck validates a configuration file, warnings included.
func haproxyCheck(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, haproxyBin, "-c", "-dW", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c -dW -f %s: %v\n%s", path, err, out)
	}
}

// balancer is a running haproxy.
type balancer struct {
	cmd      *exec.Cmd
	log      *syncBuffer
	exited   chan struct{}
	frontend map[string]string // frontend name -> listen address
	stats    string            // stats page address
}

// startHAProxy renders the configuration for addrs, checks it and starts
// haproxy in the foreground. It is stopped by PID when the test ends.
func startHAProxy(t *testing.T, committed string, addrs []nodeAddrs, ports *portSet) *balancer {
	t.Helper()
	lb := &balancer{
		log:    &syncBuffer{},
		exited: make(chan struct{}),
		frontend: map[string]string{
			feStartTLS:  ports.addr(),
			feDirectTLS: ports.addr(),
		},
		stats: ports.addr(),
	}
	binds := map[string]string{"stats": lb.stats}
	for fe, a := range lb.frontend {
		binds[fe] = a
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(renderHAProxyConfig(t, committed, addrs, binds)), 0o600); err != nil {
		t.Fatal(err)
	}
	haproxyCheck(t, path)
	lb.cmd = exec.Command(haproxyBin, "-f", path, "-db")
	lb.cmd.Env = cleanEnv()
	lb.cmd.Stdout = lb.log
	lb.cmd.Stderr = lb.log
	if err := lb.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	go func() {
		_ = lb.cmd.Wait()
		close(lb.exited)
	}()
	t.Cleanup(func() {
		_ = lb.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-lb.exited:
		case <-time.After(stopTimeout):
			_ = lb.cmd.Process.Kill()
			<-lb.exited
		}
		if t.Failed() || os.Getenv("PARLEY_TEST_SHOW_LOGS") != "" {
			b, _ := os.ReadFile(path)
			t.Logf("haproxy configuration:\n%s\nhaproxy log:\n%s", b, lb.log.String())
		}
	})
	return lb
}

// serverState is one server's line of HAProxy's stats CSV.
type serverState struct {
	status      string // UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (going up), ...
	checkStatus string // of the last check: L7OK, L4CON, ...
	checkCode   string // the HTTP status the last check got
	current     int    // scur: connections open now
	sessions    int    // stot: connections sent to it so far
}

// servers reads the stats page: backend -> server -> state.
func (lb *balancer) servers() (map[string]map[string]serverState, error) {
	select {
	case <-lb.exited:
		return nil, permanent{Err: errors.New("haproxy exited")}
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+lb.stats+"/;csv", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("haproxy stats: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(body), "# "))).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("haproxy stats CSV: %v\n%s", err, body)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"pxname", "svname", "status", "check_status", "check_code", "scur", "stot"} {
		if _, ok := col[h]; !ok {
			return nil, permanent{Err: fmt.Errorf("haproxy stats CSV has no %s column: %q", h, rows[0])}
		}
	}
	out := map[string]map[string]serverState{}
	for _, r := range rows[1:] {
		if len(r) != len(rows[0]) {
			continue
		}
		px, sv := r[col["pxname"]], r[col["svname"]]
		if sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		scur, _ := strconv.Atoi(r[col["scur"]])
		stot, _ := strconv.Atoi(r[col["stot"]])
		if out[px] == nil {
			out[px] = map[string]serverState{}
		}
		out[px][sv] = serverState{status: r[col["status"]], checkStatus: r[col["check_status"]], checkCode: r[col["check_code"]], current: scur, sessions: stot}
	}
	return out, nil
}

// waitServers waits until the named nodes are up in both backends, the
// last check of each having got 200 from /healthz.
func (lb *balancer) waitServers(t *testing.T, names ...string) {
	t.Helper()
	eventually(t, lbTimeout, func() error {
		st, err := lb.servers()
		if err != nil {
			return err
		}
		for _, n := range names {
			c, tl := st["parley_c2s"][n], st["parley_c2s_tls"][n]
			if c.status != "UP" || c.checkStatus != "L7OK" || c.checkCode != "200" {
				return fmt.Errorf("haproxy: parley_c2s/%s is %+v, want UP after a 200 from /healthz", n, c)
			}
			if tl.status != "UP" {
				return fmt.Errorf("haproxy: parley_c2s_tls/%s is %+v, want UP", n, tl)
			}
		}
		return nil
	})
}

// waitDown waits until the node is down in both backends.
func (lb *balancer) waitDown(t *testing.T, name string) {
	t.Helper()
	eventually(t, lbTimeout, func() error {
		st, err := lb.servers()
		if err != nil {
			return err
		}
		for _, be := range []string{"parley_c2s", "parley_c2s_tls"} {
			if s := st[be][name]; !strings.HasPrefix(s.status, "DOWN") {
				return fmt.Errorf("haproxy: %s/%s is %+v, want DOWN", be, name, s)
			}
		}
		return nil
	})
}

// waitIdle waits until HAProxy holds no connection to the node in either
// backend.
func (lb *balancer) waitIdle(t *testing.T, name string) {
	t.Helper()
	eventually(t, lbTimeout, func() error {
		st, err := lb.servers()
		if err != nil {
			return err
		}
		for _, be := range []string{"parley_c2s", "parley_c2s_tls"} {
			if s := st[be][name]; s.current != 0 {
				return fmt.Errorf("haproxy: %s/%s still has %d connections open", be, name, s.current)
			}
		}
		return nil
	})
}

// sessionsTo is how many connections HAProxy has sent the node, over both
// backends.
func (lb *balancer) sessionsTo(t *testing.T, name string) int {
	t.Helper()
	st, err := lb.servers()
	if err != nil {
		t.Fatal(err)
	}
	return st["parley_c2s"][name].sessions + st["parley_c2s_tls"][name].sessions
}

// lbEnv is what logging in through the balancer needs.
type lbEnv struct {
	lb       *balancer
	nodes    []*node // the live ones
	password string
	roots    *x509.CertPool
}

// lbClient is one client connected through HAProxy. Its reader answers
// iq requests (pings) and queues messages.
type lbClient struct {
	user, frontend string
	jid            string
	node           *node // where HAProxy sent it
	c              *xmppclient.Client
	msgs           chan *stanza.Element
	done           <-chan error // the reader's end
	ctx            context.Context
	stop           context.CancelFunc // ends the reader
}

// login connects user through the frontend, with SCRAM-SHA-256-PLUS over
// STARTTLS or direct TLS, sends initial presence and finds the node it
// landed on: the one whose session count went up.
func (e *lbEnv) login(t *testing.T, user, frontend string) *lbClient {
	t.Helper()
	before := e.sessionCounts(t)
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{
		Addr:      e.lb.frontend[frontend],
		Domain:    domain,
		Username:  user,
		Password:  e.password,
		Resource:  "lb",
		TLS:       &tls.Config{RootCAs: e.roots, MinVersion: tls.VersionTLS12},
		StartTLS:  frontend == feStartTLS,
		DirectTLS: frontend == feDirectTLS,
		Mechanism: xmppclient.ScramSHA256Plus,
	})
	if err != nil {
		t.Fatalf("%s through haproxy's %s: %v", user, frontend, err)
	}
	lc := &lbClient{user: user, frontend: frontend, jid: c.JID().String(), c: c, msgs: make(chan *stanza.Element, 256)}
	lc.ctx, lc.stop = context.WithCancel(context.Background())
	lc.done = c.StartReader(lc.ctx, lc.handle)
	t.Cleanup(lc.close)
	if err := c.Send(stanza.New("presence", stanza.NSClient)); err != nil {
		t.Fatalf("%s: initial presence: %v", lc.jid, err)
	}
	eventually(t, chatTimeout, func() error {
		after := e.sessionCounts(t)
		var up []*node
		for i, n := range e.nodes {
			switch d := after[i] - before[i]; {
			case d == 1:
				up = append(up, n)
			case d != 0:
				return permanent{Err: fmt.Errorf("%s's sessions went from %d to %d while %s logged in alone", n.label, before[i], after[i], lc.jid)}
			}
		}
		if len(up) != 1 {
			return fmt.Errorf("%s: session counts %v before the login, %v after", lc.jid, before, after)
		}
		lc.node = up[0]
		return nil
	})
	t.Logf("%s logged in through %s on %s", lc.jid, frontend, lc.node.label)
	return lc
}

// sessionCounts reads parley_sessions from each node's /metrics.
func (e *lbEnv) sessionCounts(t *testing.T) []int {
	t.Helper()
	out := make([]int, len(e.nodes))
	for i, n := range e.nodes {
		var err error
		eventually(t, chatTimeout, func() error {
			out[i], err = n.sessions()
			return err
		})
	}
	return out
}

// sessions is the node's parley_sessions gauge: local bound sessions.
func (n *node) sessions() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.http+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "parley_sessions "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, permanent{Err: fmt.Errorf("%s /metrics has no parley_sessions", n.label)}
}

func (c *lbClient) handle(el *stanza.Element) {
	switch {
	case el.Name == "iq" && (el.Type() == "get" || el.Type() == "set"):
		_ = c.c.Send(stanza.New("iq", stanza.NSClient, "type", "result", "id", el.ID(), "to", el.From()))
	case el.Name == "message":
		select {
		case c.msgs <- el: // the test reads them
		case <-c.ctx.Done():
		}
	}
}

// waitClosed waits for the client's connection to end, as it must when
// its node dies behind HAProxy, and closes the client's side. (Until the
// client closes, HAProxy keeps the half-closed connection, and counts it
// against the node for leastconn.)
func (c *lbClient) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		t.Logf("%s: connection through haproxy ended (%v)", c.jid, err)
		c.close() // as a client does before it reconnects
	case <-time.After(lbTimeout):
		t.Fatalf("%s: connection through haproxy still open %v after its node %s died", c.jid, lbTimeout, c.node.label)
	}
}

func (c *lbClient) close() {
	_ = c.c.Close()
	c.stop()
}

// routes waits until x's node routes to y's session: y answers a ping from
// x instead of x's node answering service-unavailable. A new session
// reaches the other nodes a moment after it is bound.
func routes(t *testing.T, x, y *lbClient) {
	t.Helper()
	eventually(t, chatTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		iq := stanza.New("iq", stanza.NSClient, "type", "get", "to", y.jid).Append(stanza.New("ping", "urn:xmpp:ping"))
		if _, err := x.c.Request(ctx, iq); err != nil {
			return fmt.Errorf("%s pinging %s: %w", x.jid, y.jid, err)
		}
		return nil
	})
}

// chatAll has every client send a message to every client on another
// node, and checks each arrives, from the right JID, and nothing else.
func chatAll(t *testing.T, clients []*lbClient) {
	t.Helper()
	seq := 0
	for _, x := range clients {
		for _, y := range clients {
			if x.node == y.node {
				continue
			}
			routes(t, x, y)
			seq++
			body := fmt.Sprintf("%s -> %s #%d", x.user, y.user, seq)
			msg := stanza.New("message", stanza.NSClient, "to", y.jid, "type", "chat", "id", fmt.Sprintf("m%d", seq)).
				Append(stanza.New("body", stanza.NSClient).SetText(body))
			if err := x.c.Send(msg); err != nil {
				t.Fatalf("%s sending %q: %v", x.jid, body, err)
			}
			select {
			case m := <-y.msgs:
				got := ""
				if b := m.Child("body", stanza.NSClient); b != nil {
					got = b.Text()
				}
				if got != body || m.From() != x.jid || m.Type() != "chat" {
					t.Fatalf("%s got a message from %q (type %q) %q, want %q from %s", y.jid, m.From(), m.Type(), got, body, x.jid)
				}
			case <-time.After(chatTimeout):
				t.Fatalf("%s: no %q from %s after %v", y.jid, body, x.jid, chatTimeout)
			}
		}
	}
}

// placement lists where each client is, for logs and failures.
func placement(clients []*lbClient) string {
	var b strings.Builder
	for i, c := range clients {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s via %s on %s", c.user, c.frontend, c.node.cfg.name)
	}
	return b.String()
}
