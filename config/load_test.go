package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFile writes a config file in a temporary directory and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "parley.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDefaults(t *testing.T) {
	for _, path := range []string{"", writeFile(t, ""), writeFile(t, "# nothing\n")} {
		c, err := load(path, map[string]string{})
		if err != nil {
			t.Fatalf("load(%q): %v", path, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("load(%q) = %+v, want defaults", path, c)
		}
	}
}

func TestLoadFile(t *testing.T) {
	path := writeFile(t, `
hosts: [a.example, b.example]
listeners:
  http: { address: "" }
tls:
  min_version: 1.3
limits:
  auth_timeout: 1m
  login_rate_per_ip: 0.5
`)
	c, err := load(path, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Hosts = []string{"a.example", "b.example"}
	want.Listeners.HTTP.Address = ""
	want.TLS.MinVersion = "1.3"
	want.Limits.AuthTimeout = time.Minute
	want.Limits.LoginRatePerIP = 0.5
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestEnvOverrides(t *testing.T) {
	path := writeFile(t, "log_level: warn\nlimits:\n  max_stanza_bytes: 4096\n  max_depth: 32\n")
	c, err := load(path, map[string]string{
		"PARLEY_HOSTS":                     "a.example, b.example",
		"PARLEY_LOG_LEVEL":                 "debug",
		"PARLEY_STORAGE_DRIVER":            "postgres",
		"PARLEY_STORAGE_POSTGRES_DSN":      "postgres://parley:s3cret@db/parley",
		"PARLEY_LIMITS_MAX_STANZA_BYTES":   "65536",
		"PARLEY_LIMITS_AUTH_TIMEOUT":       "10s",
		"PARLEY_LIMITS_LOGIN_RATE_PER_IP":  "2.5",
		"PARLEY_AUTH_ALLOW_PLAIN":          "false",
		"PARLEY_LISTENERS_C2S_TLS_ADDRESS": "127.0.0.1:0",
		"PARLEY_LISTENERS_HTTP_ADDRESS":    "",
		"UNRELATED":                        "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Hosts = []string{"a.example", "b.example"}
	want.LogLevel = "debug"
	want.Storage.Driver = DriverPostgres
	want.Storage.PostgresDSN = "postgres://parley:s3cret@db/parley"
	want.Limits.MaxStanzaBytes = 65536
	want.Limits.MaxDepth = 32 // from the file, not overridden
	want.Limits.AuthTimeout = 10 * time.Second
	want.Limits.LoginRatePerIP = 2.5
	want.Auth.AllowPlain = false
	want.Listeners.C2STLS.Address = "127.0.0.1:0"
	want.Listeners.HTTP.Address = ""
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestLoadReadsProcessEnvironment(t *testing.T) {
	t.Setenv("PARLEY_LOG_LEVEL", "error")
	t.Setenv("PARLEY_REGISTRATION_ENABLED", "true")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "error" || !c.Registration.Enabled {
		t.Errorf("Load ignored the environment: %+v", c)
	}
}

func TestEnvBadValues(t *testing.T) {
	_, err := load("", map[string]string{
		"PARLEY_LIMITS_MAX_STANZA_BYTES": "lots",
		"PARLEY_LIMITS_PING_TIMEOUT":     "30",
		"PARLEY_AUTH_ALLOW_PLAIN":        "maybe",
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`PARLEY_LIMITS_MAX_STANZA_BYTES: want an integer, got "lots"`,
		`PARLEY_LIMITS_PING_TIMEOUT: want a duration such as "30s", got "30"`,
		`PARLEY_AUTH_ALLOW_PLAIN: want true or false, got "maybe"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	_, err = load("", map[string]string{"PARLEY_LIMITS_MAX_STANZA_BYTES": "12"})
	if want := "limits.max_stanza_bytes: must be between 1024 and 16777216, got 12"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestUnknownKeys(t *testing.T) {
	path := writeFile(t, "hosts: [localhost]\nlimits:\n  max_stanza: 5\nlisteners:\n  c2s:\n    adress: \":5222\"\nverbose: true\n")
	_, err := load(path, map[string]string{})
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	for _, want := range []string{
		path + `:3: limits.max_stanza: unknown key`,
		path + `:6: listeners.c2s.adress: unknown key`,
		path + `:7: verbose: unknown key`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestYAMLBadValues(t *testing.T) {
	path := writeFile(t, "limits:\n  max_stanza_bytes: big\n  auth_timeout: 30\nhosts:\n  - localhost\n  - [x]\n")
	_, err := load(path, map[string]string{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		path + ":2: limits.max_stanza_bytes: cannot unmarshal",
		path + ":3: limits.auth_timeout: cannot unmarshal",
		path + ":6: hosts[1]: cannot unmarshal",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	if _, err := load(writeFile(t, "hosts: [\n"), nil); err == nil {
		t.Error("syntax error not reported")
	}
	if _, err := load(filepath.Join(t.TempDir(), "missing.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}
