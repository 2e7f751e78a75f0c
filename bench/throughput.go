package bench

import "context"

// throughput runs the closed loop for Duration: every sender starts one
// message, and each delivery sends that sender's next, so each pair has
// exactly one message in flight and the rate is what the server sustains
// at that concurrency. Messages still in flight at the end are waited for
// (up to Drain) and then counted as delivered or lost.
func (r *runner) throughput(ctx context.Context) error {
	c, err := r.setupCrowd(ctx)
	if err != nil {
		return err
	}
	ld := c.thr
	c.current.Store(ld)
	defer c.current.Store(nil)
	m := r.meter()
	ld.chain.Store(true)
	for _, f := range ld.active() {
		c.send(ld, f)
	}
	full := sleep(ctx, r.cfg.Duration)
	ld.chain.Store(false)
	inWindow := ld.delivered.Load()
	u := m.stop()
	c.drain(ctx, ld)
	r.rep.Phases.Throughput = &ThroughputResult{
		Usage:             u,
		Delivery:          c.delivery(ld),
		DeliveredInWindow: inWindow,
		PerSecond:         div(float64(inWindow), u.Seconds),
		ServerCPUPer:      div(u.ServerCPUms*1000, float64(inWindow)),
		ToolCPUPer:        div(u.ToolCPUms*1000, float64(inWindow)),
	}
	if !full {
		return ctx.Err()
	}
	return nil
}
