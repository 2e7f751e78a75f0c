package testpg

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// server is one running PostgreSQL.
type server struct {
	dir    string // temporary root: data/, sock/, postgres.log
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when the postmaster has exited

	once  sync.Once
	admin *sql.DB // on the "postgres" database
}

func (s *server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// exec runs one statement as superuser.
func (s *server) exec(ctx context.Context, stmt string) error {
	if _, err := s.admin.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("testpg: %s: %w", stmt, err)
	}
	return nil
}

// startServer initialises a cluster in a new temporary directory and starts
// it. Starting takes about a second.
func startServer() (*server, error) {
	bindir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testpg-")
	if err != nil {
		return nil, fmt.Errorf("testpg: %w", err)
	}
	s := &server{dir: dir}
	if err := s.init(bindir, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The free port may be taken before postgres binds it: try again.
	for range 3 {
		if err = s.start(bindir, cred); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

// init creates the cluster's directories, owned by the user postgres will
// run as, and runs initdb.
func (s *server) init(bindir string, cred *syscall.Credential) error {
	sock := filepath.Join(s.dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return fmt.Errorf("testpg: %w", err)
	}
	if cred != nil {
		for _, d := range []string{s.dir, sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("testpg: %w", err)
			}
		}
	}
	cmd := exec.Command(filepath.Join(bindir, "initdb"),
		"-D", filepath.Join(s.dir, "data"), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = procAttr(cred)
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testpg: initdb: %w\n%s", err, out)
	}
	return nil
}

// start runs the postmaster on a free port and waits until it accepts
// connections.
func (s *server) start(bindir string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("testpg: %w", err)
	}
	defer logf.Close() // the child has its own copy
	// fsync stays on: tests and benchmarks see the cost of a real commit.
	cmd := exec.Command(filepath.Join(bindir, "postgres"),
		"-D", filepath.Join(s.dir, "data"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-k", filepath.Join(s.dir, "sock"),
		"-c", "max_connections=300",
		"-c", "logging_collector=off")
	cmd.SysProcAttr = procAttr(cred)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testpg: postgres: %w", err)
	}
	s.port, s.cmd, s.exited = port, cmd, make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // the exit is what matters
		close(s.exited)
	}()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.kill()
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w\npostgres log:\n%s", err, tail(log, 20))
	}
	return nil
}

// waitReady polls until the server answers or exits.
func (s *server) waitReady(timeout time.Duration) error {
	db, err := sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		return fmt.Errorf("testpg: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			db.SetMaxOpenConns(4)
			s.admin = db
			return nil
		}
		select {
		case <-s.exited:
			db.Close()
			return fmt.Errorf("testpg: postgres exited at start: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			db.Close()
			return fmt.Errorf("testpg: postgres not ready after %v: %w", timeout, err)
		}
	}
}

// stop shuts the server down (fast shutdown: SIGINT to the postmaster's
// PID) and removes its directory.
func (s *server) stop() {
	s.once.Do(func() {
		if s.admin != nil {
			s.admin.Close()
		}
		s.kill()
		os.RemoveAll(s.dir)
	})
}

func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck // may be gone already
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill() //nolint:errcheck // as above
		<-s.exited
	}
}

// findBinDir returns the directory of initdb and postgres: TESTPG_BINDIR,
// else the newest /usr/lib/postgresql/N/bin, else where PATH has initdb.
func findBinDir() (string, error) {
	var dirs []string
	if d := os.Getenv("TESTPG_BINDIR"); d != "" {
		dirs = append(dirs, d)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
	dirs = append(dirs, found...)
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: no initdb and postgres in TESTPG_BINDIR, /usr/lib/postgresql/*/bin or PATH", errUnavailable)
}

// versionOf reads N from /usr/lib/postgresql/N/bin.
func versionOf(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// credential returns who postgres runs as: nil for ourselves, or the
// postgres system user when we are root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root and there is no postgres user to run it as: %v", errUnavailable, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("testpg: postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testpg: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(string(bytes.TrimSpace(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
