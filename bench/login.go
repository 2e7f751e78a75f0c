package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/internal/xmppclient"
)

// login logs every user in and keeps the connections. First it takes the
// no-connection RSS baseline for the idle phase; then a warm-up pass logs
// each user in and out once, which fills the salted-password cache as a
// real client's stored credentials would (the salt is known only after a
// first SCRAM exchange). The measured pass then costs the tool no PBKDF2.
func (r *runner) login(ctx context.Context) error {
	n := r.cfg.Users
	base, err := r.settledRSS(ctx)
	if err != nil {
		return err
	}
	r.baseline = base

	var warmFailed atomic.Int64
	t0 := time.Now()
	forEach(ctx, r.cfg.Progress, "login warm-up", n, r.cfg.Concurrency, func(i int) {
		c, err := r.dial(ctx, i, xmppclient.StageBind)
		if err != nil {
			warmFailed.Add(1)
			return
		}
		_ = c.Close()
	})
	warm := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return err
	}

	r.clients = make([]*xmppclient.Client, n)
	took := make([]int64, n) // ns; -1 for a failed login
	var errs tally
	m := r.meter()
	forEach(ctx, r.cfg.Progress, "login", n, r.cfg.Concurrency, func(i int) {
		t := time.Now()
		c, err := r.dial(ctx, i, xmppclient.StageBind)
		if err != nil {
			took[i] = -1
			errs.add(err)
			return
		}
		took[i] = int64(time.Since(t))
		r.clients[i] = c
	})
	u := m.stop()
	ok := make([]int64, 0, n)
	for _, d := range took {
		if d > 0 {
			ok = append(ok, d)
		}
	}
	r.rep.Phases.Login = &LoginResult{
		Usage:         u,
		Users:         n,
		LoggedIn:      len(ok),
		Failed:        n - len(ok),
		WarmupSeconds: warm.Seconds(),
		WarmupFailed:  int(warmFailed.Load()),
		PerSecond:     div(float64(len(ok)), u.Seconds),
		ServerCPUPer:  div(u.ServerCPUms, float64(len(ok))),
		ToolCPUPer:    div(u.ToolCPUms, float64(len(ok))),
		LoginTime:     distribution(ok),
		Errors:        errs.errors(),
	}
	if len(ok) == 0 {
		return fmt.Errorf("no user logged in (first error: %s)", errs.first())
	}
	r.startKeepalive()
	return nil
}
