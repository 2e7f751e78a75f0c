package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// logCapture keeps the messages logged through it.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *logCapture) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(strings.ToLower(m), sub) {
			return true
		}
	}
	return false
}

// With a secret, the nodes that share it form a cluster, and a node
// without it is refused by their routes and stays alone.
func TestRouteSecret(t *testing.T) {
	const secret = "a-shared-secret-of-some-length"
	logs := &logCapture{}
	nodes := startCluster(t, 2, func(c *Config) {
		c.Secret = secret
		if c.NodeName == "n1" {
			c.Log = slog.New(logs)
		}
	})
	for _, bad := range []string{"", "another-secret-of-some-length"} {
		cfg := testConfig(t, "intruder", nodes[0].routeURL())
		cfg.Secret = bad
		refused(t, nodes, logs, cfg, fmt.Sprintf("secret %q", bad), "authoriz", "authenticat")
	}
}

// refused starts an intruder node from cfg and checks that n1 (logging to
// logs) refuses its route, logging one of the messages, that the intruder
// stays alone and the cluster unchanged; then it stops the intruder.
func refused(t *testing.T, nodes []*testNode, logs *logCapture, cfg Config, what string, messages ...string) {
	t.Helper()
	intruder := startNode(t, cfg)
	eventually(t, 10*time.Second, func() error {
		for _, m := range messages {
			if logs.has(m) {
				return nil
			}
		}
		return errString("n1 has not refused the intruder's route yet (" + what + ")")
	})
	if got := memberNames(intruder.Members()); len(got) != 1 {
		t.Fatalf("the intruder (%s) sees %v", what, got)
	}
	waitMembers(t, time.Second, nodes, "n1", "n2")
	logs.mu.Lock()
	logs.msgs = nil
	logs.mu.Unlock()
	if err := intruder.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestOpenRoutes(t *testing.T) {
	for _, tc := range []struct {
		listen, secret string
		open           bool
	}{
		{"127.0.0.1:6222", "", false},
		{"[::1]:6222", "", false},
		{"localhost:6222", "", false},
		{"10.0.0.1:6222", "", true},
		{":6222", "", true},
		{"0.0.0.0:6222", "", true},
		{"10.0.0.1:6222", "a-shared-secret-of-some-length", false},
		{"", "", false},
	} {
		if got := openRoutes(Config{Listen: tc.listen, Secret: tc.secret}); got != tc.open {
			t.Errorf("openRoutes(%q, secret %v) = %v, want %v", tc.listen, tc.secret != "", got, tc.open)
		}
	}
}

// testCA issues certificates for route TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "parley test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// tlsConfig issues a node certificate for 127.0.0.1 and returns the route
// TLS configuration a node would use with it.
func (ca *testCA) tlsConfig(t *testing.T, name string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      ca.pool, ClientCAs: ca.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}
}

// With route TLS, nodes whose certificates come from the cluster's CA form
// a cluster; a node without TLS, or with a certificate from another CA, is
// refused and stays alone.
func TestRouteTLS(t *testing.T) {
	ca := newTestCA(t)
	logs := &logCapture{}
	nodes := startCluster(t, 2, func(c *Config) {
		c.RouteTLS = ca.tlsConfig(t, c.NodeName)
		if c.NodeName == "n1" {
			c.Log = slog.New(logs)
		}
	})
	for name, rt := range map[string]*tls.Config{
		"no TLS":     nil,
		"another CA": newTestCA(t).tlsConfig(t, "intruder"),
	} {
		cfg := testConfig(t, "intruder", nodes[0].routeURL())
		cfg.RouteTLS = rt
		refused(t, nodes, logs, cfg, name, "tls route handshake error")
	}
}

// levelCapture keeps the level of each record.
type levelCapture struct {
	logCapture
	levels []slog.Level
}

func (l *levelCapture) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	l.levels = append(l.levels, r.Level)
	l.mu.Unlock()
	return nil
}

// Route failures that every partition or departure causes are warnings;
// other NATS errors stay errors.
func TestNATSLogLevels(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   slog.Level
	}{
		{"Error trying to connect to route (attempt 1): %v", slog.LevelWarn},
		{"127.0.0.1:6222 - rid:12 - Error flushing: %v", slog.LevelWarn},
		{"127.0.0.1:4222 - cid:3 - Error flushing: %v", slog.LevelError},
		{"Error listening on port: %v", slog.LevelError},
	} {
		h := &levelCapture{}
		(&natsLogger{log: slog.New(h)}).Errorf(tc.format, "x")
		if len(h.levels) != 1 || h.levels[0] != tc.want {
			t.Errorf("%q logged at %v, want %v", tc.format, h.levels, tc.want)
		}
	}
}
