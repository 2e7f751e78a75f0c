package bench

import "context"

// idle measures what quiet connections cost: with every login held and
// nothing sent (but keepalives), the settled RSS of the server and of the
// tool against the baseline taken before login, per connection.
func (r *runner) idle(ctx context.Context) error {
	conns := 0
	for _, c := range r.clients {
		if c != nil {
			conns++
		}
	}
	m := r.meter()
	now, err := r.settledRSS(ctx)
	if err != nil {
		return err
	}
	u := m.stop()
	res := &IdleResult{
		Usage:                u,
		Connections:          conns,
		Established:          establishedAt(r.ports...),
		ServerRSSBaselineKiB: r.baseline.server,
		ServerRSSIdleKiB:     now.server,
		ServerRSSSamplesKiB:  now.samples,
		ToolRSSBaselineKiB:   r.baseline.tool,
		ToolRSSIdleKiB:       now.tool,
		ToolRSSPerConnKiB:    div(float64(now.tool-r.baseline.tool), float64(conns)),
	}
	if len(r.pids) > 0 {
		res.ServerRSSPerConnKiB = div(float64(now.server-r.baseline.server), float64(conns))
	}
	r.rep.Phases.Idle = res
	return nil
}
