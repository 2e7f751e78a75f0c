package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often long loops print how far they are.
const progressEvery = 5 * time.Second

// forEach calls fn(i) for i in [0, n) on at most conc goroutines, and
// stops handing out work once ctx is done. It prints progress to w.
func forEach(ctx context.Context, w io.Writer, what string, n, conc int, fn func(i int)) {
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-finished:
			return
		case <-t.C:
			fmt.Fprintf(w, "  %s: %d/%d\n", what, done.Load(), n)
		}
	}
}

// sleep waits for d or until ctx is done, and reports whether it slept
// the whole time.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
