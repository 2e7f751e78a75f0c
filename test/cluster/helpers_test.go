package cluster

import (
	"bytes"
	"errors"
	"github.com/parley-im/parley/internal/testutil"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// missing skips a test whose prerequisite is not installed, or fails it
// under CI, where a skip would hide that the test never ran.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: install it rather than skip)")
	}
	t.Skip(msg)
}

// freePort returns a loopback port nobody listened on a moment ago. Only
// the NATS route ports need one: peers must be told them before start.
func freePort(t *testing.T) int { return testutil.FreePort(t) }

// cleanEnv is this process's environment without PARLEY_ settings, which
// would leak into the nodes under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			env = append(env, kv)
		}
	}
	return env
}

// permanent marks an error that eventually should not wait out.
type permanent struct{ error }

// eventually calls fn until it returns nil. It fails the test if fn has not
// by timeout, or returns a permanent error.
func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := fn()
		if err == nil {
			return
		}
		var p permanent
		if errors.As(err, &p) {
			t.Fatal(p.error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not so after %v: %v", timeout, err)
		}
		<-tick.C
	}
}

// syncBuffer is a bytes.Buffer safe for a writing process and a reading test.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
