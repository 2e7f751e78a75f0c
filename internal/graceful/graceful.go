// Package graceful holds what the listeners share for ending their
// connections: wait for them, and cut the stragglers when time is up.
package graceful

import (
	"context"
	"sync"
)

// Wait waits until wg is done or ctx ends; then it calls cut (which should
// close the remaining connections' sockets), waits for wg anyway, and
// returns ctx's error.
func Wait(ctx context.Context, wg *sync.WaitGroup, cut func()) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		cut()
		<-done
		return ctx.Err()
	}
}
