package config

import (
	"crypto/tls"
	"log/slog"
	"path/filepath"
)

// SQLitePath returns storage.sqlite_path, or parley.db in the data directory
// when it is empty.
func (c Config) SQLitePath() string {
	if c.Storage.SQLitePath != "" {
		return c.Storage.SQLitePath
	}
	return filepath.Join(c.DataDir, "parley.db")
}

// ControlSocketPath is where the control socket (parley drain) is.
func (c Config) ControlSocketPath() string {
	if c.ControlSocket != "" {
		return c.ControlSocket
	}
	return filepath.Join(c.DataDir, "parley.sock")
}

// TLSFiles returns the certificate and key files to use. When tls.cert and
// tls.key are empty they are the self-signed pair in the data directory, and
// generate is true: the server creates them there if they are missing.
func (c Config) TLSFiles() (cert, key string, generate bool) {
	if c.TLS.Cert != "" {
		return c.TLS.Cert, c.TLS.Key, false
	}
	dir := filepath.Join(c.DataDir, "tls")
	return filepath.Join(dir, "selfsigned.crt"), filepath.Join(dir, "selfsigned.key"), true
}

// MinTLSVersion returns tls.min_version as a crypto/tls constant.
func (c Config) MinTLSVersion() uint16 {
	if c.TLS.MinVersion == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// SlogLevel returns log_level as a slog.Level (info when unknown).
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Enabled reports whether the listener has an address.
func (l Listener) Enabled() bool { return l.Address != "" }

// Enabled reports whether the listener has an address.
func (l C2SListener) Enabled() bool { return l.Address != "" }
