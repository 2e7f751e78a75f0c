package config

import (
	"strings"
	"testing"
)

func TestClusterValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"alone", func(c *Config) {}, ""},
		{"one node on sqlite", func(c *Config) { c.Cluster.NodeName = "n1" }, ""},
		{"peers on sqlite refused", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.Peers = []string{"nats://127.0.0.1:6223"}
		}, "needs shared storage"},
		{"peers on postgres", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.Peers = []string{"nats://127.0.0.1:6223"}
			c.Storage.Driver, c.Storage.PostgresDSN = DriverPostgres, "postgres://x@localhost/p"
		}, ""},
		{"external nats on sqlite refused", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.NATSURL = "nats://127.0.0.1:4222"
		}, "needs shared storage"},
		{"peers without a name", func(c *Config) { c.Cluster.Peers = []string{"nats://127.0.0.1:6223"} }, "cluster.node_name: required"},
		{"bad name", func(c *Config) { c.Cluster.NodeName = "a.b" }, "cluster.node_name"},
		{"bad peer", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.Peers = []string{"127.0.0.1:6223"}
			c.Storage.Driver, c.Storage.PostgresDSN = DriverPostgres, "postgres://x@localhost/p"
		}, "cluster.peers[0]"},
		{"dead_after too short", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.DeadAfter = c.Cluster.Heartbeat
		}, "cluster.dead_after"},
		{"client address", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.ClientAddress, c.Cluster.ClientTLSAddress = "xmpp2.example.com:5222", "[2001:db8::2]:5223"
		}, ""},
		{"client address without a port", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.ClientAddress = "xmpp2.example.com"
		}, "cluster.client_address"},
		{"client address on a wildcard", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.ClientTLSAddress = "0.0.0.0:5223"
		}, "cluster.client_tls_address"},
		{"route TLS without the CA", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.TLSCert, c.Cluster.TLSKey = "/etc/parley/n1.crt", "/etc/parley/n1.key"
		}, "cluster.tls_cert: route TLS needs"},
		{"route TLS files missing", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.TLSCert, c.Cluster.TLSKey, c.Cluster.TLSCA = "/nonexistent/n1.crt", "/nonexistent/n1.key", "/nonexistent/ca.crt"
		}, "cluster.tls_ca"},
		{"drain rate zero", func(c *Config) {
			c.Cluster.NodeName = "n1"
			c.Cluster.DrainRate = 0
		}, "cluster.drain_rate"},
	}
	for _, tc := range cases {
		c := Default()
		tc.edit(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestClusterFromEnv(t *testing.T) {
	c, err := load("", map[string]string{
		"PARLEY_CLUSTER_NODE_NAME":    "n2",
		"PARLEY_CLUSTER_PEERS":        "nats://10.0.0.1:6222,nats://10.0.0.3:6222",
		"PARLEY_STORAGE_DRIVER":       "postgres",
		"PARLEY_STORAGE_POSTGRES_DSN": "postgres://parley@db/parley",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.NodeName != "n2" || len(c.Cluster.Peers) != 2 || c.Cluster.Peers[1] != "nats://10.0.0.3:6222" {
		t.Fatalf("cluster from env: %+v", c.Cluster)
	}
}
