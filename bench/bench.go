package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/internal/xmppclient"
)

// fdHeadroom is the open files kept free beyond one per user, for the
// tool's own needs.
const fdHeadroom = 100

// closers is how many connections are closed in parallel at the end.
const closers = 200

// Run runs cfg's phases against the server and returns the report. When a
// phase fails or ctx ends, the report holds the phases that finished. It
// closes every connection it opened before returning.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	limit, err := raiseNoFile()
	if err != nil {
		return nil, fmt.Errorf("bench: raising the open-file limit: %w", err)
	}
	if uint64(cfg.Users) > limit-fdHeadroom {
		return nil, fmt.Errorf("%w: %d users need as many open files, but the limit is %d (at most %d users)",
			ErrConfig, cfg.Users, limit, limit-fdHeadroom)
	}
	var ports []int
	for _, a := range cfg.addrs() {
		port, err := addrPort(a)
		if err != nil {
			return nil, fmt.Errorf("%w: address %q: %v", ErrConfig, a, err)
		}
		ports = append(ports, port)
	}
	pids := cfg.pids()
	r := &runner{
		cfg:   cfg,
		ports: ports,
		pids:  pids,
		epoch: time.Now(),
		rep: &Report{
			Label: cfg.Label, Addr: cfg.Addr, Domain: cfg.Domain, Mechanism: cfg.Mechanism,
			Users: cfg.Users, Senders: cfg.Senders, Started: time.Now().UTC(),
			NoFileLimit: limit,
		},
	}
	if cfg.RecipientAddr != cfg.Addr {
		r.rep.RecipientAddr = cfg.RecipientAddr
	}
	if len(pids) > 0 {
		r.rep.ServerPID = pids[0]
	}
	if len(pids) > 1 {
		r.rep.ServerPIDs = pids
	}
	for _, pid := range pids {
		if _, err := procCPU(pid); err != nil {
			return nil, fmt.Errorf("%w: server pid %d: %v", ErrConfig, pid, err)
		}
	}
	if len(pids) > 0 {
		// Every address must be served by a measured process.
		all := true
		var why error
		for i, a := range cfg.addrs() {
			owner, err := listenerOwner(pids, a)
			switch {
			case err != nil:
				why = err
			case owner == 0:
				all = false
				if len(pids) == 1 {
					r.warn("pid %d does not hold the socket listening on port %d: its CPU and memory are not the server's", pids[0], ports[i])
				} else {
					r.warn("none of the pids %v holds the socket listening on port %d: their CPU and memory are not the server's", pids, ports[i])
				}
			}
		}
		if why != nil {
			r.warn("cannot check that the server pids %v own the listeners: %v", pids, why)
		} else {
			r.rep.ServerOwnsListener = &all
		}
	}
	err = r.run(ctx)
	r.close()
	r.rep.Problems = r.rep.problems()
	return r.rep, err
}

// runner is one run. Its fields belong to the goroutine calling Run,
// except where noted.
type runner struct {
	cfg   Config
	ports []int // of the distinct c2s addresses: Addr's, then RecipientAddr's
	pids  []int // the measured server processes
	rep   *Report
	epoch time.Time // origin of the (monotonic) timestamps messages carry
	cache xmppclient.SaltCache

	// clients[i] is user i's connection, nil when not logged in. Written
	// by the login phase before anything else reads it; read-only after.
	clients []*xmppclient.Client
	// baseline is the RSS with no connection, taken before login.
	baseline rss
	keep     *keeper
	crowd    *crowd // traffic participants, set up by the first traffic phase
}

