package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const nsSM = "urn:xmpp:sm:3"

// dialNode logs user in on n over STARTTLS (trusting n's self-signed
// certificate), stopping after stage.
func dialNode(t *testing.T, n *node, user, password, resource string, stage xmppclient.Stage) *xmppclient.Client {
	t.Helper()
	pem, err := os.ReadFile(n.cert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{
		Addr: n.c2s, Domain: domain, Username: user, Password: password, Resource: resource,
		TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, StartTLS: true, StopAfter: stage,
	})
	if err != nil {
		t.Fatalf("%s on %s: %v", user, n.label, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func sendXML(t *testing.T, c *xmppclient.Client, format string, args ...any) {
	t.Helper()
	el, err := stanza.ParseBytes(fmt.Appendf(nil, format, args...))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(el); err != nil {
		t.Fatalf("%s: send: %v", c.JID(), err)
	}
}

func expectEl(t *testing.T, c *xmppclient.Client, what string, match func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	el, err := c.Expect(ctx, match)
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v", c.JID(), what, err)
	}
	return el
}

func body(el *stanza.Element) string {
	if b := el.Child("body", stanza.NSClient); b != nil {
		return b.Text()
	}
	return ""
}

func bodyIs(s string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Name == "message" && body(el) == s }
}

// TestResumeAfterNodeKilled: alice's stream management session lives on
// n1; she has acknowledged some of bob's messages and not others when n1
// is killed with SIGKILL, and bob sends more while n1 is gone. She
// reconnects to n2 and resumes the session: n2 takes it over from storage,
// answers with the count of her stanzas that were made durable, and she
// gets every message she had not acknowledged, and those sent meanwhile —
// at most repeated under the same stanza-id, never missing — and carries
// on chatting as the same full JID.
func TestResumeAfterNodeKilled(t *testing.T) {
	dsn := testpg.Start(t)
	bin := parleyBinary(t)
	cfgs := newNodeConfigs(t, bin, dsn, 2)
	nodes := []*node{cfgs[0].start(t, 1), cfgs[1].start(t, 1)}
	for _, n := range nodes {
		n.waitReady(t)
	}
	waitMembers(t, joinTimeout, nodes, "n1", "n2")
	n1, n2 := nodes[0], nodes[1]
	password := "takeover-" + randomHex(t, 8)
	for _, u := range []string{"alice", "bob"} {
		cfgs[0].addUser(t, u, password)
	}

	bob := dialNode(t, n2, "bob", password, "pc", xmppclient.StageBind)
	sendXML(t, bob, "<presence/>")
	expectEl(t, bob, "bob's presence echo", func(el *stanza.Element) bool { return el.Name == "presence" })

	alice := dialNode(t, n1, "alice", password, "phone", xmppclient.StageBind)
	sendXML(t, alice, "<enable xmlns='%s' resume='true'/>", nsSM)
	id := expectEl(t, alice, "<enabled/>", func(el *stanza.Element) bool { return el.Is("enabled", nsSM) }).Attr("id")
	sendXML(t, alice, "<presence/>")
	expectEl(t, alice, "her presence echo", func(el *stanza.Element) bool { return el.Name == "presence" }) // received: 1

	for i := 1; i <= 4; i++ {
		sendXML(t, bob, "<message to='alice@localhost/phone' type='chat' id='m%d'><body>m%d</body></message>", i, i)
		expectEl(t, alice, fmt.Sprintf("m%d", i), bodyIs(fmt.Sprintf("m%d", i)))
	} // received: 5
	// She acknowledges her presence, m1 and m2; m3 and m4 stay
	// unacknowledged.
	if err := alice.SendRaw([]byte("<a xmlns='urn:xmpp:sm:3' h='3'/>")); err != nil {
		t.Fatal(err)
	}
	// One message of hers, acknowledged by the server: with her presence,
	// two stanzas the server has made durable.
	sendXML(t, alice, "<message to='bob@localhost' type='chat' id='a1'><body>a1</body></message>")
	if err := alice.SendRaw([]byte("<r xmlns='urn:xmpp:sm:3'/>")); err != nil {
		t.Fatal(err)
	}
	if a := expectEl(t, alice, "the server's <a/>", func(el *stanza.Element) bool { return el.Is("a", nsSM) }); a.Attr("h") != "2" {
		t.Fatalf("server acknowledged h=%s, want 2", a.Attr("h"))
	}
	expectEl(t, bob, "alice's a1", bodyIs("a1"))
	waitAcked(t, nodes...)

	n1.kill(t)
	killed := time.Now()
	t.Logf("killed %s", n1.label)
	for i := 5; i <= 6; i++ {
		sendXML(t, bob, "<message to='alice@localhost/phone' type='chat' id='m%d'><body>m%d</body></message>", i, i)
	}

	again := dialNode(t, n2, "alice", password, "", xmppclient.StageAuth)
	sendXML(t, again, "<resume xmlns='%s' previd='%s' h='3'/>", nsSM, id)
	r := expectEl(t, again, "<resumed/> (or <failed/>)", func(el *stanza.Element) bool {
		return el.Space == nsSM && (el.Name == "resumed" || el.Name == "failed")
	})
	if r.Name != "resumed" {
		t.Fatalf("resumption after the node died: got %s", r)
	}
	t.Logf("resumed on %s %v after the kill", n2.label, time.Since(killed).Round(time.Millisecond))
	if r.Attr("h") != "2" {
		t.Errorf("<resumed h=%s/>, want 2 (her presence and a1 were durable)", r.Attr("h"))
	}

	// Every message she had not acknowledged, and those sent while she was
	// away, arrive; a repeat carries the same stanza-id as the first copy.
	idOf := map[string]string{}
	for _, want := range []string{"m3", "m4", "m5", "m6"} {
		for idOf[want] == "" {
			m := expectEl(t, again, want, func(el *stanza.Element) bool { return el.Name == "message" && body(el) != "" })
			b := body(m)
			var sid string
			for _, c := range m.Elements() {
				if c.Is("stanza-id", "urn:xmpp:sid:0") && c.Attr("by") == "alice@localhost" {
					sid = c.Attr("id")
				}
			}
			if sid == "" {
				t.Fatalf("%s arrived without alice's stanza-id: %s", b, m)
			}
			if prev, ok := idOf[b]; ok && prev != sid {
				t.Fatalf("%s arrived under two stanza-ids, %s and %s", b, prev, sid)
			}
			idOf[b] = sid
		}
	}
	if len(idOf) > 6 {
		t.Errorf("unexpected messages: %v", idOf)
	}

	// The session goes on, on n2, under the same full JID.
	sendXML(t, again, "<message to='bob@localhost' type='chat' id='a2'><body>a2</body></message>")
	m := expectEl(t, bob, "alice's a2", bodyIs("a2"))
	if m.From() != "alice@localhost/phone" {
		t.Errorf("a2 from %s, want alice@localhost/phone", m.From())
	}
	sendXML(t, bob, "<message to='alice@localhost/phone' type='chat' id='m7'><body>m7</body></message>")
	expectEl(t, again, "m7", bodyIs("m7"))

	metrics := httpGet(t, "http://"+n2.http+"/metrics")
	// Resumed before the cluster declared n1 dead: a drain now would wait
	// for clients to resume on n1.
	waitMembers(t, joinTimeout, []*node{n2}, "n2")
	if !strings.Contains(metrics, `parley_sm_resumed_total{from="takeover"} 1`) {
		t.Errorf("n2 /metrics lacks a takeover resumption")
	}
	n2.stop(t)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitAcked waits until no node waits for another's acknowledgement of
// stanzas it forwarded, so that a kill that follows does not cut one in
// flight (which the survivors would route again: at least once).
func waitAcked(t *testing.T, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		eventually(t, 5*time.Second, func() error {
			if m := httpGet(t, "http://"+n.http+"/metrics"); !strings.Contains(m, "parley_cluster_unacked_batches 0\n") {
				return fmt.Errorf("%s still waits for acknowledgements", n.label)
			}
			return nil
		})
	}
}
