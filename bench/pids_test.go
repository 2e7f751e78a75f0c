package bench

import (
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestParsePIDs(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int
		ok   bool
	}{
		{"", nil, true},
		{"0", nil, true}, // the old default: none
		{"123", []int{123}, true},
		{"123,456", []int{123, 456}, true},
		{" 123 , 456 ,", []int{123, 456}, true},
		{"123,0,456", []int{123, 456}, true},
		{"123,123", nil, false},
		{"-1", nil, false},
		{"12x", nil, false},
		{"123;456", nil, false},
	} {
		got, err := ParsePIDs(tt.in)
		if (err == nil) != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("ParsePIDs(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("ParsePIDs(%q): %v is not ErrConfig", tt.in, err)
		}
	}
}

// TestPIDsFlag: --server-pid keeps taking one PID, and takes a list.
func TestPIDsFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []int
		def  string
	}{
		{nil, nil, "0"},
		{[]string{"--server-pid", "42"}, []int{42}, "0"},
		{[]string{"--server-pid=42,43"}, []int{42, 43}, "0"},
		{[]string{"--server-pid", "0"}, nil, "0"},
	} {
		var cfg Config
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Var((*PIDs)(&cfg.ServerPIDs), "server-pid", "")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if !slices.Equal(cfg.ServerPIDs, tt.want) {
			t.Errorf("%v: ServerPIDs = %v, want %v", tt.args, cfg.ServerPIDs, tt.want)
		}
		if d := fs.Lookup("server-pid").DefValue; d != tt.def {
			t.Errorf("default %q, want %q", d, tt.def)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var p PIDs
	fs.Var(&p, "server-pid", "")
	if err := fs.Parse([]string{"--server-pid", "1,x"}); err == nil {
		t.Error("a bad list parsed")
	}
	p = PIDs{7, 8}
	if s := p.String(); s != "7,8" {
		t.Errorf("String() = %q", s)
	}
}

func TestConfigAddrsAndPIDs(t *testing.T) {
	c := Config{Addr: "127.0.0.1:1", RecipientAddr: "127.0.0.1:2", Users: 10, Senders: 3,
		ServerPID: 5, ServerPIDs: []int{6, 5, 7}}
	var got []string
	for i := range c.Users {
		got = append(got, c.addr(i))
	}
	a, b := "127.0.0.1:1", "127.0.0.1:2"
	if want := []string{a, a, a, b, b, b, a, a, a, a}; !slices.Equal(got, want) {
		t.Errorf("addresses by user %v, want %v", got, want)
	}
	if p := c.pids(); !slices.Equal(p, []int{5, 6, 7}) {
		t.Errorf("pids() = %v, want [5 6 7]", p)
	}
	if a := c.addrs(); len(a) != 2 {
		t.Errorf("addrs() = %v", a)
	}
	c.RecipientAddr = ""
	c.defaults()
	if c.RecipientAddr != c.Addr || c.addr(4) != c.Addr || len(c.addrs()) != 1 {
		t.Errorf("default recipient address %q, addrs %v", c.RecipientAddr, c.addrs())
	}
	c.Phases = []Phase{PhaseLogin}
	c.RecipientAddr = "nowhere"
	if err := c.Validate(); err == nil {
		t.Error("Validate accepted a recipient address without a port")
	}
	c.RecipientAddr, c.ServerPIDs = c.Addr, []int{-3}
	if err := c.Validate(); err == nil {
		t.Error("Validate accepted a negative pid")
	}
}

// TestServerSums: CPU and RSS of several server processes are summed, and
// each RSS is kept.
func TestServerSums(t *testing.T) {
	var kids []int
	for range 2 {
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Skipf("cannot start sleep: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		kids = append(kids, cmd.Process.Pid)
	}
	// Burn some CPU here so that our share is visible at 10 ms resolution.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	r := &runner{pids: append([]int{os.Getpid()}, kids...)}
	self0, _ := procCPU(os.Getpid())
	sum, each, err := r.serverCPU()
	if err != nil {
		t.Fatal(err)
	}
	if len(each) != 3 || each[1]+each[2] > sum || sum != each[0]+each[1]+each[2] {
		t.Errorf("summed CPU %v, each %v", sum, each)
	}
	self1, _ := procCPU(os.Getpid())
	var kidsCPU time.Duration
	for _, k := range kids {
		c, err := procCPU(k)
		if err != nil {
			t.Fatal(err)
		}
		kidsCPU += c
	}
	if sum < self0+kidsCPU || sum > self1+kidsCPU {
		t.Errorf("summed CPU %v, want between %v and %v", sum, self0+kidsCPU, self1+kidsCPU)
	}
	rss, eachRSS, err := r.serverRSS()
	if err != nil {
		t.Fatal(err)
	}
	if len(eachRSS) != 3 || eachRSS[0] <= 0 || eachRSS[1] <= 0 || eachRSS[2] <= 0 || rss != eachRSS[0]+eachRSS[1]+eachRSS[2] {
		t.Errorf("RSS %d KiB, each %v", rss, eachRSS)
	}
	r.pids = r.pids[:1]
	if _, each, _ := r.serverRSS(); each != nil {
		t.Errorf("one pid: each = %v, want nil", each)
	}
	r.pids = []int{kids[0], 1 << 30}
	if _, _, err := r.serverCPU(); err == nil {
		t.Error("no error for a pid that does not exist")
	}
}
