package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/bench"
	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func smallConfig(addr string) bench.Config {
	return bench.Config{
		Addr:        addr,
		Domain:      "localhost",
		ServerPID:   os.Getpid(), // the server runs in this process
		Users:       50,
		Senders:     10,
		Rate:        200,
		Duration:    time.Second,
		Concurrency: 8,
		Settle:      200 * time.Millisecond,
		Phases:      bench.Phases,
		Label:       "test",
	}
}

// TestRunInProcess runs every phase against an in-process Parley and checks
// that the numbers are sane and every message arrived exactly once.
func TestRunInProcess(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) { c.Registration.Enabled = true })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, smallConfig(s.C2S()))
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Phases
	if len(rep.Problems) > 0 || len(rep.Warnings) > 0 {
		t.Errorf("problems %q, warnings %q", rep.Problems, rep.Warnings)
	}
	if rep.ServerOwnsListener == nil || !*rep.ServerOwnsListener {
		t.Errorf("server_owns_listener = %v, want true", rep.ServerOwnsListener)
	}
	if r := p.Register; r == nil || r.Created != 50 || r.Failed != 0 || r.PerSecond <= 0 {
		t.Errorf("register = %+v, want 50 created", r)
	}
	if l := p.Login; l == nil || l.LoggedIn != 50 || l.Failed != 0 || l.WarmupFailed != 0 || l.PerSecond <= 0 || l.LoginTime.P50 <= 0 {
		t.Errorf("login = %+v, want 50 logged in", l)
	}
	if i := p.Idle; i == nil || i.Connections != 50 || i.Established < 50 || i.ServerRSSIdleKiB <= 0 || i.ToolRSSIdleKiB <= 0 {
		t.Errorf("idle = %+v, want 50 connections held", i)
	}
	th := p.Throughput
	if th == nil {
		t.Fatal("no throughput result")
	}
	checkDelivery(t, "throughput", th.Delivery)
	if th.DeliveredInWindow <= 0 || th.PerSecond <= 0 || th.Pairs != 10 || th.PresenceAcks != 20 {
		t.Errorf("throughput = %+v", th)
	}
	la := p.Latency
	if la == nil {
		t.Fatal("no latency result")
	}
	checkDelivery(t, "latency", la.Delivery)
	if la.Sent != 200 || la.Latency.Count != 200 {
		t.Errorf("latency: sent %d, timed %d, want 200 each", la.Sent, la.Latency.Count)
	}
	if l := la.Latency; l.P50 <= 0 || l.P90 < l.P50 || l.P99 < l.P90 || l.Max < l.P99 {
		t.Errorf("latency distribution %+v is not sane", l)
	}
	if la.AchievedRate < 150 || la.AchievedRate > 250 {
		t.Errorf("achieved rate %.0f/s, want about 200", la.AchievedRate)
	}
	if la.ToolCPUms <= 0 || la.ServerCPUPct < 0 {
		t.Errorf("latency usage %+v", la.Usage)
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Label  string                     `json:"label"`
		Phases map[string]json.RawMessage `json:"phases"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if decoded.Label != "test" || len(decoded.Phases) != 5 {
		t.Errorf("JSON label %q, phases %d, want test and 5", decoded.Label, len(decoded.Phases))
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + text.String())
	for _, want := range []string{"register", "login", "idle", "throughput", "latency", "p99"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}

	// A second registration finds every account there.
	cfg := smallConfig(s.C2S())
	cfg.Phases = []bench.Phase{bench.PhaseRegister}
	rep, err = bench.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Phases.Register; r.Existed != 50 || r.Created != 0 {
		t.Errorf("second register = %+v, want 50 existing", r)
	}
}

func checkDelivery(t *testing.T, phase string, d bench.Delivery) {
	t.Helper()
	if d.Sent == 0 || d.Delivered != d.Sent || d.Lost != 0 || d.Duplicates != 0 || d.Misrouted != 0 ||
		d.Unexpected != 0 || d.ErrorReplies != 0 || d.SendErrors != 0 {
		t.Errorf("%s delivery = %+v, want all delivered once", phase, d)
	}
}

// TestLoginFailures reports wrong passwords as failures with their SASL
// condition, and stops before anything that needs connections.
func TestLoginFailures(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	cfg := smallConfig(s.C2S())
	cfg.Users, cfg.Senders = 3, 1
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, cfg)
	if err == nil {
		t.Fatal("Run succeeded with no account")
	}
	if rep == nil || rep.Phases.Login == nil || rep.Phases.Login.Failed != 3 || len(rep.Phases.Login.Errors) == 0 {
		t.Fatalf("report = %+v, want 3 failed logins", rep)
	}
	if !strings.Contains(err.Error(), "not-authorized") {
		t.Errorf("error %q does not name the SASL condition", err)
	}
}

// TestDroppedConnections checks that connections the server drops are
// reported as problems, and that keepalives prevent the drops: the server
// pings a connection silent for 300ms and drops it a second later.
func TestDroppedConnections(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) {
		c.Registration.Enabled = true
		c.Limits.PingInterval = 300 * time.Millisecond
		c.Limits.PingTimeout = time.Second
	})
	for _, tt := range []struct {
		name      string
		keepalive time.Duration
		dropped   bool
	}{{"keepalive", 100 * time.Millisecond, false}, {"silent", -1, true}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := smallConfig(s.C2S())
			cfg.Users, cfg.Senders, cfg.Rate = 10, 2, 50
			cfg.Settle, cfg.Keepalive, cfg.Timeout = 3*time.Second, tt.keepalive, 2*time.Second
			cfg.Duration, cfg.Drain = 500*time.Millisecond, 500*time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := bench.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(rep.Problems) > 0; got != tt.dropped {
				t.Errorf("problems %q, want some: %v", rep.Problems, tt.dropped)
			}
			if i := rep.Phases.Idle; tt.dropped && i.Established != 0 {
				t.Errorf("idle = %+v, want no connection held", i)
			}
			if d := rep.Phases.Throughput.Delivery; tt.dropped && d.StreamsEnded != 4 {
				t.Errorf("throughput = %+v, want 4 streams ended", d)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	base := bench.Config{Addr: "127.0.0.1:1", Users: 10, Senders: 5, Rate: 10, Duration: time.Second,
		Concurrency: 1, Mechanism: "SCRAM-SHA-1", Phases: bench.Phases}
	tests := []struct {
		name string
		mod  func(*bench.Config)
		ok   bool
	}{
		{"ok", func(*bench.Config) {}, true},
		{"no addr", func(c *bench.Config) { c.Addr = "" }, false},
		{"no users", func(c *bench.Config) { c.Users = 0 }, false},
		{"too many senders", func(c *bench.Config) { c.Senders = 6 }, false},
		{"senders unused", func(c *bench.Config) { c.Senders, c.Phases = 0, []bench.Phase{bench.PhaseLogin} }, true},
		{"no rate", func(c *bench.Config) { c.Rate = 0 }, false},
		{"no duration", func(c *bench.Config) { c.Duration = 0 }, false},
		{"mechanism", func(c *bench.Config) { c.Mechanism = "DIGEST-MD5" }, false},
		{"no phases", func(c *bench.Config) { c.Phases = nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mod(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestParsePhases(t *testing.T) {
	ps, err := bench.ParsePhases("login, idle,,latency")
	if err != nil || len(ps) != 3 || ps[2] != bench.PhaseLatency {
		t.Errorf("ParsePhases = %v, %v", ps, err)
	}
	if _, err := bench.ParsePhases("login,warp"); err == nil {
		t.Error("ParsePhases accepted an unknown phase")
	}
}
