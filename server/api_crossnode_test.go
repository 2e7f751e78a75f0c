package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

const apiToken = "cluster-test-token-0123456789abcdef"

// apiCall sends a request to a node's admin API and decodes the JSON
// answer into out (unless nil); it returns the status.
func apiCall(t *testing.T, node string, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+node+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: crossWait}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type apiSession struct {
	JID       string `json:"jid"`
	Node      string `json:"node"`
	Local     bool   `json:"local"`
	Available bool   `json:"available"`
	Priority  int    `json:"priority"`
	Show      string `json:"show"`
}

// The admin API of one node sees and acts on the whole cluster: it lists
// the sessions of both nodes and both nodes with their load, kicks a
// session held by the other node, deletes an account whose session is
// there, and sends a message to a user connected there.
func TestAdminAPICrossNode(t *testing.T) {
	ports := []int{freePort(t), freePort(t)}
	nodes := startNodesWith(t, 2, func(i int) (string, []string) {
		return fmt.Sprintf("127.0.0.1:%d", ports[i]), []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[1-i])}
	}, func(c *config.Config) {
		c.API.Enabled = true
		c.API.Tokens = []string{apiToken}
	})
	e := &crossEnv{t: t, nodes: nodes, seq: new(atomic.Int32)}
	api := nodes[0].HTTP()
	u := e.accounts("alice", "bob", "carol")
	alice, bob, carol := u[0], u[1], u[2]
	e.relate(alice, bob)

	a := e.login(1, alice, "phone")
	a.available(3)
	e.waitAvailable(a, 3)
	b := e.online(0, bob, "pc", 0)
	c := e.login(1, carol, "tablet")

	// Sessions: all three, with the node holding each.
	var list struct{ Sessions []apiSession }
	if st := apiCall(t, api, "GET", "/api/v1/sessions", nil, &list); st != http.StatusOK {
		t.Fatalf("GET sessions: %d", st)
	}
	want := []apiSession{
		{JID: a.jid(), Node: "node2", Available: true, Priority: 3},
		{JID: b.jid(), Node: "node1", Local: true, Available: true},
		{JID: c.jid(), Node: "node2"},
	}
	slices.SortFunc(want, func(x, y apiSession) int { return strings.Compare(x.JID, y.JID) })
	if !slices.Equal(list.Sessions, want) {
		t.Fatalf("sessions as node1 sees them:\n%+v\nwant\n%+v", list.Sessions, want)
	}

	// Nodes, with their load (sessions travel with the heartbeats).
	type apiNode struct {
		Name     string
		Sessions int
		Self     bool
	}
	var nl struct{ Nodes []apiNode }
	wantNodes := []apiNode{{"node1", 1, true}, {"node2", 2, false}}
	if !testutil.Poll(crossSeen, func() bool {
		return apiCall(t, api, "GET", "/api/v1/cluster/nodes", nil, &nl) == http.StatusOK && slices.Equal(nl.Nodes, wantNodes)
	}) {
		t.Fatalf("nodes %+v, want %+v", nl.Nodes, wantNodes)
	}

	// A headline from the server to alice's bare JID, sent through node1,
	// reaches her available session on node2.
	var sent struct{ ID string }
	if st := apiCall(t, api, "POST", "/api/v1/messages", map[string]string{"to": a.bare(), "body": "maintenance at 22:00", "type": "headline"}, &sent); st != http.StatusAccepted {
		t.Fatalf("send: %d", st)
	}
	if m := a.expect("the server's headline", messageID(sent.ID)); m.From() != crossDomain || m.Type() != "headline" {
		t.Fatalf("alice got %s", m)
	}

	// Kick alice, whose session is on node2, through node1.
	if st := apiCall(t, api, "DELETE", "/api/v1/sessions/"+a.jid(), nil, nil); st != http.StatusNoContent {
		t.Fatalf("kick: %d", st)
	}
	if cond := a.streamError(); cond != stanza.StreamPolicyViolation {
		t.Fatalf("alice's stream ended with %q, want policy-violation", cond)
	}
	e.waitGone(alice)
	b.expect("alice's unavailable presence", presenceFrom(a.jid(), "unavailable"))
	var apiErr struct{ Error struct{ Code string } }
	if st := apiCall(t, api, "DELETE", "/api/v1/sessions/"+a.jid(), nil, &apiErr); st != http.StatusNotFound || apiErr.Error.Code != "session-not-found" {
		t.Fatalf("kicking again: %d %+v, want 404 session-not-found", st, apiErr)
	}

	// A message from the server to carol's session on node2 (she sent no
	// presence: to her bare JID it would go offline), sent through node1.
	if st := apiCall(t, api, "POST", "/api/v1/messages", map[string]string{"to": c.jid(), "body": "from the admin", "type": "chat"}, &sent); st != http.StatusAccepted {
		t.Fatalf("send: %d", st)
	}
	m := c.expect("the server's message", messageID(sent.ID))
	if m.From() != crossDomain || m.Child("body", stanza.NSClient).Text() != "from the admin" {
		t.Fatalf("carol got %s", m)
	}

	// Delete carol through node1: her session on node2 ends, the
	// account is gone.
	if st := apiCall(t, api, "DELETE", "/api/v1/users/"+c.bare(), nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if cond := c.streamError(); cond != stanza.StreamNotAuthorized {
		t.Fatalf("carol's stream ended with %q, want not-authorized", cond)
	}
	e.waitGone(carol)
	if _, err := nodes[1].Store().Account(context.Background(), c.bare()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("carol's account: %v", err)
	}
	if st := apiCall(t, api, "GET", "/api/v1/sessions", nil, &list); st != http.StatusOK || len(list.Sessions) != 1 || list.Sessions[0].JID != b.jid() {
		t.Fatalf("sessions at the end: %d %+v, want bob's only", st, list.Sessions)
	}
}
