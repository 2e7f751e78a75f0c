// Package testpg starts throwaway PostgreSQL servers for tests, from the
// binaries of a local installation (Debian's postgresql package puts them
// in /usr/lib/postgresql/N/bin; TESTPG_BINDIR overrides the search).
//
// A server listens on 127.0.0.1 on a free port, keeps its data and its
// unix socket in a temporary directory, trusts every local connection and
// is stopped, by PID, and deleted at the end. As root, it runs as the
// postgres system user, since PostgreSQL refuses to run as root.
//
// One server per test binary, shared through TestMain, with a fresh
// database per test:
//
//	func TestMain(m *testing.M) {
//		_, stop := testpg.StartMain()
//		defer stop()
//		m.Run()
//	}
//
//	func TestX(t *testing.T) {
//		dsn := testpg.Start(t) // a new, empty database
//		...
//	}
//
// Without StartMain, Start runs a server of the test's own. When PostgreSQL
// is not installed, Start skips the test, or fails it when the CI
// environment variable is set. It is not for production use.
package testpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// errUnavailable marks the absence of PostgreSQL on this machine, as
// opposed to a PostgreSQL that failed.
var errUnavailable = errors.New("testpg: PostgreSQL is not available")

var (
	// mu guards shared and sharedErr, set by StartMain and its stop.
	mu        sync.Mutex
	shared    *server
	sharedErr error

	dbSeq atomic.Int64 // names test databases
)

// StartMain starts the server that Start shares between the tests of a
// package. It returns the DSN of the server's "postgres" database, as
// superuser, and a function that stops the server. If the server cannot
// start, dsn is "" and the reason is reported by each Start.
func StartMain() (dsn string, stop func()) {
	srv, err := startServer()
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		sharedErr = err
		fmt.Fprintln(os.Stderr, err)
		return "", func() {}
	}
	shared, sharedErr = srv, nil
	return srv.dsn("postgres"), func() {
		mu.Lock()
		if shared == srv {
			shared = nil
		}
		mu.Unlock()
		srv.stop()
	}
}

// Start returns the DSN of a new, empty database, dropped when tb ends. It
// is created on the StartMain server if there is one, or else on a server
// started for tb alone.
func Start(tb testing.TB) string {
	tb.Helper()
	mu.Lock()
	srv, err := shared, sharedErr
	mu.Unlock()
	if srv == nil && err == nil {
		if srv, err = startServer(); err == nil {
			tb.Cleanup(srv.stop)
		}
	}
	if err != nil {
		if !errors.Is(err, errUnavailable) {
			tb.Fatal(err)
		}
		if os.Getenv("CI") != "" {
			tb.Fatalf("%v; CI is set, so this is a failure, not a skip: install PostgreSQL (apt-get install postgresql)", err)
		}
		tb.Skipf("%v; install it (apt-get install postgresql) to run this test", err)
	}
	name := fmt.Sprintf("test_%d", dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			tb.Error(err)
		}
	})
	return srv.dsn(name)
}
