package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
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
	Addr string // host:port of the server's plain c2s listener
	// RecipientAddr is where the partners (users [Senders, 2·Senders),
	// who only receive) register and log in; every other user uses Addr.
	// Pointing it at another node of a cluster measures cross-node
	// messaging. Default: Addr.
	RecipientAddr string
	Domain        string // the XMPP domain; default "localhost"
	ServerPID     int    // process whose CPU and RSS are measured; 0: none
	// ServerPIDs are more processes measured with ServerPID (the nodes of
	// a cluster, say): their CPU times are summed, and so are their RSS
	// (the report also gives each process's RSS). A PID listed twice
	// counts once.
	ServerPIDs []int

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
	if c.RecipientAddr == "" {
		c.RecipientAddr = c.Addr
	}
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
	case c.RecipientAddr != "" && !validAddr(c.RecipientAddr):
		return bad("recipient address %q: want host:port", c.RecipientAddr)
	case c.Users <= 0:
		return bad("users must be positive")
	case c.Concurrency <= 0:
		return bad("concurrency must be positive")
	case len(c.Phases) == 0:
		return bad("no phases")
	}
	for _, pid := range c.ServerPIDs {
		if pid <= 0 {
			return bad("server pid %d: want a positive process ID", pid)
		}
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

// addr is where user i connects: the partners (the users who only
// receive) at RecipientAddr, everyone else at Addr.
func (c *Config) addr(i int) string {
	if c.RecipientAddr != "" && i >= c.Senders && i < 2*c.Senders {
		return c.RecipientAddr
	}
	return c.Addr
}

// addrs lists the distinct c2s addresses the run connects to.
func (c *Config) addrs() []string {
	if c.RecipientAddr == "" || c.RecipientAddr == c.Addr {
		return []string{c.Addr}
	}
	return []string{c.Addr, c.RecipientAddr}
}

// pids lists the measured server processes, ServerPID first, each once.
func (c *Config) pids() []int {
	var out []int
	for _, p := range append([]int{c.ServerPID}, c.ServerPIDs...) {
		if p > 0 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func validAddr(s string) bool {
	_, p, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// ParsePIDs reads a comma-separated list of process IDs, as --server-pid
// takes them: "123" or "123,456". Empty entries and 0 (no process) are
// skipped, so "" and "0" give none; a PID listed twice is an error.
func ParsePIDs(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid < 0 {
			return nil, fmt.Errorf("%w: server pid %q: want a process ID", ErrConfig, f)
		}
		if pid == 0 {
			continue
		}
		if slices.Contains(out, pid) {
			return nil, fmt.Errorf("%w: server pid %d listed twice", ErrConfig, pid)
		}
		out = append(out, pid)
	}
	return out, nil
}

// PIDs is a flag.Value for ParsePIDs' lists:
//
//	fs.Var((*bench.PIDs)(&cfg.ServerPIDs), "server-pid", "...")
type PIDs []int

// String joins the PIDs with commas ("0" for none, the old default).
func (p *PIDs) String() string {
	if p == nil || len(*p) == 0 {
		return "0"
	}
	parts := make([]string, len(*p))
	for i, pid := range *p {
		parts[i] = strconv.Itoa(pid)
	}
	return strings.Join(parts, ",")
}

// Set replaces the list with s parsed by ParsePIDs.
func (p *PIDs) Set(s string) error {
	v, err := ParsePIDs(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}
