package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Report is the outcome of a run. Its JSON form, {label, phases: {...}},
// is what comparison scripts read; a phase that did not run is absent.
// Server figures are zero when no server PID was given. With several
// server PIDs, every server CPU and RSS figure is the sum over them.
type Report struct {
	Label string `json:"label"`
	Addr  string `json:"addr"`
	// RecipientAddr is where the partners logged in, when not at Addr.
	RecipientAddr string    `json:"recipient_addr,omitempty"`
	Domain        string    `json:"domain"`
	Mechanism     string    `json:"mechanism"`
	Users         int       `json:"users"`
	Senders       int       `json:"senders"`
	Started       time.Time `json:"started"`
	// ServerPID is the (first) measured server process; ServerPIDs lists
	// them all when there are several.
	ServerPID  int   `json:"server_pid"`
	ServerPIDs []int `json:"server_pids,omitempty"`
	// ServerOwnsListener says whether the server PIDs hold the listening
	// sockets of Addr (and RecipientAddr); null when it could not be
	// checked.
	ServerOwnsListener *bool    `json:"server_owns_listener"`
	NoFileLimit        uint64   `json:"nofile_limit"`
	Warnings           []string `json:"warnings,omitempty"`
	// Problems lists the failed checks (failed logins, lost or duplicated
	// messages, dropped connections); empty when the run is clean.
	Problems []string `json:"problems"`
	Phases   Results  `json:"phases"`
}

// Results holds one entry per phase that ran.
type Results struct {
	Register   *RegisterResult   `json:"register,omitempty"`
	Login      *LoginResult      `json:"login,omitempty"`
	Idle       *IdleResult       `json:"idle,omitempty"`
	Throughput *ThroughputResult `json:"throughput,omitempty"`
	Latency    *LatencyResult    `json:"latency,omitempty"`
}

// Usage is what a phase cost: its wall time, the CPU time of the server
// and of the tool during it (percent of one core), and their RSS at its
// end. The server's CPU and RSS are summed over the server PIDs; with
// several, the PerPID fields give each one's, in the order of
// server_pids.
type Usage struct {
	Seconds            float64   `json:"seconds"`
	ServerCPUms        float64   `json:"server_cpu_ms"`
	ServerCPUPerPIDms  []float64 `json:"server_cpu_ms_per_pid,omitempty"`
	ServerCPUPct       float64   `json:"server_cpu_pct"`
	ServerRSSKiB       int64     `json:"server_rss_kib"`
	ServerRSSPerPIDKiB []int64   `json:"server_rss_per_pid_kib,omitempty"`
	ToolCPUms          float64   `json:"tool_cpu_ms"`
	ToolCPUPct         float64   `json:"tool_cpu_pct"`
	ToolRSSKiB         int64     `json:"tool_rss_kib"`
}

// RegisterResult is the register phase: XEP-0077 in-band registration.
type RegisterResult struct {
	Usage
	Accounts     int            `json:"accounts"`
	Created      int            `json:"created"`
	Existed      int            `json:"existed"` // <conflict/>: registered before
	Failed       int            `json:"failed"`
	PerSecond    float64        `json:"accounts_per_s"`
	ServerCPUPer float64        `json:"server_cpu_ms_per_account"`
	Errors       map[string]int `json:"errors,omitempty"`
}

// LoginResult is the measured login pass: SASL and resource binding for
// every user, connections kept open. A warm-up pass before it fills the
// salted-password cache, so the tool runs PBKDF2 once per account.
type LoginResult struct {
	Usage
	Users         int            `json:"users"`
	LoggedIn      int            `json:"logged_in"`
	Failed        int            `json:"failed"`
	WarmupSeconds float64        `json:"warmup_seconds"`
	WarmupFailed  int            `json:"warmup_failed"`
	PerSecond     float64        `json:"logins_per_s"`
	ServerCPUPer  float64        `json:"server_cpu_ms_per_login"`
	ToolCPUPer    float64        `json:"tool_cpu_ms_per_login"`
	LoginTime     Distribution   `json:"login_time"`
	Errors        map[string]int `json:"errors,omitempty"`
}

// IdleResult is the memory of quiet connections: medians of RSS samples
// taken after the server settled, against a baseline taken with no
// connection before the login phase.
type IdleResult struct {
	Usage
	Connections int `json:"connections"`
	// Established counts established sockets on the server's port (the
	// server's ends; both servers' with a recipient address), from
	// /proc/net/tcp; -1 when unknown.
	Established          int     `json:"established_at_server_port"`
	ServerRSSBaselineKiB int64   `json:"server_rss_baseline_kib"`
	ServerRSSIdleKiB     int64   `json:"server_rss_idle_kib"`
	ServerRSSPerConnKiB  float64 `json:"server_rss_per_conn_kib"`
	ServerRSSSamplesKiB  []int64 `json:"server_rss_samples_kib,omitempty"`
	ToolRSSBaselineKiB   int64   `json:"tool_rss_baseline_kib"`
	ToolRSSIdleKiB       int64   `json:"tool_rss_idle_kib"`
	ToolRSSPerConnKiB    float64 `json:"tool_rss_per_conn_kib"`
}

