package cluster

import (
	"github.com/parley-im/parley/internal/testkit/testutil"
	"os"
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
