// Package dashboard runs Parley's admin dashboard (/admin) in a real
// browser against a real two-node cluster: Debian's chromium, driven by
// playwright-core from web/node_modules, logs in as an administrator, sees
// both nodes with their numbers and charts, creates a user through the UI
// and lists the sessions; the test then logs the new user in over XMPP on
// the other node.
//
// It builds cmd/parley once, starts two nodes sharing one throwaway
// PostgreSQL (internal/testkit/testpg) and a cluster secret, with NATS routes on
// loopback, each serving the repository's web/ directory, creates the
// accounts with the CLI, keeps a few XMPP clients connected to both nodes
// and exchanging messages, then runs dashboard.mjs with a deadline. The
// script saves screenshots under test-artifacts/dashboard/ at the
// repository's root; the test prints their paths.
//
// Needs node (Debian: nodejs), chromium at /usr/bin/chromium (Debian:
// chromium), web/'s npm packages (npm ci --ignore-scripts --prefix web)
// and PostgreSQL's binaries (Debian: postgresql). Without them the test
// skips, unless CI is set, when it fails and says what to install. On
// failure it shows the script's output (with the page's console), and
// each node's log.
package dashboard

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testnode"
	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const (
	chromium = "/usr/bin/chromium" // Debian's
	domain   = "localhost"

	joinTimeout   = 10 * time.Second // started nodes to a full member list
	xmppTimeout   = 15 * time.Second // one XMPP login or expected stanza
	scriptTimeout = 90 * time.Second // dashboard.mjs, all of it
)

func TestMain(m *testing.M) { os.Exit(testnode.Run(m)) }

func TestDashboard(t *testing.T) {
	webDir := prerequisites(t)
	dsn := testpg.Start(t) // skips, or fails under CI, without PostgreSQL
	bin := testnode.Binary(t)
	begin := time.Now()

	admin := "boss@" + domain
	cfgs := testnode.Cluster(t, bin, dsn, 2,
		"PARLEY_LISTENERS_HTTP_WEB_DIR="+webDir,
		"PARLEY_LISTENERS_C2S_STARTTLS_REQUIRED=false",
		"PARLEY_CLUSTER_SECRET=dash-"+testnode.RandomHex(t, 16), // one cookie key on every node
		"PARLEY_ADMIN_USERS="+admin)
	nodes := make([]*testnode.Node, len(cfgs))
	for i, cfg := range cfgs {
		nodes[i] = cfg.Start(t)
	}
	for _, n := range nodes {
		n.WaitReady(t)
	}
	testnode.WaitMembers(t, joinTimeout, nodes, "n1", "n2")
	t.Logf("two nodes see each other, %v after the start", time.Since(begin).Round(time.Millisecond))

	password := "dash-" + testnode.RandomHex(t, 8)
	for _, u := range []string{admin, "ann@" + domain, "ben@" + domain} {
		cfgs[0].AddUser(t, u, password)
	}
	// Something to show: ann on n1 and ben on n2, chatting across.
	ann := dial(t, nodes[0], "ann", password)
	ben := dial(t, nodes[1], "ben", password)
	// Available, so that messages to ben's bare JID reach the session
	// (or, before n1 knows of it, come to it from offline storage).
	send(t, ben, "<presence/>")
	for i := range 5 {
		id := fmt.Sprintf("m%d", i)
		send(t, ann, fmt.Sprintf("<message to='ben@%s' type='chat' id='%s'><body>hello %d</body></message>", domain, id, i))
		expect(t, ben, id)
	}

	// One failed login, and traffic while the browser watches: messages
	// across the nodes and pings to the server (a module), five a second.
	if c, err := xmppclient.Dial(context.Background(), xmppclient.Config{Addr: nodes[1].C2S, Domain: domain, Username: "ben", Password: "wrong", Timeout: xmppTimeout}); err == nil {
		_ = c.Close()
		t.Fatal("a login with a wrong password succeeded")
	}
	stop := make(chan struct{})
	traffic := make(chan error, 1)
	go func() { traffic <- chatter(stop, ann, ben) }()

	artifacts, err := filepath.Abs(filepath.Join("..", "..", "test-artifacts", "dashboard"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	newUser, newPassword := "made-in-browser@"+domain, "pw-"+testnode.RandomHex(t, 6)
	out := testnode.RunScript(t, scriptTimeout, "dashboard.mjs",
		"--web-dir", webDir, "--chromium", chromium, "--artifacts", artifacts,
		"--url", "http://"+nodes[0].HTTP+"/", "--nodes", "n1,n2",
		"--admin", admin, "--password", password,
		"--new-user", newUser, "--new-password", newPassword)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "screenshot "); ok {
			fmt.Println("dashboard screenshot:", p) // shown without -v too, for CI logs
		}
	}

	close(stop)
	if err := <-traffic; err != nil {
		t.Fatalf("traffic during the browser run: %v", err)
	}

	// The account made in the browser through n1 works on n2.
	made := dial(t, nodes[1], strings.TrimSuffix(newUser, "@"+domain), newPassword)
	_ = made.Close()

	_ = ann.Close()
	_ = ben.Close()
	for _, n := range nodes {
		n.Stop(t)
	}
	t.Logf("passed in %v", time.Since(begin).Round(time.Millisecond))
}

