package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-im/parley/internal/testkit/testpg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	_, stop := testpg.StartMain()
	code := m.Run()
	stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// engine is one database the suite runs on.
type engine struct {
	name   string // driver for Open
	newDSN func(tb testing.TB) string
}

var engines = []engine{
	{"sqlite", func(tb testing.TB) string {
		// A directory that does not exist yet: Open creates it.
		return filepath.Join(tb.TempDir(), "state", "parley.db")
	}},
	{"postgres", testpg.Start},
}

// open opens a store on dsn, closed when tb ends.
func open(tb testing.TB, e engine, dsn string) *SQL {
	tb.Helper()
	s, err := Open(context.Background(), e.name, dsn, nil)
	if err != nil {
		tb.Fatalf("Open(%s): %v", e.name, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
