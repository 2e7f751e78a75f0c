package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the report as a table for people.
func (r *Report) WriteText(w io.Writer) error {
	owns := "unchecked"
	if r.ServerOwnsListener != nil {
		owns = map[bool]string{true: "yes", false: "NO"}[*r.ServerOwnsListener]
	}
	label := ""
	if r.Label != "" {
		label = " " + r.Label
	}
	fmt.Fprintf(w, "parley bench%s: %s domain %s, %d users, %s, started %s\n",
		label, r.Addr, r.Domain, r.Users, r.Mechanism, r.Started.Format(time.RFC3339))
	if r.RecipientAddr != "" {
		fmt.Fprintf(w, "recipients (users %d..%d) at %s\n", r.Senders, 2*r.Senders-1, r.RecipientAddr)
	}
	switch pids := r.pids(); {
	case len(pids) > 1:
		fmt.Fprintf(w, "server pids %s, CPU and RSS summed (own the listeners: %s)\n", joinInts(pids), owns)
	case len(pids) == 1:
		fmt.Fprintf(w, "server pid %d (owns the listener: %s)\n", r.ServerPID, owns)
	default:
		fmt.Fprintln(w, "no server pid: server CPU and memory not measured")
	}
	for _, s := range r.Warnings {
		fmt.Fprintln(w, "warning:", s)
	}
	defer func() {
		for _, s := range r.Problems {
			fmt.Fprintln(w, "PROBLEM:", s)
		}
	}()
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

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = itoa(n)
	}
	return strings.Join(s, ",")
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
