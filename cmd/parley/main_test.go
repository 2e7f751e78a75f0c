package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// capture runs the CLI with args and returns its exit code, stdout and
// stderr.
func capture(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	oldOut, oldErr, oldIn := os.Stdout, os.Stderr, os.Stdin
	defer func() { os.Stdout, os.Stderr, os.Stdin = oldOut, oldErr, oldIn }()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	inR, inW, _ := os.Pipe()
	os.Stdout, os.Stderr, os.Stdin = outW, errW, inR
	go func() { _, _ = io.WriteString(inW, stdin); inW.Close() }()
	var out, errb bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, outR); _, _ = io.Copy(&errb, errR); close(done) }()
	code := run(args)
	outW.Close()
	errW.Close()
	<-done
	return code, out.String(), errb.String()
}

func TestUserCommands(t *testing.T) {
	t.Setenv("PARLEY_DATA_DIR", t.TempDir())
	steps := []struct {
		stdin   string
		args    []string
		code    int
		out     string // substring of stdout
		errText string // substring of stderr
	}{
		{"", []string{"user", "add", "alice@localhost", "--password", "pw1"}, 0, "created alice@localhost", ""},
		{"pw2\n", []string{"user", "add", "bob@localhost"}, 0, "created bob@localhost", ""},
		{"", []string{"user", "add", "alice@localhost", "--password", "x"}, 1, "", "already exists"},
		{"", []string{"user", "add", "carol@example.org", "--password", "x"}, 2, "", "not served here"},
		{"", []string{"user", "add", "not a jid@@", "--password", "x"}, 2, "", "not a valid JID"},
		{"", []string{"user", "add", "dave@localhost"}, 2, "", "no password given"},
		{"", []string{"user", "list"}, 0, "alice@localhost\nbob@localhost\n", ""},
		{"new\n", []string{"user", "passwd", "alice@localhost"}, 0, "password changed", ""},
		{"", []string{"user", "passwd", "nobody@localhost", "--password", "x"}, 1, "", "no account"},
		{"", []string{"user", "del", "bob@localhost"}, 0, "deleted bob@localhost", ""},
		{"", []string{"user", "del", "bob@localhost"}, 1, "", "no account"},
		{"", []string{"user", "list"}, 0, "alice@localhost\n", ""},
		{"", []string{"user", "frobnicate"}, 2, "", "unknown subcommand"},
	}
	for _, s := range steps {
		code, out, errText := capture(t, s.stdin, s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errText, s.errText) {
			t.Errorf("parley %s: code %d out %q err %q; want code %d, out ~%q, err ~%q",
				strings.Join(s.args, " "), code, out, errText, s.code, s.out, s.errText)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(good, []byte("hosts: [chat.example.com]\nlimits:\n  max_stanza_bytes: 65536\n"), 0o600)
	os.WriteFile(bad, []byte("limits:\n  max_stanza_bytes: 12\n"), 0o600)
	os.WriteFile(unknown, []byte("limits:\n  max_stanza: 65536\n"), 0o600)
	cases := []struct {
		path, want string
		code       int
	}{
		{good, "configuration OK", 0},
		{bad, "limits.max_stanza_bytes", 1},
		{unknown, "limits.max_stanza", 1},
		{filepath.Join(dir, "missing.yaml"), "missing.yaml", 1},
	}
	for _, tc := range cases {
		code, out, errText := capture(t, "", "check-config", "--config", tc.path)
		if code != tc.code || !strings.Contains(out+errText, tc.want) {
			t.Errorf("check-config %s: code %d, output %q; want code %d mentioning %q", tc.path, code, out+errText, tc.code, tc.want)
		}
	}
	t.Setenv("PARLEY_LIMITS_MAX_DEPTH", "2")
	if code, _, errText := capture(t, "", "check-config"); code != 1 || !strings.Contains(errText, "max_depth") {
		t.Errorf("env override: code %d, %q", code, errText)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errText := capture(t, "", "frobnicate"); code != 2 || !strings.Contains(errText, "unknown command") {
		t.Errorf("code %d, %q", code, errText)
	}
}

func TestClusterStatus(t *testing.T) {
	s := testserver.Start(t, func(c *config.Config) { c.Cluster.NodeName, c.Cluster.Listen = "solo", "127.0.0.1:0" })
	code, out, errText := capture(t, "", "cluster", "status", "--url", "http://"+s.HTTP())
	if code != 0 || !strings.Contains(out, "cluster seen from node solo: 1 live node(s)") || !strings.Contains(out, "solo (this)") {
		t.Fatalf("code %d, out %q, err %q", code, out, errText)
	}
	code, _, errText = capture(t, "", "cluster", "status", "--url", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(errText, "cannot reach the node") {
		t.Fatalf("unreachable: code %d, err %q", code, errText)
	}
}
