package api

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Node is one node of the cluster with its load, in GET
// /api/v1/cluster/nodes.
type Node struct {
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Sessions int       `json:"sessions"` // client sessions bound to it
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"last_seen"` // its last heartbeat
	Self     bool      `json:"self"`      // the node that answered
	Draining bool      `json:"draining"`
	// Where clients reach it (cluster.client_address), if it says.
	ClientAddress    string `json:"client_address,omitempty"`
	ClientTLSAddress string `json:"client_tls_address,omitempty"`
}

// nodeList is the body of GET /api/v1/cluster/nodes.
type nodeList struct {
	Nodes []Node `json:"nodes"`
}

func (a *API) nodes() []Node {
	var list []Node
	if a.cfg.Nodes != nil {
		list = a.cfg.Nodes()
	}
	slices.SortFunc(list, func(x, y Node) int { return strings.Compare(x.Name, y.Name) })
	return list
}

// self is this node's name.
func (a *API) self() string {
	for _, n := range a.nodes() {
		if n.Self {
			return n.Name
		}
	}
	return ""
}

func (a *API) clusterNodes(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, nodeList{Nodes: append([]Node{}, a.nodes()...)})
	return nil
}
