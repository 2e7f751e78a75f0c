package cluster

import (
	"bytes"
	"github.com/parley-im/parley/internal/testutil"
	"os"
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

func cleanEnv() []string { return testutil.CleanEnv() }

type permanent = testutil.Permanent

func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	testutil.EventuallyErr(t, timeout, fn)
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
