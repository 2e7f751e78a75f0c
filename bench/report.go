package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run. Its JSON form, {label, phases: {...}},
// is what comparison scripts read; a phase that did not run is absent.
// Server figures are zero when no server PID was given.
type Report struct {
	Label     string    `json:"label"`
	Addr      string    `json:"addr"`
	Domain    string    `json:"domain"`
	Mechanism string    `json:"mechanism"`
	Users     int       `json:"users"`
	Senders   int       `json:"senders"`
	Started   time.Time `json:"started"`
	ServerPID int       `json:"server_pid"`
	// ServerOwnsListener says whether ServerPID holds the listening socket
	// of Addr; null when it could not be checked.
	ServerOwnsListener *bool    `json:"server_owns_listener"`
	NoFileLimit        uint64   `json:"nofile_limit"`
	Warnings           []string `json:"warnings,omitempty"`
	Phases             Results  `json:"phases"`
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
// end.
type Usage struct {
	Seconds      float64 `json:"seconds"`
	ServerCPUms  float64 `json:"server_cpu_ms"`
	ServerCPUPct float64 `json:"server_cpu_pct"`
	ServerRSSKiB int64   `json:"server_rss_kib"`
	ToolCPUms    float64 `json:"tool_cpu_ms"`
	ToolCPUPct   float64 `json:"tool_cpu_pct"`
	ToolRSSKiB   int64   `json:"tool_rss_kib"`
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
	// server's ends), from /proc/net/tcp; -1 when unknown.
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

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a table for people.
func (r *Report) WriteText(w io.Writer) error {
	owns := "unchecked"
	if r.ServerOwnsListener != nil {
		owns = map[bool]string{true: "yes", false: "NO"}[*r.ServerOwnsListener]
	}
	fmt.Fprintf(w, "parley bench %s: %s domain %s, %d users, %s\n", r.Label, r.Addr, r.Domain, r.Users, r.Mechanism)
	if r.ServerPID > 0 {
		fmt.Fprintf(w, "server pid %d (owns the listener: %s)\n", r.ServerPID, owns)
	} else {
		fmt.Fprintln(w, "no server pid: server CPU and memory not measured")
	}
	for _, s := range r.Warnings {
		fmt.Fprintln(w, "warning:", s)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nphase\tresult\tserver CPU\ttool CPU\tchecks")
	p := r.Phases
	if x := p.Register; x != nil {
		fmt.Fprintf(tw, "register\t%.0f accounts/s (%d created, %d existed) in %.1fs\t%.2f ms/account, %.0f%%\t%.0f%%\t%d failed\n",
			x.PerSecond, x.Created, x.Existed, x.Seconds, x.ServerCPUPer, x.ServerCPUPct, x.ToolCPUPct, x.Failed)
	}
	if x := p.Login; x != nil {
		fmt.Fprintf(tw, "login\t%.0f logins/s (%d in %.1fs; p50 %.1f ms, p99 %.1f ms)\t%.3f ms/login, %.0f%%\t%.3f ms/login, %.0f%%\t%d failed\n",
			x.PerSecond, x.LoggedIn, x.Seconds, x.LoginTime.P50, x.LoginTime.P99, x.ServerCPUPer, x.ServerCPUPct, x.ToolCPUPer, x.ToolCPUPct, x.Failed)
	}
	if x := p.Idle; x != nil {
		fmt.Fprintf(tw, "idle\t%.1f KiB/conn server (%d → %d KiB), %.1f KiB/conn tool\t%.1f%%\t%.1f%%\t%d connections, %d established at server\n",
			x.ServerRSSPerConnKiB, x.ServerRSSBaselineKiB, x.ServerRSSIdleKiB, x.ToolRSSPerConnKiB, x.ServerCPUPct, x.ToolCPUPct, x.Connections, x.Established)
	}
	if x := p.Throughput; x != nil {
		fmt.Fprintf(tw, "throughput\t%.0f msgs/s (%d senders, %d in %.1fs)\t%.1f µs/msg, %.0f%%\t%.1f µs/msg, %.0f%%\t%s\n",
			x.PerSecond, x.Pairs, x.DeliveredInWindow, x.Seconds, x.ServerCPUPer, x.ServerCPUPct, x.ToolCPUPer, x.ToolCPUPct, x.Delivery.checks())
	}
	if x := p.Latency; x != nil {
		l := x.Latency
		fmt.Fprintf(tw, "latency\tp50 %.2f p90 %.2f p99 %.2f max %.2f ms at %.0f/s (target %.0f)\t%.1f µs/msg, %.0f%%\t%.1f µs/msg, %.0f%%\t%s\n",
			l.P50, l.P90, l.P99, l.Max, x.AchievedRate, x.TargetRate, x.ServerCPUPer, x.ServerCPUPct, x.ToolCPUPer, x.ToolCPUPct, x.Delivery.checks())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p.Register != nil {
		writeErrors(w, "register", p.Register.Errors)
	}
	if p.Login != nil {
		writeErrors(w, "login", p.Login.Errors)
	}
	if p.Throughput != nil {
		p.Throughput.writeExamples(w, "throughput")
	}
	if p.Latency != nil {
		p.Latency.writeExamples(w, "latency")
	}
	return nil
}

func (d *Delivery) checks() string {
	s := fmt.Sprintf("%d/%d delivered, %d lost, %d dup", d.Delivered, d.Sent, d.Lost, d.Duplicates)
	if n := d.Misrouted + d.Unexpected + d.ErrorReplies + d.SendErrors; n > 0 {
		s += fmt.Sprintf(", %d misrouted, %d unexpected, %d error replies, %d send errors",
			d.Misrouted, d.Unexpected, d.ErrorReplies, d.SendErrors)
	}
	return s
}

func writeErrors(w io.Writer, phase string, errs map[string]int) {
	for k, v := range errs {
		fmt.Fprintf(w, "%s error ×%d: %s\n", phase, v, k)
	}
}

func (d *Delivery) writeExamples(w io.Writer, phase string) {
	if len(d.LostExamples) > 0 {
		fmt.Fprintf(w, "%s lost: %s\n", phase, strings.Join(d.LostExamples, " "))
	}
	if len(d.DuplicateExamples) > 0 {
		fmt.Fprintf(w, "%s duplicated: %s\n", phase, strings.Join(d.DuplicateExamples, " "))
	}
}