// Delivery is the exactly-once check of a traffic phase. Every message
// sent is accounted for: delivered once, lost, or failed to send.
type Delivery struct {
	Senders      int   `json:"senders"`
	Pairs        int   `json:"pairs"` // sender-recipient pairs with both logged in
	PresenceAcks int   `json:"presence_acks"`
	Sent         int64 `json:"sent"`
	Delivered    int64 `json:"delivered"`
	Lost         int64 `json:"lost"`
	Duplicates   int64 `json:"duplicates"`
	Misrouted    int64 `json:"misrouted"`     // arrived at a client it was not sent to
	Unexpected   int64 `json:"unexpected"`    // messages the tool did not send
	ErrorReplies int64 `json:"error_replies"` // type='error' messages bounced back
	SendErrors   int64 `json:"send_errors"`
	// StreamsEnded counts participants whose stream ended by the end of
	// the phase (see the warnings for why).
	StreamsEnded int `json:"streams_ended"`
	// Examples name a few lost and duplicated messages as
	// sender→recipient#seq.
	LostExamples      []string `json:"lost_examples,omitempty"`
	DuplicateExamples []string `json:"duplicate_examples,omitempty"`
}

// ThroughputResult is the closed loop: each sender has one message in
// flight and sends the next when its partner received the last.
type ThroughputResult struct {
	Usage
	Delivery
	DeliveredInWindow int64   `json:"delivered_in_window"`
	PerSecond         float64 `json:"msgs_per_s"`
	ServerCPUPer      float64 `json:"server_cpu_us_per_msg"`
	ToolCPUPer        float64 `json:"tool_cpu_us_per_msg"`
}

// LatencyResult is the open loop: messages at a fixed total rate, each
// timed from just before its write to its arrival at the partner's reader.
type LatencyResult struct {
	Usage
	Delivery
	TargetRate   float64      `json:"target_rate"`
	AchievedRate float64      `json:"achieved_rate"` // sent per second of the window
	Latency      Distribution `json:"latency"`
	// SendLag is how late the pacer sent against the schedule; large
	// values mean the tool, not the server, limited the rate.
	SendLag      Distribution `json:"send_lag"`
	ServerCPUPer float64      `json:"server_cpu_us_per_msg"`
	ToolCPUPer   float64      `json:"tool_cpu_us_per_msg"`
}

// pids lists the measured server processes.
func (r *Report) pids() []int {
	if len(r.ServerPIDs) > 0 {
		return r.ServerPIDs
	}
	if r.ServerPID > 0 {
		return []int{r.ServerPID}
	}
	return nil
}

// addrs names the c2s addresses of the run.
func (r *Report) addrs() string {
	if r.RecipientAddr == "" {
		return r.Addr
	}
	return r.Addr + " and " + r.RecipientAddr
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// problems lists what the run's checks found wrong.
func (r *Report) problems() []string {
	out := []string{}
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if o := r.ServerOwnsListener; o != nil && !*o {
		switch {
		case len(r.ServerPIDs) > 1 || r.RecipientAddr != "":
			add("pids %v do not own the listeners of %s: the server figures are not the servers'", r.pids(), r.addrs())
		default:
			add("pid %d does not own the listener of %s: the server figures are not the server's", r.ServerPID, r.Addr)
		}
	}
	p := r.Phases
	if x := p.Register; x != nil && x.Failed > 0 {
		add("register: %d of %d accounts failed", x.Failed, x.Accounts)
	}
	if x := p.Login; x != nil && (x.Failed > 0 || x.WarmupFailed > 0) {
		add("login: %d of %d failed (%d in the warm-up)", x.Failed, x.Users, x.WarmupFailed)
	}
	if x := p.Idle; x != nil && x.Established >= 0 && x.Established < x.Connections {
		add("idle: the server holds %d of the %d connections", x.Established, x.Connections)
	}
	traffic := func(phase string, d *Delivery) {
		if d.Lost+d.Duplicates+d.Misrouted+d.Unexpected+d.ErrorReplies+d.SendErrors > 0 || d.StreamsEnded > 0 || d.Sent == 0 {
			add("%s: %s, %d streams ended", phase, d.checks(), d.StreamsEnded)
		}
	}
	if p.Throughput != nil {
		traffic("throughput", &p.Throughput.Delivery)
	}
	if p.Latency != nil {
		traffic("latency", &p.Latency.Delivery)
	}
	return out
}
