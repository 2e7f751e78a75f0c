package config

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpers(t *testing.T) {
	c := Default()
	c.DataDir = "/var/lib/parley"
	if got := c.SQLitePath(); got != filepath.Join("/var/lib/parley", "parley.db") {
		t.Errorf("SQLitePath() = %q", got)
	}
	c.Storage.SQLitePath = "/db/p.db"
	if got := c.SQLitePath(); got != "/db/p.db" {
		t.Errorf("SQLitePath() = %q", got)
	}

	if cert, key, gen := c.TLSFiles(); !gen || cert != "/var/lib/parley/tls/selfsigned.crt" || key != "/var/lib/parley/tls/selfsigned.key" {
		t.Errorf("TLSFiles() = %q %q %v", cert, key, gen)
	}
	c.TLS.Cert, c.TLS.Key = "c.pem", "k.pem"
	if cert, key, gen := c.TLSFiles(); gen || cert != "c.pem" || key != "k.pem" {
		t.Errorf("TLSFiles() = %q %q %v", cert, key, gen)
	}

	if c.MinTLSVersion() != tls.VersionTLS12 {
		t.Error("MinTLSVersion default is not 1.2")
	}
	c.TLS.MinVersion = "1.3"
	if c.MinTLSVersion() != tls.VersionTLS13 {
		t.Error("MinTLSVersion 1.3")
	}

	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		c.LogLevel = s
		if c.SlogLevel() != want {
			t.Errorf("SlogLevel(%q) = %v", s, c.SlogLevel())
		}
	}

	if !c.Listeners.C2S.Enabled() || (Listener{}).Enabled() {
		t.Error("Enabled")
	}
}

func TestRedacted(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://parley:s3cret@db:5432/parley?sslmode=verify-full": "postgres://parley:xxxxx@db:5432/parley?sslmode=verify-full",
		"postgresql://db/parley?user=parley&password=s3cret":          "postgresql://db/parley?password=xxxxx&user=parley",
		"host=db user=parley password=s3cret dbname=parley":           "host=db user=parley password=xxxxx dbname=parley",
		"host=db password = 'it''s s3cret' user=parley":               "host=db password = xxxxx user=parley",
		`host=db PASSWORD='s3cret\' still' user=parley`:               "host=db PASSWORD=xxxxx user=parley",
		"host=db password='s3cret and more":                           "host=db password=xxxxx",
		"postgres://parley@db/parley":                                 "postgres://parley@db/parley",
		"postgres://%zz:s3cret@db":                                    "xxxxx",
	} {
		c := Default()
		c.Storage.PostgresDSN = dsn
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "config", c)
		for _, out := range []string{c.Redacted(), c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), logged.String()} {
			if strings.Contains(out, "s3cret") {
				t.Errorf("secret leaked for %q:\n%s", dsn, out)
			}
		}
		if !strings.Contains(c.Redacted(), "postgres_dsn: "+want) && !strings.Contains(c.Redacted(), "postgres_dsn: '"+want+"'") {
			t.Errorf("DSN %q redacted as\n%s\nwant %q", dsn, c.Redacted(), want)
		}
		if c.Storage.PostgresDSN != dsn {
			t.Error("Redacted modified the receiver")
		}
	}
}
