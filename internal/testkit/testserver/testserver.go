// Package testserver starts a real Parley server in-process on loopback
// ports for tests, with a temporary data directory, and creates accounts.
package testserver

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/server"
	"github.com/parley-im/parley/storage"
)

// Server is a running test server.
type Server struct {
	*server.Server
	Config config.Config
	t      testing.TB
}

// Option changes the configuration before the server starts.
type Option func(*config.Config)

// Start runs a server on 127.0.0.1 with ephemeral ports and SQLite in a
// temporary directory, stopped when the test ends. Options may switch to
// PostgreSQL (config.Storage) or change limits.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	// Test directories can be longer than a Unix socket path may be.
	sockDir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	cfg.ControlSocket = filepath.Join(sockDir, "parley.sock")
	cfg.Listeners.C2S.Address = "127.0.0.1:0"
	cfg.Listeners.C2STLS.Address = "127.0.0.1:0"
	cfg.Listeners.HTTP.Address = "127.0.0.1:0"
	cfg.Auth.SCRAMIterations = 4096
	for _, o := range opts {
		o(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("PARLEY_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var srv *server.Server
	srv, err = server.New(cfg, log)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("testserver: start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("testserver: shutdown: %v", err)
		}
	})
	return &Server{Server: srv, Config: cfg, t: t}
}

// PlainTCP lets clients log in without STARTTLS (as the benchmarks do).
func PlainTCP(c *config.Config) { c.Listeners.C2S.StartTLSRequired = false }

// SQLitePath is where the test server keeps its database.
func (s *Server) SQLitePath() string { return filepath.Join(s.Config.DataDir, "parley.db") }

// C2S returns the STARTTLS listener's address.
func (s *Server) C2S() string { return s.Addr("c2s").String() }

// DirectTLS returns the direct TLS listener's address.
func (s *Server) DirectTLS() string { return s.Addr("c2s_tls").String() }

// HTTP returns the HTTP listener's address.
func (s *Server) HTTP() string { return s.Addr("http").String() }

// AddUser creates an account with a password.
func (s *Server) AddUser(jid, password string) {
	s.t.Helper()
	s1, s256, err := sasl.Derive(password, s.Config.Auth.SCRAMIterations)
	if err != nil {
		s.t.Fatalf("testserver: %v", err)
	}
	if err := s.Store().CreateAccount(context.Background(), storage.Account{JID: jid, SHA1: s1, SHA256: s256}); err != nil {
		s.t.Fatalf("testserver: add %s: %v", jid, err)
	}
}
