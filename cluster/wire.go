package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Subjects of the membership protocol. Every node subscribes to
// subjectAll; one subscription keeps a publisher's heartbeats and its
// leave message in order.
const (
	subjectAll       = "parley.cluster.>"
	subjectHeartbeat = "parley.cluster.heartbeat"
	subjectLeave     = "parley.cluster.leave"
	// subjectProbe asks every node to send a heartbeat now, so that a
	// starting node learns the cluster without waiting a full interval.
	subjectProbe = "parley.cluster.probe"
)

// heartbeat is the JSON body on subjectHeartbeat. Unknown fields are
// ignored, so later versions may add some.
type heartbeat struct {
	Name     string    `json:"name"`
	ID       string    `json:"id"`
	Version  string    `json:"version,omitempty"`
	Sessions int       `json:"sessions"`
	Started  time.Time `json:"started"`
	Draining bool      `json:"draining,omitempty"`
	C2S      string    `json:"c2s,omitempty"`     // client address for redirects
	C2STLS   string    `json:"c2s_tls,omitempty"` // direct TLS client address
}

// leave is the JSON body on subjectLeave, and on subjectProbe (the
// prober's identity, for logs).
type leave struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// newInstanceID returns a random id for one run of a node; a restarted node
// has a new one.
func newInstanceID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// newer reports whether instance a is a later run than b: a later start
// time, the instance id breaking ties.
func newer(a, b Member) bool {
	if !a.Started.Equal(b.Started) {
		return a.Started.After(b.Started)
	}
	return a.ID > b.ID
}