func (r *runner) run(ctx context.Context) error {
	c := &r.cfg
	if c.has(PhaseRegister) {
		if err := r.phase(ctx, PhaseRegister, r.register); err != nil {
			return err
		}
	}
	if c.has(PhaseLogin) || c.has(PhaseIdle) || c.has(PhaseThroughput) || c.has(PhaseLatency) {
		if err := r.phase(ctx, PhaseLogin, r.login); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		phase Phase
		fn    func(context.Context) error
	}{{PhaseIdle, r.idle}, {PhaseThroughput, r.throughput}, {PhaseLatency, r.latency}} {
		if c.has(p.phase) {
			if err := r.phase(ctx, p.phase, p.fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *runner) phase(ctx context.Context, p Phase, fn func(context.Context) error) error {
	fmt.Fprintf(r.cfg.Progress, "%s: start\n", p)
	t0 := time.Now()
	if err := fn(ctx); err != nil {
		return fmt.Errorf("bench: %s: %w", p, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench: %s: %w", p, err)
	}
	fmt.Fprintf(r.cfg.Progress, "%s: done in %.1fs\n", p, time.Since(t0).Seconds())
	return nil
}

func (r *runner) warn(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.rep.Warnings = append(r.rep.Warnings, s)
	fmt.Fprintln(r.cfg.Progress, "warning:", s)
}

// dial opens a stream as user i and negotiates up to stop.
func (r *runner) dial(ctx context.Context, i int, stop xmppclient.Stage) (*xmppclient.Client, error) {
	return xmppclient.Dial(ctx, xmppclient.Config{
		Addr:          r.cfg.addr(i),
		Domain:        r.cfg.Domain,
		Username:      r.cfg.user(i),
		Password:      r.cfg.Password,
		Mechanism:     r.cfg.Mechanism,
		MinIterations: r.cfg.MinIterations,
		SaltedCache:   &r.cache,
		StopAfter:     stop,
		Timeout:       r.cfg.Timeout,
	})
}

// close ends the traffic readers and the keepalives and closes every
// connection, each bounded by xmppclient's close timeout.
func (r *runner) close() {
	if r.keep != nil {
		if n := r.keep.stop(); n > 0 {
			r.warn("%d white space keepalives failed: connections were lost", n)
		}
	}
	forEach(context.Background(), r.cfg.Progress, "closing", len(r.clients), closers, func(i int) {
		if c := r.clients[i]; c != nil {
			_ = c.Close()
		}
	})
	if r.crowd != nil {
		r.crowd.wait()
	}
}

// meter measures one phase's Usage.
type meter struct {
	r          *runner
	t0         time.Time
	srv0, tool time.Duration
	srv0Each   []time.Duration
}

func (r *runner) meter() meter {
	m := meter{r: r, t0: time.Now(), tool: selfCPU()}
	if len(r.pids) > 0 {
		m.srv0, m.srv0Each, _ = r.serverCPU()
	}
	return m
}

func (m meter) stop() Usage {
	wall := time.Since(m.t0)
	tool := selfCPU() - m.tool
	u := Usage{
		Seconds:    wall.Seconds(),
		ToolCPUms:  ms(tool),
		ToolCPUPct: 100 * div(float64(tool), float64(wall)),
	}
	u.ToolRSSKiB, _ = procRSS(os.Getpid())
	if len(m.r.pids) > 0 {
		cpu, each, err := m.r.serverCPU()
		if err != nil {
			m.r.warn("%v (did it exit?)", err)
			return u
		}
		u.ServerCPUms = ms(cpu - m.srv0)
		u.ServerCPUPct = 100 * div(float64(cpu-m.srv0), float64(wall))
		if len(each) > 1 && len(m.srv0Each) == len(each) {
			for i := range each {
				u.ServerCPUPerPIDms = append(u.ServerCPUPerPIDms, ms(each[i]-m.srv0Each[i]))
			}
		}
		u.ServerRSSKiB, u.ServerRSSPerPIDKiB, _ = m.r.serverRSS()
	}
	return u
}

// serverCPU is the CPU time of the server processes, summed, and each
// one's, in the order of r.pids.
func (r *runner) serverCPU() (sum time.Duration, each []time.Duration, err error) {
	for _, pid := range r.pids {
		cpu, err := procCPU(pid)
		if err != nil {
			return 0, nil, fmt.Errorf("server pid %d: %w", pid, err)
		}
		sum += cpu
		each = append(each, cpu)
	}
	return sum, each, nil
}

// serverRSS is the RSS of the server processes, summed, and with more
// than one process each one's, in the order of r.pids.
func (r *runner) serverRSS() (sum int64, each []int64, err error) {
	for _, pid := range r.pids {
		v, err := procRSS(pid)
		if err != nil {
			return 0, nil, fmt.Errorf("server pid %d: %w", pid, err)
		}
		sum += v
		each = append(each, v)
	}
	if len(each) < 2 {
		each = nil
	}
	return sum, each, nil
}

// rss is a pair of resident set sizes, in KiB.
type rss struct {
	server, tool int64
	samples      []int64 // the server's
}

// rssSamples is how many RSS samples a settled measurement takes.
const rssSamples = 5

// settledRSS waits half of Settle for the server to go quiet (collect
// garbage, finish deferred work), then samples both RSS over the other
// half and keeps the medians. The server's is summed over its processes.
func (r *runner) settledRSS(ctx context.Context) (rss, error) {
	if !sleep(ctx, r.cfg.Settle/2) {
		return rss{}, ctx.Err()
	}
	// Give back the tool's own garbage so its RSS counts what it holds.
	runtime.GC()
	debug.FreeOSMemory()
	var srv, tool []int64
	for i := range rssSamples {
		if i > 0 && !sleep(ctx, r.cfg.Settle/(2*rssSamples)) {
			return rss{}, ctx.Err()
		}
		if t, err := procRSS(os.Getpid()); err == nil {
			tool = append(tool, t)
		}
		if len(r.pids) > 0 {
			s, _, err := r.serverRSS()
			if err != nil {
				return rss{}, err
			}
			srv = append(srv, s)
		}
	}
	out := rss{tool: median(tool), samples: srv}
	if len(srv) > 0 {
		out.server = median(srv)
	}
	return out, nil
}

// keeper sends white space keepalives on every held connection. One round
// is spread over the interval, so the server sees a trickle, not bursts;
// it is one goroutine however many connections there are.
type keeper struct {
	done   chan struct{}
	exited chan struct{}
	failed atomic.Int64
}

func (r *runner) startKeepalive() {
	if r.cfg.Keepalive < 0 || len(r.clients) == 0 {
		return
	}
	k := &keeper{done: make(chan struct{}), exited: make(chan struct{})}
	r.keep = k
	tick := min(time.Second, r.cfg.Keepalive)
	n := len(r.clients)
	batch := int((int64(n)*int64(tick) + int64(r.cfg.Keepalive) - 1) / int64(r.cfg.Keepalive))
	clients := r.clients
	go func() {
		defer close(k.exited)
		t := time.NewTicker(tick)
		defer t.Stop()
		next := 0
		for {
			select {
			case <-k.done:
				return
			case <-t.C:
			}
			for range batch {
				if c := clients[next]; c != nil {
					if err := c.SendRaw(whitespace); err != nil && !errors.Is(err, xmppclient.ErrClosed) {
						k.failed.Add(1)
					}
				}
				next = (next + 1) % n
			}
		}
	}()
}

// stop ends the keepalives and returns how many failed.
func (k *keeper) stop() int64 {
	close(k.done)
	<-k.exited
	return k.failed.Load()
}

// whitespace is a keepalive (RFC 6120 §4.6.1); it is only ever read.
var whitespace = []byte(" ")
