package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/testkit/webclient"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// webProxyConfig is the operators' HTTP-mode configuration, which the test
// runs.
const webProxyConfig = "../../deploy/haproxy/web.cfg"

// TestWebBehindProxy runs the committed deploy/haproxy/web.cfg in front of
// two nodes — TLS ended at HAProxy, plain HTTP to the nodes, which require
// TLS of their clients (starttls_required, the default) and so must
// believe the proxy's X-Forwarded-Proto — and chats through it over
// WebSocket (wss://) and over BOSH (https://, kept on one node by the
// balancer's cookie) with a client connected to a node over TCP. Host-meta
// fetched through the proxy names the proxy's https and wss URLs.
func TestWebBehindProxy(t *testing.T) {
	if _, err := os.Stat(haproxyBin); err != nil {
		missing(t, fmt.Sprintf("the web proxy test needs %s (apt-get install haproxy): %v", haproxyBin, err))
	}
	committed, err := os.ReadFile(webProxyConfig)
	if err != nil {
		t.Fatal(err)
	}
	dsn := testpg.Start(t)
	bin := parleyBinary(t)
	fc := startFixedCluster(t, bin, dsn, 2, nil)
	certPath, keyPath := fc.certPath, strings.TrimSuffix(fc.certPath, "cert.pem")+"key.pem"
	pemPath := filepath.Join(t.TempDir(), "proxy.pem")
	cert, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pemPath, append(cert, key...), 0o600); err != nil {
		t.Fatal(err)
	}
	front := fc.ports.addr()
	cfg := renderWebProxy(t, string(committed), front, pemPath, fc.addrs)
	path := filepath.Join(t.TempDir(), "web.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	haproxyCheck(t, path)
	startProcess(t, "haproxy", haproxyBin, "-f", path, "-db")
	tlsConf := &tls.Config{RootCAs: fc.roots, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: 10 * time.Second}
	eventually(t, 10*time.Second, func() error {
		resp, err := client.Get("https://" + front + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz through haproxy: %s", resp.Status)
		}
		return nil
	})

	password := "web-" + randomHex(t, 8)
	for _, u := range []string{"alice", "bob", "carol"} {
		fc.cfgs[0].addUser(t, u, password)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(user string, cfg xmppclient.Config) *xmppclient.Client {
		t.Helper()
		cfg.Domain, cfg.Username, cfg.Password = domain, user, password
		c, err := xmppclient.Dial(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	carol := dial("carol", xmppclient.Config{Addr: fc.addrs[1].c2s, Resource: "tcp", StartTLS: true, TLS: tlsConf})
	alice := dial("alice", xmppclient.Config{Addr: front, Resource: "ws",
		Dialer: webclient.WebSocket{URL: "wss://" + front + "/xmpp-websocket", TLS: tlsConf}})
	jar, _ := cookiejar.New(nil)
	bob := dial("bob", xmppclient.Config{Addr: front, Resource: "bosh",
		Dialer: &webclient.BOSH{URL: "https://" + front + "/http-bind", Domain: domain, HTTP: &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: tlsConf}}}})

	send := func(c *xmppclient.Client, to, body string) {
		t.Helper()
		el := stanza.New("message", stanza.NSClient, "to", to, "type", "chat").Append(stanza.New("body", stanza.NSClient).SetText(body))
		if err := c.Send(el); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(c *xmppclient.Client, from, body string) {
		t.Helper()
		m, err := c.Expect(ctx, func(el *stanza.Element) bool {
			b := el.Child("body", stanza.NSClient)
			return el.Name == "message" && b != nil && b.Text() == body
		})
		if err != nil {
			t.Fatalf("%s waiting for %q: %v", c.JID(), body, err)
		}
		if m.From() != from {
			t.Errorf("%q from %s, want %s", body, m.From(), from)
		}
	}
	for _, c := range []*xmppclient.Client{alice, bob, carol} {
		if err := c.Send(stanza.New("presence", stanza.NSClient)); err != nil {
			t.Fatal(err)
		}
	}
	// A message to a session the sender's node does not know yet is
	// stored and handed over to the node that has it (offline hand-over):
	// nothing to wait for.
	send(alice, carol.JID().String(), "wss to tcp")
	expect(carol, alice.JID().String(), "wss to tcp")
	send(carol, alice.JID().String(), "tcp to wss")
	expect(alice, carol.JID().String(), "tcp to wss")
	send(bob, carol.JID().String(), "bosh to tcp")
	expect(carol, bob.JID().String(), "bosh to tcp")
	send(carol, bob.JID().String(), "tcp to bosh")
	expect(bob, carol.JID().String(), "tcp to bosh")
	t.Log("WebSocket and BOSH clients chatted with a TCP client through HAProxy ending TLS")

	resp, err := client.Get("https://" + front + "/.well-known/host-meta.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var jrd struct {
		Links []struct{ Rel, Href string } `json:"links"`
	}
	if err := json.Unmarshal(b, &jrd); err != nil {
		t.Fatalf("host-meta.json through haproxy: %v\n%s", err, b)
	}
	want := map[string]string{
		"urn:xmpp:alt-connections:websocket": "wss://" + front + "/xmpp-websocket",
		"urn:xmpp:alt-connections:xbosh":     "https://" + front + "/http-bind",
	}
	for _, l := range jrd.Links {
		if want[l.Rel] != l.Href {
			t.Errorf("host-meta through haproxy: %s -> %s, want %s", l.Rel, l.Href, want[l.Rel])
		}
		delete(want, l.Rel)
	}
	if len(want) > 0 {
		t.Errorf("host-meta through haproxy lacks %v", want)
	}
}

var (
	webBindRE   = regexp.MustCompile(`^(\s+)bind\s+\S+\s+ssl\s+crt\s+\S+(.*)$`)
	webServerRE = regexp.MustCompile(`^(\s+)server\s+(\S+)\s+\S+(.*)$`)
)

// renderWebProxy is the committed configuration with the bind on the
// test's port and certificate, the servers at the nodes' HTTP listeners,
// logging to stderr instead of the global section's daemon plumbing, and
// faster health checks. Anything unexpected fails the test.
func renderWebProxy(t *testing.T, committed, front, pem string, addrs []nodeAddrs) string {
	t.Helper()
	var out []string
	section := ""
	servers := 0
	for _, line := range strings.Split(committed, "\n") {
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			if section == "global" {
				out = append(out, "global", "    log stderr format raw local0")
				continue
			}
		}
		switch {
		case section == "global":
			continue
		case webBindRE.MatchString(line):
			m := webBindRE.FindStringSubmatch(line)
			line = m[1] + "bind " + front + " ssl crt " + pem + m[2]
		case webServerRE.MatchString(line):
			m := webServerRE.FindStringSubmatch(line)
			if servers >= len(addrs) {
				continue // more servers in the example than nodes here
			}
			line = m[1] + "server " + addrs[servers].name + " " + addrs[servers].http + strings.Replace(m[3], "cookie "+m[2], "cookie "+addrs[servers].name, 1)
			servers++
		case strings.Contains(line, "default-server"):
			line = "    default-server inter 200ms fall 2 rise 2"
		}
		out = append(out, line)
	}
	if servers != len(addrs) {
		t.Fatalf("%s has %d server lines, want at least %d", webProxyConfig, servers, len(addrs))
	}
	return strings.Join(out, "\n")
}

// startProcess runs a helper process for the test, stopped by PID at the
// end; its output is shown if the test failed.
func startProcess(t *testing.T, label, name string, args ...string) {
	t.Helper()
	log := &syncBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", label, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", label, log.String())
		}
	})
}
