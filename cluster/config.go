package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultHeartbeat    = time.Second
	DefaultDeadAfter    = 5 * time.Second
	DefaultClientListen = "127.0.0.1:0"
)

// maxNameLen bounds node names; a name is a NATS subject token
// (parley.node.<name> in later work) and appears in every heartbeat.
const maxNameLen = 64

// ErrInvalidConfig is wrapped by every error from Config.Validate.
var ErrInvalidConfig = errors.New("cluster: invalid config")

// Config describes one node. The zero value of every optional field takes
// its default; Start applies the defaults and validates.
type Config struct {
	// NodeName is unique in the cluster: letters, digits, '-' and '_' only
	// (it becomes a NATS subject token).
	NodeName string

	// Listen is host:port for the embedded NATS server's route listener,
	// e.g. "10.0.0.1:6222"; port 0 picks a free port. Empty means the
	// embedded server takes no routes (a single node), or, with NATSURL
	// set, that there is no embedded server at all.
	//
	// Without Secret or RouteTLS the route port accepts any node: it must
	// then only be reachable on a private network.
	Listen string

	// ClientListen is host:port for the embedded server's client port,
	// default 127.0.0.1:0. This node's own client connects in-process and
	// does not use it; it is there for operators' tools (nats CLI). Other
	// nodes reach this one through routes, never through this port.
	ClientListen string

	// Secret, when set, is required of every node that routes to this
	// one (NATS cluster authorization): nodes without it cannot join.
	// Every node of a cluster has the same secret. It does not encrypt:
	// see RouteTLS.
	Secret string

	// RouteTLS, when set, is the TLS configuration of the routes: both
	// directions, normally with the node's certificate, the cluster's CA
	// as RootCAs and ClientCAs, and client certificates required.
	RouteTLS *tls.Config

	// Peers are route URLs of other nodes' embedded servers, such as
	// "nats://10.0.0.2:6222". One reachable peer is enough: the NATS
	// servers gossip the rest of the cluster to each other.
	Peers []string

	// NATSURL, if set, connects to an external NATS cluster instead of
	// embedding a server (comma-separated URLs are allowed). Listen and
	// Peers must then be empty.
	NATSURL string

	// Heartbeat is how often this node announces itself (default 1s).
	Heartbeat time.Duration

	// DeadAfter is how long a node may stay silent before it is declared
	// dead (default 5s). It must be at least twice Heartbeat. A dead node
	// is noticed within DeadAfter plus a quarter of Heartbeat.
	DeadAfter time.Duration

	// JoinWait is how long Start listens to the cluster before this node
	// announces itself (default 2 × Heartbeat): it learns the members and
	// refuses to start if a live node already has this name.
	JoinWait time.Duration

	// Version is reported in heartbeats (the binary's version).
	Version string

	// Sessions reports the current session count for heartbeats; nil
	// reports 0. It is called from the node's own goroutines and from
	// Members, and must not call back into the Node.
	Sessions func() int

	// Draining reports whether the node is draining (it accepts no
	// clients); nil reports false. Same rules as Sessions.
	Draining func() bool

	// ClientAddr and ClientTLSAddr are the host:port clients may be
	// redirected to (see-other-host) to reach this node, by STARTTLS and
	// by direct TLS; empty when the node is not reachable directly.
	ClientAddr, ClientTLSAddr string

	// Log receives the node's and the embedded NATS server's messages
	// (NATS at warn level and above; its notices at debug). Nil discards.
	Log *slog.Logger
}

// withDefaults returns c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.DeadAfter == 0 {
		c.DeadAfter = DefaultDeadAfter
	}
	if c.JoinWait == 0 {
		c.JoinWait = 2 * c.Heartbeat
	}
	if c.ClientListen == "" && c.NATSURL == "" {
		c.ClientListen = DefaultClientListen
	}
	if c.Draining == nil {
		c.Draining = func() bool { return false }
	}
	if c.Sessions == nil {
		c.Sessions = func() int { return 0 }
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// embedded reports whether this node runs its own NATS server.
func (c Config) embedded() bool { return c.NATSURL == "" }

// Validate checks a Config after defaults have been applied (Start does
// both). Every error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if err := validName(c.NodeName); err != nil {
		return bad("node name %q: %v", c.NodeName, err)
	}
	if c.Heartbeat <= 0 {
		return bad("heartbeat %v must be positive", c.Heartbeat)
	}
	if c.DeadAfter < 2*c.Heartbeat {
		return bad("dead_after %v must be at least twice heartbeat %v", c.DeadAfter, c.Heartbeat)
	}
	if c.JoinWait < 0 {
		return bad("join_wait %v must not be negative", c.JoinWait)
	}
	if !c.embedded() {
		if c.Listen != "" || len(c.Peers) > 0 || c.ClientListen != "" {
			return bad("listen, client_listen and peers are for the embedded server; nats_url replaces it")
		}
		return nil
	}
	if len(c.Peers) > 0 && c.Listen == "" {
		return bad("peers need a route listener (listen)")
	}
	if c.Listen != "" {
		if _, _, err := splitHostPort(c.Listen); err != nil {
			return bad("listen %q: %v", c.Listen, err)
		}
	}
	if _, _, err := splitHostPort(c.ClientListen); err != nil {
		return bad("client_listen %q: %v", c.ClientListen, err)
	}
	for _, p := range c.Peers {
		u, err := url.Parse(p)
		if err != nil || u.Scheme != "nats" || u.Port() == "" {
			return bad("peer %q: want nats://host:port", p)
		}
	}
	return nil
}

// validName accepts 1-64 letters, digits, '-' and '_': a NATS subject
// token with no wildcard and no separator.
func validName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("longer than %d bytes", maxNameLen)
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return fmt.Errorf("character %q not allowed (letters, digits, '-', '_')", r)
		}
	}
	return nil
}

// splitHostPort parses host:port with a numeric port (0 = any free port).
func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	return host, port, nil
}