// chatter has a and b send each other a message and the server a ping
// every 200ms until stop is closed. What arrives is left unread.
func chatter(stop <-chan struct{}, a, b *xmppclient.Client) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		for _, p := range [][2]*xmppclient.Client{{a, b}, {b, a}} {
			for _, xml := range []string{
				fmt.Sprintf("<message to='%s' type='chat' id='c%d'><body>tick %d</body></message>", p[1].JID().Bare(), i, i),
				fmt.Sprintf("<iq type='get' id='p%d' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", i, domain),
			} {
				el, err := stanza.ParseBytes([]byte(xml))
				if err != nil {
					return err
				}
				if err := p[0].Send(el); err != nil {
					return fmt.Errorf("%s: %w", p[0].JID(), err)
				}
			}
		}
	}
}

// dial logs local in on the node over plain TCP.
func dial(t *testing.T, n *testnode.Node, local, password string) *xmppclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xmppTimeout)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: n.C2S, Domain: domain, Username: local, Password: password, Resource: "test"})
	if err != nil {
		t.Fatalf("XMPP login of %s on %s: %v", local, n.Cfg.Name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(t *testing.T, c *xmppclient.Client, xml string) {
	t.Helper()
	el, err := stanza.ParseBytes([]byte(xml))
	if err != nil {
		t.Fatalf("bad test XML %q: %v", xml, err)
	}
	if err := c.Send(el); err != nil {
		t.Fatalf("%s: send: %v", c.JID(), err)
	}
}

// expect waits for the message with the id.
func expect(t *testing.T, c *xmppclient.Client, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xmppTimeout)
	defer cancel()
	if _, err := c.Expect(ctx, func(el *stanza.Element) bool { return el.Name == "message" && el.ID() == id }); err != nil {
		t.Fatalf("%s: waiting for message %s: %v", c.JID(), id, err)
	}
}

// prerequisites checks for node, chromium and web/'s npm packages, and
// returns web/'s absolute path.
func prerequisites(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		testnode.Missing(t, "the dashboard test needs node (apt-get install nodejs): "+err.Error())
	}
	if _, err := os.Stat(chromium); err != nil {
		testnode.Missing(t, "the dashboard test needs Debian's chromium at "+chromium+" (apt-get install chromium): "+err.Error())
	}
	webDir, err := filepath.Abs(filepath.Join("..", "..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"playwright-core", "uplot"} {
		if _, err := os.Stat(filepath.Join(webDir, "node_modules", pkg, "package.json")); err != nil {
			testnode.Missing(t, "the dashboard test needs web/'s npm packages (npm ci --ignore-scripts --prefix web): "+err.Error())
		}
	}
	return webDir
}
