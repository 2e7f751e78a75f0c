package api_test

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/parley-im/parley/server"
)

type nodeInfo struct {
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Sessions int       `json:"sessions"`
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"last_seen"`
	Self     bool      `json:"self"`
	Draining bool      `json:"draining"`
}

// A server that is not clustered reports itself alone, with its load.
func TestClusterNodesSingle(t *testing.T) {
	e := start(t)
	e.addUser("alice")
	e.login("alice", "a", "")
	e.login("alice", "b", "")
	var list struct {
		Nodes []nodeInfo `json:"nodes"`
	}
	e.request("GET", "/api/v1/cluster/nodes", nil).ok(http.StatusOK, &list)
	host, _ := os.Hostname()
	if len(list.Nodes) != 1 {
		t.Fatalf("nodes %+v, want one", list.Nodes)
	}
	n := list.Nodes[0]
	if n.Name != host || n.Version != server.Version || n.Sessions != 2 || !n.Self || n.Draining ||
		n.Started.IsZero() || time.Since(n.Started) > time.Minute || n.LastSeen.Before(n.Started) {
		t.Fatalf("node %+v, want %s, version %s, 2 sessions, self, started just now", n, host, server.Version)
	}
}
