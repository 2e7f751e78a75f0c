package graceful

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestWaitDone(t *testing.T) {
	var wg sync.WaitGroup
	wg.Go(func() {})
	cut := false
	if err := Wait(context.Background(), &wg, func() { cut = true }); err != nil || cut {
		t.Fatalf("Wait = %v, cut %v; want nil and no cut", err, cut)
	}
}

func TestWaitCuts(t *testing.T) {
	var wg sync.WaitGroup
	release := make(chan struct{})
	wg.Go(func() { <-release }) // a connection that ends only when cut
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := Wait(ctx, &wg, func() { close(release) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want the context's error after cutting", err)
	}
}
