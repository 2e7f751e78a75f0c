package storage

import (
	"errors"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// TestClose checks that Close commits what was accepted, refuses the rest,
// stops every goroutine, and that a reopened store keeps the data and the
// applied migrations.
func TestClose(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			const o = "juliet@capulet.example"
			dsn := e.newDSN(t)
			s, err := Open(ctx, e.name, dsn, nil)
			must(t, err)
			newAccount(t, s, o)

			var stored atomic.Int64
			first := make(chan struct{})
			var once sync.Once
			var wg sync.WaitGroup
			for range 100 {
				wg.Go(func() {
					for {
						err := s.StoreOffline(ctx, o, []byte("<message/>"), 0)
						if errors.Is(err, ErrClosed) {
							return
						}
						if err != nil {
							t.Error(err)
							return
						}
						stored.Add(1)
						once.Do(func() { close(first) })
					}
				})
			}
			<-first
			must(t, s.Close())
			wg.Wait()

			wantErr(t, "StoreOffline after Close", s.StoreOffline(ctx, o, nil, 0), ErrClosed)
			_, err = s.Account(ctx, o)
			wantErr(t, "Account after Close", err, ErrClosed)
			wantErr(t, "Close again", s.Close(), ErrClosed)

			s, err = Open(ctx, e.name, dsn, nil)
			must(t, err)
			defer func() { must(t, s.Close()) }()
			n, err := s.CountOffline(ctx, o)
			must(t, err)
			if int64(n) != stored.Load() {
				t.Errorf("%d messages after reopening, %d were acknowledged", n, stored.Load())
			}
			var version int64
			must(t, s.r.QueryRowContext(ctx, `SELECT MAX(version_id) FROM `+migrationTable).Scan(&version))
			files, err := fs.ReadDir(migrations, "migrations")
			must(t, err)
			if version != int64(len(files)) {
				t.Errorf("schema version %d, want %d (every embedded migration)", version, len(files))
			}
		})
	}
}
