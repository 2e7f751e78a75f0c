package bench

import (
	"context"
	"time"
)

// Pacing bounds: the pacer wakes at most every millisecond (no busy
// loop) and at least every 100 ms.
const (
	minTick = time.Millisecond
	maxTick = 100 * time.Millisecond
)

// maxMessages bounds the messages of a latency run, whose latencies are
// all kept.
const maxMessages = 5_000_000

// latency runs the open loop: messages at Rate in total for Duration,
// round-robin over the senders, whatever the server does; message k is
// due at k/Rate. One goroutine paces on a ticker and sends what is due.
// Each message carries the time of its write, and the partner's reader
// takes the time of its arrival: the difference is the latency through
// the server. How late the pacer sent against the schedule is reported
// as send lag, to show when the tool rather than the server fell behind.
func (r *runner) latency(ctx context.Context) error {
	c, err := r.setupCrowd(ctx)
	if err != nil {
		return err
	}
	ld := c.lat
	flows := ld.active()
	c.current.Store(ld)
	defer c.current.Store(nil)

	rate := r.cfg.Rate
	total := min(max(int64(rate*r.cfg.Duration.Seconds()), 1), maxMessages)
	interval := time.Duration(float64(time.Second) / rate)
	tick := min(max(interval, minTick), maxTick)
	lags := make([]int64, 0, total)
	giveUp := r.cfg.Duration + r.cfg.Drain // if sends block, end anyway

	m := r.meter()
	start := time.Now()
	t := time.NewTicker(tick)
	var sent int64
	next := 0
loop:
	for sent < total {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		elapsed := time.Since(start)
		due := min(total, int64(elapsed.Seconds()*rate)+1)
		for ; sent < due; sent++ {
			lags = append(lags, int64(time.Since(start)-time.Duration(float64(sent)*float64(time.Second)/rate)))
			c.send(ld, flows[next])
			next = (next + 1) % len(flows)
		}
		if elapsed > giveUp {
			break
		}
	}
	t.Stop()
	window := time.Since(start)
	u := m.stop()
	c.drain(ctx, ld)

	d := c.delivery(ld)
	r.rep.Phases.Latency = &LatencyResult{
		Usage:        u,
		Delivery:     d,
		TargetRate:   rate,
		AchievedRate: div(float64(sent), window.Seconds()),
		Latency:      distribution(ld.latencies()),
		SendLag:      distribution(lags),
		ServerCPUPer: div(u.ServerCPUms*1000, float64(sent)),
		ToolCPUPer:   div(u.ToolCPUms*1000, float64(sent)),
	}
	return ctx.Err()
}
