package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/componentclient"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// A push app server connected as a component to node 1 gets the
// notification for a message stored offline on node 2, and its answer
// finds its way back to node 2 (which counts the publish as accepted).
// Clients on either node reach the component, and it reaches them.
func TestComponentAcrossNodes(t *testing.T) {
	const domain, secret = "push.localhost", "component-secret"
	ports := []int{freePort(t), freePort(t)}
	nodes := startNodesWith(t, 2, func(i int) (string, []string) {
		return fmt.Sprintf("127.0.0.1:%d", ports[i]), []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[1-i])}
	}, func(c *config.Config) {
		c.Listeners.Component.Address = "127.0.0.1:0"
		c.Components = []config.Component{{Domain: domain, Secret: secret}}
	})
	e := &crossEnv{t: t, nodes: nodes, seq: new(atomic.Int32)}
	users := e.accounts("alice", "bob")

	ctx, cancel := context.WithTimeout(context.Background(), crossWait)
	defer cancel()
	app, err := componentclient.Dial(ctx, nodes[0].Addr("component").String(), domain, secret)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	entry := jid.MustParse(domain + "/component")
	if !testutil.Poll(crossSeen, func() bool { s := nodes[1].Router().Session(entry); return s != nil && !s.IsLocal() }) {
		t.Fatal("node2 never saw the component connected to node1")
	}
	// A second connection for the domain, on the other node: refused.
	if _, err := componentclient.Dial(ctx, nodes[1].Addr("component").String(), domain, secret); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("a second component for the domain on node2: %v, want <conflict/>", err)
	}

	alice := e.login(1, users[0], "phone")
	bob := e.login(1, users[1], "desk")

	// Client on node2 to the component on node1, and back.
	bob.send("<message to='bot@%s' id='b1'><body>hello bot</body></message>", domain)
	el, err := app.NextWithin(crossWait)
	if err != nil || el.ID() != "b1" || el.From() != bob.jid() {
		t.Fatalf("the component got %v, %v", el, err)
	}
	if err := app.SendRaw([]byte("<message from='bot@" + domain + "' to='" + bob.jid() + "' id='r1'><body>hello bob</body></message>")); err != nil {
		t.Fatal(err)
	}
	bob.expect("the component's answer", messageID("r1"))

	// Push: alice enables it on node2 and leaves.
	alice.send("<iq type='set' id='e1'><enable xmlns='urn:xmpp:push:0' jid='%s' node='n1'/></iq>", domain)
	if r := alice.expect("enable's result", func(el *stanza.Element) bool { return el.ID() == "e1" }); r.Type() != "result" {
		t.Fatalf("enable: %s", r)
	}
	_ = alice.c.Close()
	e.waitGone(users[0])

	bob.send("<message to='%s@%s' type='chat'><body>where are you?</body></message>", users[0], crossDomain)
	var publish *stanza.Element
	for publish == nil {
		el, err := app.NextWithin(crossWait)
		if err != nil {
			t.Fatalf("waiting for the notification: %v", err)
		}
		if el.Name == "iq" && el.Type() == "set" {
			publish = el
		}
	}
	if publish.From() != users[0]+"@"+crossDomain || !strings.Contains(publish.String(), "<value>"+bob.jid()+"</value>") {
		t.Fatalf("notification %s", publish)
	}
	if err := app.SendRaw([]byte("<iq type='result' id='" + publish.ID() + "' from='" + domain + "' to='" + publish.From() + "'/>")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, crossWait, func() bool {
		return strings.Contains(get(t, "http://"+nodes[1].HTTP()+"/metrics"), `parley_push_notifications_total{result="ok"} 1`+"\n")
	})
}
