package testutil

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// CleanEnv is this process's environment without PARLEY_ settings, which
// would leak into servers started as subprocesses.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			env = append(env, kv)
		}
	}
	return env
}

// Permanent marks an error that EventuallyErr should not wait out.
type Permanent struct{ Err error }

func (p Permanent) Error() string { return p.Err.Error() }

// EventuallyErr calls fn until it returns nil, failing the test if it has
// not by timeout or if it returns a Permanent error; the last error is in
// the failure message.
func EventuallyErr(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := fn()
		if err == nil {
			return
		}
		var p Permanent
		if errors.As(err, &p) {
			t.Fatal(p.Err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not so after %v: %v", timeout, err)
		}
		<-tick.C
	}
}
