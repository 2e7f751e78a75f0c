package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parley-im/parley/internal/xmppclient"
)

// ErrConfig reports a Config that cannot run.
var ErrConfig = errors.New("bench: bad config")

// Phase is one measurement step. Phases always run in the order of Phases.
type Phase string

// The phases, in the order they run.
const (
	PhaseRegister   Phase = "register"
	PhaseLogin      Phase = "login"
	PhaseIdle       Phase = "idle"
	PhaseThroughput Phase = "throughput"
	PhaseLatency    Phase = "latency"
)

// Phases lists every phase in running order.
var Phases = []Phase{PhaseRegister, PhaseLogin, PhaseIdle, PhaseThroughput, PhaseLatency}

// ParsePhases reads a comma-separated list of phase names.
func ParsePhases(s string) ([]Phase, error) {
	var out []Phase
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		p := Phase(name)
		if !known(p) {
			return nil, fmt.Errorf("%w: unknown phase %q (want some of register, login, idle, throughput, latency)", ErrConfig, name)
		}
		out = append(out, p)
	}
	return out, nil
}

func known(p Phase) bool {
	for _, q := range Phases {
		if p == q {
			return true
		}
	}
	return false
}

// Config describes one run. Accounts are <UserPrefix><i>@<Domain> for i in
// [0, Users), all with Password.
type Config struct {
	Addr      string // host:port of the server's plain c2s listener
	Domain    string // the XMPP domain; default "localhost"
	ServerPID int    // process whose CPU and RSS are measured; 0: none

	Users      int
	UserPrefix string // default "bench"
	Password   string // default "benchpass"
	Mechanism  string // SCRAM-SHA-1 (default), SCRAM-SHA-256 or PLAIN

	// Phases to run; idle, throughput and latency imply login.
	Phases []Phase

	Senders     int           // traffic: user i sends to user i+Senders
	Rate        float64       // latency: messages per second, all senders together
	Duration    time.Duration // length of the throughput and latency phases
	Concurrency int           // parallel registrations and logins

	// Settle is how long the idle phase (and the baseline before login)
	// lets the server settle: half waiting, half sampling RSS five times.
	// Default 10s.
	Settle time.Duration
	// Keepalive is how often each connection sends a white space
	// keepalive (RFC 6120 §4.6.1), as real clients do, so that servers
	// do not ping or drop quiet connections. Spread evenly; 0: default
	// 60s; negative: never.
	Keepalive time.Duration
	// Timeout bounds each negotiation step and each request. Default 10s.
	Timeout time.Duration
	// Drain bounds the wait for messages still in flight when a traffic
	// phase ends. Default 5s.
	Drain time.Duration
	// MinIterations is the fewest PBKDF2 iterations accepted from the
	// server (xmppclient's default 4096 when 0).
	MinIterations int

	Label    string
	Progress io.Writer // progress lines; nil: none
}

func (c *Config) defaults() {
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.UserPrefix == "" {
		c.UserPrefix = "bench"
	}
	if c.Password == "" {
		c.Password = "benchpass"
	}
	if c.Mechanism == "" {
		c.Mechanism = xmppclient.ScramSHA1
	}
	if c.Concurrency == 0 {
		c.Concurrency = 50
	}
	if c.Settle == 0 {
		c.Settle = 10 * time.Second
	}
	if c.Keepalive == 0 {
		c.Keepalive = 60 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Drain == 0 {
		c.Drain = 5 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Validate checks the config after defaults; Run calls it.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch {
	case c.Addr == "":
		return bad("no server address")
	case c.Users <= 0:
		return bad("users must be positive")
	case c.Concurrency <= 0:
		return bad("concurrency must be positive")
	case len(c.Phases) == 0:
		return bad("no phases")
	}
	switch c.Mechanism {
	case xmppclient.ScramSHA1, xmppclient.ScramSHA256, xmppclient.Plain:
	default:
		return bad("mechanism %q: want SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN", c.Mechanism)
	}
	if c.has(PhaseThroughput) || c.has(PhaseLatency) {
		switch {
		case c.Senders <= 0:
			return bad("senders must be positive")
		case 2*c.Senders > c.Users:
			return bad("%d senders need %d users (each sends to its own partner)", c.Senders, 2*c.Senders)
		case c.Duration <= 0:
			return bad("duration must be positive")
		}
	}
	if c.has(PhaseLatency) {
		if c.Rate <= 0 || c.Rate > 1e6 {
			return bad("rate must be in (0, 1e6] messages per second")
		}
		if c.Rate*c.Duration.Seconds() > maxMessages {
			return bad("rate × duration is over %d messages", maxMessages)
		}
	}
	return nil
}

func (c *Config) has(p Phase) bool {
	for _, q := range c.Phases {
		if q == p {
			return true
		}
	}
	return false
}

func (c *Config) user(i int) string { return c.UserPrefix + itoa(i) }
