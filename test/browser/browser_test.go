// Package browser runs Parley's web chat (Converse.js, served at / by the
// HTTP listener) in a real browser against a real cluster: Debian's
// chromium, driven by playwright-core from web/node_modules, logs two
// users in on two different nodes, and they chat through the UI.
//
// It builds cmd/parley once, starts two nodes sharing one throwaway
// PostgreSQL (internal/testkit/testpg) with NATS routes on loopback, each serving
// the repository's web/ directory, creates the accounts with the CLI and
// makes them each other's contacts in storage, then runs webchat.mjs with
// a deadline. The script saves screenshots under test-artifacts/browser/
// at the repository's root; the test prints their paths.
//
// Needs node and npm (Debian: nodejs npm), chromium at /usr/bin/chromium
// (Debian: chromium) and PostgreSQL's binaries (Debian: postgresql); it
// runs `npm ci` in web/ if playwright-core or converse.js is missing.
// Without them the test skips, unless CI is set, when it fails and says
// what to install. On failure it shows the script's output (with each
// page's console), and each node's log.
package browser

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testnode"
	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

const (
	chromium = "/usr/bin/chromium" // Debian's
	domain   = "localhost"

	joinTimeout   = 10 * time.Second // started nodes to a full member list
	scriptTimeout = 90 * time.Second // webchat.mjs, all of it
)

func TestMain(m *testing.M) { os.Exit(testnode.Run(m)) }

// TestWebChatAcrossNodes: alice opens the web chat of n1 and bob that of
// n2, in two browser contexts; each logs in through Converse's form and
// finds the other in the roster; they exchange messages both ways and see
// them in their chat windows. Then alice logs out and, in a fresh browser
// (nothing cached), logs in again and gets the conversation back from the
// archive. No page loads anything from anywhere but its node.
func TestWebChatAcrossNodes(t *testing.T) {
	webDir := prerequisites(t)
	dsn := testpg.Start(t) // skips, or fails under CI, without PostgreSQL
	bin := testnode.Binary(t)
	begin := time.Now()

	// SIGTERM drains, waiting for sessions that wait for their client to
	// resume them (a browser closed without logging out) up to this bound.
	cfgs := testnode.Cluster(t, bin, dsn, 2, "PARLEY_CLUSTER_DRAIN_TIMEOUT=5s", "PARLEY_LISTENERS_HTTP_WEB_DIR="+webDir)
	nodes := make([]*testnode.Node, len(cfgs))
	for i, cfg := range cfgs {
		nodes[i] = cfg.Start(t)
	}
	for _, n := range nodes {
		n.WaitReady(t)
	}
	testnode.WaitMembers(t, joinTimeout, nodes, "n1", "n2")
	t.Logf("two nodes see each other, %v after the start", time.Since(begin).Round(time.Millisecond))

	password := "browser-" + testnode.RandomHex(t, 8)
	for _, u := range []string{"alice", "bob", "carol"} {
		cfgs[0].AddUser(t, u+"@"+domain, password)
	}
	befriend(t, dsn, "alice", "bob")
	befriend(t, dsn, "bob", "carol")
	echo(t, nodes[0], password)

	artifacts, err := filepath.Abs(filepath.Join("..", "..", "test-artifacts", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	// Only this run's screenshots: none left from an earlier failure.
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	out := testnode.RunScript(t, scriptTimeout, "webchat.mjs",
		"--web-dir", webDir, "--chromium", chromium, "--artifacts", artifacts,
		"--alice-url", "http://"+nodes[0].HTTP+"/", "--bob-url", "http://"+nodes[1].HTTP+"/?transport=bosh",
		"--domain", domain, "--password", password)
	var shots []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "screenshot "); ok {
			shots = append(shots, p)
		}
	}
	if len(shots) < 5 {
		t.Errorf("want screenshots after login and after the chat for both users, and of the history; got %v", shots)
	}
	t.Logf("screenshots:\n%s", strings.Join(shots, "\n"))
	testnode.StopAll(t, nodes)
	t.Logf("passed in %v", time.Since(begin).Round(time.Millisecond))
}

// prerequisites checks for node, npm and chromium, installs web/'s npm
// packages if they are missing, and returns web/'s absolute path.
func prerequisites(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			testnode.Missing(t, "the browser test needs node and npm (apt-get install nodejs npm): "+err.Error())
		}
	}
	if _, err := os.Stat(chromium); err != nil {
		testnode.Missing(t, "the browser test needs Debian's chromium at "+chromium+" (apt-get install chromium): "+err.Error())
	}
	webDir, err := filepath.Abs(filepath.Join("..", "..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"playwright-core", "converse.js"} {
		if _, err := os.Stat(filepath.Join(webDir, "node_modules", pkg, "package.json")); err == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
		cmd.Dir = webDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in web/: %v\n%s", err, out)
		}
		break
	}
	return webDir
}

// befriend makes a and b each other's contacts with mutual presence
// subscriptions, in the nodes' shared database, before either logs in:
// the test is about the web chat, not the subscription handshake.
func befriend(t *testing.T, dsn, a, b string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := storage.Open(ctx, config.DriverPostgres, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, p := range [][2]string{{a, b}, {b, a}} {
		it := storage.RosterItem{Contact: p[1] + "@" + domain, Name: p[1], Subscription: storage.SubBoth}
		if _, err := st.PutRosterItem(ctx, p[0]+"@"+domain, it); err != nil {
			t.Fatalf("roster of %s: %v", p[0], err)
		}
	}
}

// echo logs carol in on n over TCP (STARTTLS) and has her answer every
// chat message "ping X" with "pong X", until the test ends: the TCP
// client bob's BOSH page chats with.
func echo(t *testing.T, n *testnode.Node, password string) {
	t.Helper()
	pem, err := os.ReadFile(n.Cert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: n.C2S, Domain: domain, Username: "carol", Password: password,
		Resource: "tcp", StartTLS: true, TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatalf("carol over TCP: %v", err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := c.StartReader(rctx, func(el *stanza.Element) {
		b := el.Child("body", stanza.NSClient)
		if el.Name != "message" || b == nil || !strings.HasPrefix(b.Text(), "ping ") {
			return
		}
		reply := stanza.New("message", stanza.NSClient, "to", el.From(), "type", "chat").
			Append(stanza.New("body", stanza.NSClient).SetText("pong " + strings.TrimPrefix(b.Text(), "ping ")))
		_ = c.Send(reply)
	})
	if err := c.Send(stanza.New("presence", stanza.NSClient)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		<-done
		_ = c.Close()
	})
}
