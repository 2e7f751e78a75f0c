package cluster

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logCapture keeps the messages logged through it.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *logCapture) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(strings.ToLower(m), sub) {
			return true
		}
	}
	return false
}

// With a secret, the nodes that share it form a cluster, and a node
// without it is refused by their routes and stays alone.
func TestRouteSecret(t *testing.T) {
	const secret = "a-shared-secret-of-some-length"
	logs := &logCapture{}
	nodes := startCluster(t, 2, func(c *Config) {
		c.Secret = secret
		if c.NodeName == "n1" {
			c.Log = slog.New(logs)
		}
	})
	for _, bad := range []string{"", "another-secret-of-some-length"} {
		cfg := testConfig(t, "intruder", nodes[0].routeURL())
		cfg.Secret = bad
		intruder := startNode(t, cfg)
		eventually(t, 10*time.Second, func() error {
			if !logs.has("authoriz") && !logs.has("authenticat") {
				return errRouteNotRefused
			}
			return nil
		})
		if got := memberNames(intruder.Members()); len(got) != 1 {
			t.Fatalf("the intruder (secret %q) sees %v", bad, got)
		}
		waitMembers(t, time.Second, nodes, "n1", "n2")
		logs.mu.Lock()
		logs.msgs = nil
		logs.mu.Unlock()
		if err := intruder.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

var errRouteNotRefused = errString("n1 has not refused the intruder's route yet")

type errString string

func (e errString) Error() string { return string(e) }

func TestOpenRoutes(t *testing.T) {
	for _, tc := range []struct {
		listen, secret string
		open           bool
	}{
		{"127.0.0.1:6222", "", false},
		{"[::1]:6222", "", false},
		{"localhost:6222", "", false},
		{"10.0.0.1:6222", "", true},
		{":6222", "", true},
		{"0.0.0.0:6222", "", true},
		{"10.0.0.1:6222", "a-shared-secret-of-some-length", false},
		{"", "", false},
	} {
		if got := openRoutes(Config{Listen: tc.listen, Secret: tc.secret}); got != tc.open {
			t.Errorf("openRoutes(%q, secret %v) = %v, want %v", tc.listen, tc.secret != "", got, tc.open)
		}
	}
}
