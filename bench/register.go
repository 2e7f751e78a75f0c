package bench

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// register creates the accounts by in-band registration (XEP-0077 §3.1),
// one unauthenticated stream per account: servers differ on whether a
// stream may register twice. An account that exists already (<conflict/>)
// counts as done.
func (r *runner) register(ctx context.Context) error {
	n := r.cfg.Users
	var created, existed atomic.Int64
	var errs tally
	m := r.meter()
	forEach(ctx, r.cfg.Progress, "register", n, r.cfg.Concurrency, func(i int) {
		switch err := r.registerOne(ctx, i); {
		case err == nil:
			created.Add(1)
		case isCondition(err, stanza.Conflict):
			existed.Add(1)
		default:
			errs.add(err)
		}
	})
	u := m.stop()
	done := created.Load() + existed.Load()
	r.rep.Phases.Register = &RegisterResult{
		Usage:        u,
		Accounts:     n,
		Created:      int(created.Load()),
		Existed:      int(existed.Load()),
		Failed:       errs.count(),
		PerSecond:    div(float64(done), u.Seconds),
		ServerCPUPer: div(u.ServerCPUms, float64(done)),
		Errors:       errs.errors(),
	}
	return nil
}

func (r *runner) registerOne(ctx context.Context, i int) error {
	c, err := r.dial(ctx, i, xmppclient.StageFeatures)
	if err != nil {
		return err
	}
	defer c.Close()
	q := stanza.New("query", stanza.NSRegister).Append(
		stanza.New("username", stanza.NSRegister).SetText(r.cfg.user(i)),
		stanza.New("password", stanza.NSRegister).SetText(r.cfg.Password),
	)
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	_, err = c.Request(ctx, stanza.New("iq", stanza.NSClient, "type", "set").Append(q))
	return err
}

func isCondition(err error, c stanza.Condition) bool {
	var se *stanza.Error
	return errors.As(err, &se) && se.Condition == c
}
