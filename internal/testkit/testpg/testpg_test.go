package testpg

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	_, stop := StartMain()
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

func query(t *testing.T, dsn, q string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s string
	if err := db.QueryRowContext(context.Background(), q).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFreshDatabases(t *testing.T) {
	a, b := Start(t), Start(t)
	if a == b {
		t.Fatalf("Start returned %q twice", a)
	}
	for _, dsn := range []string{a, b} {
		if n := query(t, dsn, "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'"); n != "0" {
			t.Errorf("%s: %s tables in a fresh database", dsn, n)
		}
	}
	if u := query(t, a, "SELECT current_user"); u != "postgres" {
		t.Errorf("user %q, want postgres", u)
	}
}

func TestOwnServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second server")
	}
	srv, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	pid := srv.cmd.Process.Pid
	if v := query(t, srv.dsn("postgres"), "SHOW server_version"); v == "" {
		t.Error("no server_version")
	}
	srv.stop()
	select {
	case <-srv.exited:
	default:
		t.Errorf("postmaster %d still running after stop", pid)
	}
}
