package testpg

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records how Start ends a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) {
	f.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestUnavailable(t *testing.T) {
	mu.Lock()
	saved, savedErr := shared, sharedErr
	shared, sharedErr = nil, fmt.Errorf("%w: no initdb here", errUnavailable)
	mu.Unlock()
	defer func() {
		mu.Lock()
		shared, sharedErr = saved, savedErr
		mu.Unlock()
	}()
	start := func() *fakeTB {
		f := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Start(f)
		}()
		<-done
		return f
	}

	t.Setenv("CI", "")
	if f := start(); !strings.Contains(f.skipped, "no initdb here") || f.failed != "" {
		t.Errorf("without CI: skipped %q, failed %q; want a skip", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	if f := start(); !strings.Contains(f.failed, "CI is set") || f.skipped != "" {
		t.Errorf("with CI: skipped %q, failed %q; want a failure", f.skipped, f.failed)
	}
}
