package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("pem"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" for valid
	}{
		{"tls files", func(c *Config) { c.TLS.Cert, c.TLS.Key = cert, key }, ""},
		{"ephemeral ports", func(c *Config) { c.Listeners.C2S.Address, c.Listeners.HTTP.Address = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"listeners off", func(c *Config) { c.Listeners = Listeners{} }, ""},
		{"postgres", func(c *Config) { c.Storage = Storage{Driver: DriverPostgres, PostgresDSN: "host=db"} }, ""},
		{"idna host", func(c *Config) { c.Hosts = []string{"bücher.example", "[::1]"} }, ""},
		{"no pings", func(c *Config) { c.Limits.PingInterval, c.Limits.PingTimeout = 0, 0 }, ""},

		{"stanza too small", func(c *Config) { c.Limits.MaxStanzaBytes = 12 },
			"limits.max_stanza_bytes: must be between 1024 and 16777216, got 12"},
		{"no hosts", func(c *Config) { c.Hosts = nil }, "hosts: at least one host is required"},
		{"host with local", func(c *Config) { c.Hosts = []string{"x", "a@b"} },
			`hosts[1]: "a@b" must be a domain, without localpart or resource`},
		{"bad host", func(c *Config) { c.Hosts = []string{"x_y"} }, `hosts[0]: "x_y" is not a valid domain`},
		{"uppercase host", func(c *Config) { c.Hosts = []string{"Example.com"} },
			`hosts[0]: "Example.com" is not in canonical form; write "example.com"`},
		{"duplicate host", func(c *Config) { c.Hosts = []string{"a", "a"} }, `hosts[1]: "a" is listed twice`},
		{"log level", func(c *Config) { c.LogLevel = "verbose" },
			`log_level: must be one of debug, info, warn, error; got "verbose"`},
		{"data dir", func(c *Config) { c.DataDir = "" }, "data_dir: must not be empty"},
		{"address without port", func(c *Config) { c.Listeners.C2S.Address = "5222" },
			`listeners.c2s.address: must be host:port with a numeric port, or empty to disable; got "5222"`},
		{"named port", func(c *Config) { c.Listeners.HTTP.Address = ":http" }, `listeners.http.address: must be host:port`},
		{"port too big", func(c *Config) { c.Listeners.C2STLS.Address = ":65536" }, `listeners.c2s_tls.address: must be host:port`},
		{"same address", func(c *Config) { c.Listeners.HTTP.Address = ":5222" },
			`listeners.http.address: ":5222" is already used by listeners.c2s.address`},
		{"cert without key", func(c *Config) { c.TLS.Cert = cert }, "tls.key: must be set when tls.cert is"},
		{"key without cert", func(c *Config) { c.TLS.Key = key }, "tls.cert: must be set when tls.key is"},
		{"missing cert", func(c *Config) { c.TLS.Cert, c.TLS.Key = filepath.Join(dir, "nope.pem"), key }, "tls.cert: stat "},
		{"key is a directory", func(c *Config) { c.TLS.Cert, c.TLS.Key = cert, dir }, "tls.key: " + `"` + dir + `" is not a regular file`},
		{"tls version", func(c *Config) { c.TLS.MinVersion = "1.1" }, `tls.min_version: must be one of 1.2, 1.3; got "1.1"`},
		{"driver", func(c *Config) { c.Storage.Driver = "mysql" }, `storage.driver: must be one of sqlite, postgres; got "mysql"`},
		{"postgres without dsn", func(c *Config) { c.Storage.Driver = DriverPostgres },
			"storage.postgres_dsn: required when storage.driver is postgres"},
		{"scram iterations", func(c *Config) { c.Auth.SCRAMIterations = 1000 },
			"auth.scram_iterations: must be between 4096 and 10000000, got 1000"},
		{"password length", func(c *Config) { c.Registration.MinPasswordLength = 0 },
			"registration.min_password_length: must be between 1 and 1023, got 0"},
		{"depth", func(c *Config) { c.Limits.MaxDepth = 2 }, "limits.max_depth: must be between 4 and 1024, got 2"},
		{"attrs", func(c *Config) { c.Limits.MaxAttrs = 5000 }, "limits.max_attrs: must be between 8 and 1024, got 5000"},
		{"connections", func(c *Config) { c.Limits.MaxConnections = 0 }, "limits.max_connections: must be at least 1, got 0"},
		{"per ip", func(c *Config) { c.Limits.MaxConnectionsPerIP = -1 }, "limits.max_connections_per_ip: must be at least 0, got -1"},
		{"rate", func(c *Config) { c.Limits.LoginRatePerIP = -1 }, "limits.login_rate_per_ip: must be a finite number >= 0, got -1"},
		{"rate NaN", func(c *Config) { c.Limits.LoginRatePerIP = math.NaN() }, "limits.login_rate_per_ip: must be a finite number"},
		{"offline", func(c *Config) { c.Limits.MaxOfflineMessages = -5 }, "limits.max_offline_messages: must be at least 0, got -5"},
		{"auth timeout", func(c *Config) { c.Limits.AuthTimeout = 0 }, "limits.auth_timeout: must be at least 1s, got 0s"},
		{"idle timeout", func(c *Config) { c.Limits.IdleTimeout = -time.Second }, "limits.idle_timeout: must be at least 0s, got -1s"},
		{"ping timeout", func(c *Config) { c.Limits.PingTimeout = 0 }, "limits.ping_timeout: must be at least 1s, got 0s"},
		{"resources", func(c *Config) { c.Limits.MaxResourcesPerUser = 0 }, "limits.max_resources_per_user: must be at least 1, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v\nwant prefix %q", err, tt.want)
			}
			var ce *Error
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &ce) || ce.Key == "" {
				t.Errorf("error %#v is not a keyed *Error wrapping ErrInvalid", err)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := Default()
	c.LogLevel, c.Storage.Driver, c.Limits.MaxDepth = "", "", 0
	err := c.Validate()
	for _, key := range []string{"log_level:", "storage.driver:", "limits.max_depth:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not mention %s", err, key)
		}
	}
}
