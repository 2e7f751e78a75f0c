package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/parley-im/parley/bench"
)

const benchUsage = `parley bench — load-test an XMPP server (Parley, ejabberd, Prosody, ...)
over plain TCP with standard XMPP only.

Accounts are <user-prefix><i>@<domain>, i in [0, users). Phases run in this
order, whichever are listed:
  register    create the accounts by XEP-0077 in-band registration
              (also run by --register; an existing account counts as done)
  login       log everyone in (SASL + bind) and keep the connections; a
              warm-up pass first caches each salted password, as clients do
  idle        server and tool RSS per idle connection, after settling
  throughput  user i sends to user i+senders (full JIDs), one message in
              flight per sender; delivered msgs/s, exactly-once check
  latency     open loop at --rate msgs/s over the senders; p50/p90/p99/max
idle, throughput and latency imply login. Give --server-pid to measure the
server's CPU and memory (a comma-separated list sums them: the nodes of a
cluster); the tool always reports its own. --recipient-addr logs the
partners in at another address, e.g. another node of a cluster, to measure
cross-node messaging.

Exit status: 0 clean run; 1 the run failed; 2 bad flags; 3 the run completed
but its checks found problems (failed logins, lost or duplicated messages,
dropped connections), listed in the report. The JSON is written in every
case where there is a report.

Example:
  parley bench --addr 127.0.0.1:5222 --domain localhost --server-pid PID \
    --users 10000 --user-prefix bench --password benchpass \
    --mechanism SCRAM-SHA-1 --register \
    --phases register,login,idle,throughput,latency \
    --senders 1000 --rate 2000 --duration 10s --concurrency 50 \
    --json results.json --label parley

Flags:
`

func cmdBench(args []string) int {
	fs := flag.NewFlagSet("parley bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	var cfg bench.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:5222", "server c2s address (plain TCP, no TLS)")
	fs.StringVar(&cfg.Domain, "domain", "localhost", "XMPP domain of the accounts")
	fs.StringVar(&cfg.RecipientAddr, "recipient-addr", "", "c2s address where the partners (users senders..2×senders-1) log in, e.g. another cluster node; default: --addr")
	fs.Var((*bench.PIDs)(&cfg.ServerPIDs), "server-pid", "server process(es) to measure, comma-separated (e.g. every node of a cluster): CPU and RSS summed, RSS per pid in the JSON; 0: none")
	fs.IntVar(&cfg.Users, "users", 1000, "number of accounts and connections")
	fs.StringVar(&cfg.UserPrefix, "user-prefix", "bench", "account localpart prefix")
	fs.StringVar(&cfg.Password, "password", "benchpass", "password of every account")
	fs.StringVar(&cfg.Mechanism, "mechanism", "SCRAM-SHA-1", "SASL mechanism: SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN")
	register := fs.Bool("register", false, "register the accounts first (same as listing the register phase)")
	phases := fs.String("phases", "login,idle,throughput,latency", "comma-separated phases: register,login,idle,throughput,latency")
	fs.IntVar(&cfg.Senders, "senders", 100, "senders in throughput and latency (uses 2× as many users)")
	fs.Float64Var(&cfg.Rate, "rate", 1000, "latency phase: total messages per second")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the throughput and latency phases")
	fs.IntVar(&cfg.Concurrency, "concurrency", 50, "parallel registrations and logins")
	fs.DurationVar(&cfg.Settle, "settle", 10*time.Second, "idle phase and baseline: time to settle, half waiting, half sampling RSS")
	fs.DurationVar(&cfg.Keepalive, "keepalive", 60*time.Second, "white space keepalive interval per connection; negative: none")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "bound on each negotiation step and request")
	fs.DurationVar(&cfg.Drain, "drain", 5*time.Second, "wait for messages in flight after a traffic phase")
	fs.IntVar(&cfg.MinIterations, "min-iterations", 4096, "fewest SCRAM iterations accepted from the server")
	maxTime := fs.Duration("max-time", 30*time.Minute, "bound on the whole run")
	jsonPath := fs.String("json", "", "also write the report as JSON to this file")
	fs.StringVar(&cfg.Label, "label", "", "name of this run in the report (e.g. the server's)")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	cpuProfile := fs.String("cpuprofile", "", "write the tool's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "parley bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ps, err := bench.ParsePhases(*phases)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley bench:", err)
		return 2
	}
	if *register {
		ps = append(ps, bench.PhaseRegister)
	}
	cfg.Phases = ps
	if !*quiet {
		cfg.Progress = os.Stderr
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley bench:", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxTime)
	defer cancel()
	rep, err := bench.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintln(os.Stderr, "parley bench:", err)
		if errors.Is(err, bench.ErrConfig) {
			return 2
		}
		return 1
	}
	status := 0
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley bench:", err)
		status = 1
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "parley bench:", err)
		status = 1
	}
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, rep); err != nil {
			fmt.Fprintln(os.Stderr, "parley bench:", err)
			status = 1
		}
	}
	if status == 0 && len(rep.Problems) > 0 {
		status = 3
	}
	return status
}

func writeJSON(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
