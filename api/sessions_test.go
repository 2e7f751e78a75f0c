package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/componentclient"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/stanza"
)

type sessionInfo struct {
	JID       string     `json:"jid"`
	Node      string     `json:"node"`
	Local     bool       `json:"local"`
	Available bool       `json:"available"`
	Priority  int        `json:"priority"`
	Show      string     `json:"show"`
	Status    string     `json:"status"`
	Bound     *time.Time `json:"bound"`
}

func (e *env) sessions() []sessionInfo {
	e.t.Helper()
	var list struct {
		Sessions []sessionInfo `json:"sessions"`
	}
	e.request("GET", "/api/v1/sessions", nil).ok(http.StatusOK, &list)
	if list.Sessions == nil {
		e.t.Fatal("sessions: null, want a list")
	}
	return list.Sessions
}

func (e *env) nodeName() string {
	e.t.Helper()
	var nodes struct {
		Nodes []struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	e.request("GET", "/api/v1/cluster/nodes", nil).ok(http.StatusOK, &nodes)
	if len(nodes.Nodes) != 1 {
		e.t.Fatalf("nodes: %+v", nodes)
	}
	return nodes.Nodes[0].Name
}

func TestListSessions(t *testing.T) {
	e := start(t)
	if s := e.sessions(); len(s) != 0 {
		t.Fatalf("no one logged in, sessions: %+v", s)
	}
	e.addUser("alice")
	e.addUser("bob")
	before := time.Now().Add(-time.Second)
	phone := e.login("alice", "phone", "")
	phone.available("<show>away</show><status>at lunch</status><priority>5</priority>")
	e.login("alice", "laptop", "")
	bob := e.login("bob", "pc", "")
	bob.available("<priority>-1</priority>")

	self := e.nodeName()
	got := e.sessions()
	want := []sessionInfo{
		{JID: "alice@localhost/laptop", Node: self, Local: true},
		{JID: "alice@localhost/phone", Node: self, Local: true, Available: true, Priority: 5, Show: "away", Status: "at lunch"},
		{JID: "bob@localhost/pc", Node: self, Local: true, Available: true, Priority: -1},
	}
	if len(got) != len(want) {
		t.Fatalf("sessions %+v, want %+v", got, want)
	}
	for i := range want {
		b := got[i].Bound
		if b == nil || b.Before(before) || b.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: bound %v, want about now", got[i].JID, b)
		}
		got[i].Bound = nil
		if got[i] != want[i] {
			t.Errorf("session %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// A component's entry in the directory is not a client session.
func TestListSessionsWithoutComponents(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.Listeners.Component.Address = "127.0.0.1:0"
		c.Components = []config.Component{{Domain: "push.localhost", Secret: "s3cret"}}
	})
	comp, err := componentclient.Dial(t.Context(), e.srv.Addr("component").String(), "push.localhost", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer comp.Close()
	testutil.Eventually(t, wait, func() bool { return len(e.srv.Router().All()) == 1 })
	if s := e.sessions(); len(s) != 0 {
		t.Fatalf("sessions %+v, want none", s)
	}
	e.request("DELETE", "/api/v1/sessions/push.localhost/component", nil).fails(400, "invalid-jid")
}

func TestKickSession(t *testing.T) {
	e := start(t)
	e.addUser("alice")
	phone := e.login("alice", "phone", "")
	laptop := e.login("alice", "laptop", "")
	slash := e.login("alice", "work/desk", "")

	e.request("DELETE", "/api/v1/sessions/alice@localhost/phone", nil).ok(http.StatusNoContent, nil)
	se := phone.streamError()
	if se.Condition != stanza.StreamPolicyViolation || se.Text != "kicked by an administrator" {
		t.Fatalf("kicked with %+v, want policy-violation, kicked by an administrator", se)
	}
	if e.srv.Router().Session(phone.c.JID()) != nil {
		t.Fatal("the kicked session is still in the directory")
	}
	// A resource with a '/', encoded or not.
	e.request("DELETE", "/api/v1/sessions/"+url.PathEscape("alice@localhost/work/desk"), nil).ok(http.StatusNoContent, nil)
	if se := slash.streamError(); se.Condition != stanza.StreamPolicyViolation {
		t.Fatalf("kicked with %+v", se)
	}
	left := e.sessions()
	if len(left) != 1 || left[0].JID != "alice@localhost/laptop" {
		t.Fatalf("after the kicks: %+v, want the laptop only", left)
	}
	laptop.none("stream end", func(*stanza.Element) bool { return false })

	e.request("DELETE", "/api/v1/sessions/alice@localhost/phone", nil).fails(404, "session-not-found", "no session alice@localhost/phone")
	e.request("DELETE", "/api/v1/sessions/nobody@localhost/x", nil).fails(404, "session-not-found")
	e.request("DELETE", "/api/v1/sessions/alice@localhost", nil).fails(400, "invalid-jid", "full JID")
	e.request("DELETE", "/api/v1/sessions/localhost/x", nil).fails(400, "invalid-jid", "full JID")
	e.request("DELETE", "/api/v1/sessions/a@@b/c", nil).fails(400, "invalid-jid", "not a valid JID")
	e.request("DELETE", "/api/v1/sessions/alice@example.org/x", nil).fails(400, "domain-not-served", "example.org")
	e.request("DELETE", "/api/v1/sessions/", nil).fails(400, "invalid-jid", "full JID")
	if got := e.sessions(); len(got) != 1 || !slices.ContainsFunc(got, func(s sessionInfo) bool { return strings.HasSuffix(s.JID, "/laptop") }) {
		t.Fatalf("the failures changed the sessions: %+v", got)
	}
}
