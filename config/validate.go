package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley/jid"
)

// Validate checks every setting and returns all problems found, each an
// *Error naming its key, joined with errors.Join; nil means the Config is
// usable. It reads the file system only to check that TLS files exist.
func (c Config) Validate() error {
	var v validator
	v.hosts(c.Hosts)
	v.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	if c.DataDir == "" {
		v.add("data_dir", "must not be empty")
	}
	v.listeners(c.Listeners)
	v.tls(c.TLS)
	v.oneOf("storage.driver", c.Storage.Driver, DriverSQLite, DriverPostgres)
	if c.Storage.Driver == DriverPostgres && c.Storage.PostgresDSN == "" {
		v.add("storage.postgres_dsn", "required when storage.driver is postgres")
	}
	v.between("auth.scram_iterations", c.Auth.SCRAMIterations, 4096, 10_000_000)
	v.between("registration.min_password_length", c.Registration.MinPasswordLength, 1, 1023)
	v.limits(c.Limits)
	v.cluster(c.Cluster, c.Storage.Driver)
	if c.StreamManagement.ResumeTimeout < 0 {
		v.add("stream_management.resume_timeout", "must not be negative (0 switches resumption off), got %s", c.StreamManagement.ResumeTimeout)
	}
	v.between("stream_management.max_unacked", c.StreamManagement.MaxUnacked, 10, 1_000_000)
	v.components(c.Components, c.Hosts)
	v.api(c.API, c.Listeners.HTTP.Address)
	v.admin(c.Admin, c.Hosts, c.Listeners.HTTP.Address)
	if a := c.Debug.PprofAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.add("debug.pprof_address", "must be host:port, e.g. 127.0.0.1:6060; got %q", a)
		}
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, invalid(key, fmt.Sprintf(format, args...)))
}

func (v *validator) between(key string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(key, "must be between %d and %d, got %d", lo, hi, n)
	}
}

func (v *validator) atLeast(key string, n, lo int) {
	if n < lo {
		v.add(key, "must be at least %d, got %d", lo, n)
	}
}

func (v *validator) oneOf(key, s string, allowed ...string) {
	if !slices.Contains(allowed, s) {
		v.add(key, "must be one of %s; got %q", strings.Join(allowed, ", "), s)
	}
}

func (v *validator) hosts(hosts []string) {
	if len(hosts) == 0 {
		v.add("hosts", "at least one host is required")
	}
	for i, h := range hosts {
		key := fmt.Sprintf("hosts[%d]", i)
		j, err := jid.Parse(h)
		switch {
		case err != nil:
			v.add(key, "%q is not a valid domain: %v", h, err)
		case j.Local() != "" || j.Resource() != "":
			v.add(key, "%q must be a domain, without localpart or resource", h)
		case j.String() != h:
			v.add(key, "%q is not in canonical form; write %q", h, j.String())
		case slices.Index(hosts, h) < i:
			v.add(key, "%q is listed twice", h)
		}
	}
}

func (v *validator) listeners(l Listeners) {
	for _, p := range l.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			v.add("listeners.http.trusted_proxies", "%q is not a network in CIDR form (like 10.0.0.0/8)", p)
		}
	}
	if u := l.HTTP.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || (pu.Path != "" && pu.Path != "/") {
			v.add("listeners.http.public_url", "must be an http or https URL without a path, like https://chat.example.com; got %q", u)
		}
	}
	seen := map[string]string{}
	for _, a := range []struct{ key, addr string }{
		{"listeners.c2s.address", l.C2S.Address},
		{"listeners.c2s_tls.address", l.C2STLS.Address},
		{"listeners.http.address", l.HTTP.Address},
		{"listeners.component.address", l.Component.Address},
	} {
		if a.addr == "" {
			continue
		}
		_, port, err := net.SplitHostPort(a.addr)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			v.add(a.key, "must be host:port with a numeric port, or empty to disable; got %q", a.addr)
			continue
		}
		if other, dup := seen[a.addr]; dup && port != "0" {
			v.add(a.key, "%q is already used by %s", a.addr, other)
		}
		seen[a.addr] = a.key
	}
}

func (v *validator) tls(t TLS) {
	switch {
	case t.Cert != "" && t.Key == "":
		v.add("tls.key", "must be set when tls.cert is")
	case t.Cert == "" && t.Key != "":
		v.add("tls.cert", "must be set when tls.key is")
	case t.Cert != "":
		v.file("tls.cert", t.Cert)
		v.file("tls.key", t.Key)
	}
	v.oneOf("tls.min_version", t.MinVersion, "1.2", "1.3")
}

func (v *validator) file(key, path string) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		v.add(key, "%v", err)
	case !fi.Mode().IsRegular():
		v.add(key, "%q is not a regular file", path)
	}
}

func (v *validator) limits(l Limits) {
	v.between("limits.max_stanza_bytes", l.MaxStanzaBytes, 1024, 16<<20)
	v.between("limits.max_depth", l.MaxDepth, 4, 1024)
	v.between("limits.max_attrs", l.MaxAttrs, 8, 1024)
	v.atLeast("limits.max_connections", l.MaxConnections, 1)
	v.atLeast("limits.max_connections_per_ip", l.MaxConnectionsPerIP, 0)
	if l.LoginRatePerIP < 0 || math.IsNaN(l.LoginRatePerIP) || math.IsInf(l.LoginRatePerIP, 0) {
		v.add("limits.login_rate_per_ip", "must be a finite number >= 0, got %v", l.LoginRatePerIP)
	}
	v.atLeast("limits.max_offline_messages", l.MaxOfflineMessages, 0)
	v.duration("limits.auth_timeout", l.AuthTimeout, time.Second)
	v.duration("limits.idle_timeout", l.IdleTimeout, 0)
	v.duration("limits.ping_interval", l.PingInterval, 0)
	if l.PingInterval > 0 {
		v.duration("limits.ping_timeout", l.PingTimeout, time.Second)
	}
	v.atLeast("limits.max_resources_per_user", l.MaxResourcesPerUser, 1)
}

func (v *validator) duration(key string, d, lo time.Duration) {
	if d < lo {
		v.add(key, "must be at least %v, got %v", lo, d)
	}
}

func (v *validator) cluster(c Cluster, driver string) {
	if !c.Enabled() {
		if len(c.Peers) > 0 || c.NATSURL != "" {
			v.add("cluster.node_name", "required when cluster.peers or cluster.nats_url is set")
		}
		return
	}
	if _, err := jid.New("", c.NodeName, ""); err != nil || strings.ContainsAny(c.NodeName, ".*> ") {
		v.add("cluster.node_name", "must be a simple name of letters, digits, '-' and '_' (it names NATS subjects); got %q", c.NodeName)
	}
	if c.NATSURL == "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
			v.add("cluster.listen", "must be host:port for the embedded NATS cluster listener; got %q", c.Listen)
		}
	}
	for i, p := range c.Peers {
		if !strings.HasPrefix(p, "nats://") && !strings.HasPrefix(p, "nats-route://") {
			v.add(fmt.Sprintf("cluster.peers[%d]", i), "must be a route URL like nats://10.0.0.2:6222; got %q", p)
		}
	}
	if set := btoi(c.TLSCert != "") + btoi(c.TLSKey != "") + btoi(c.TLSCA != ""); set > 0 {
		if set < 3 {
			v.add("cluster.tls_cert", "route TLS needs cluster.tls_cert, cluster.tls_key and cluster.tls_ca together")
		} else {
			v.file("cluster.tls_cert", c.TLSCert)
			v.file("cluster.tls_key", c.TLSKey)
			v.file("cluster.tls_ca", c.TLSCA)
		}
		if c.NATSURL != "" {
			v.add("cluster.tls_cert", "not used with cluster.nats_url: configure TLS in the URL (tls://) and the external NATS cluster")
		}
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		v.add("cluster.secret", "must be at least 16 characters (every node has the same one; e.g. the output of: openssl rand -hex 24)")
	}
	if c.Secret != "" && c.NATSURL != "" {
		v.add("cluster.secret", "not used with cluster.nats_url: authenticate to an external NATS cluster in the URL or its own configuration")
	}
	if c.NATSURL != "" && len(c.Peers) > 0 {
		v.add("cluster.peers", "not used with cluster.nats_url: an external NATS cluster routes by itself")
	}
	if driver == DriverSQLite && (len(c.Peers) > 0 || c.NATSURL != "") {
		v.add("storage.driver", "a cluster of several nodes needs shared storage: SQLite is one node's file; set storage.driver: postgres and storage.postgres_dsn")
	}
	if c.Heartbeat < 50*time.Millisecond {
		v.add("cluster.heartbeat", "must be at least 50ms, got %s", c.Heartbeat)
	}
	if c.DeadAfter < 2*c.Heartbeat {
		v.add("cluster.dead_after", "must be at least twice cluster.heartbeat (%s), got %s", c.Heartbeat, c.DeadAfter)
	}
	if c.MaxClockSkew < 0 || c.MaxClockSkew > time.Minute {
		v.add("cluster.max_clock_skew", "must be between 0s and 1m, got %s", c.MaxClockSkew)
	}
	for key, a := range map[string]string{"cluster.client_address": c.ClientAddress, "cluster.client_tls_address": c.ClientTLSAddress} {
		if a == "" {
			continue
		}
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" || host == "0.0.0.0" || host == "::" {
			v.add(key, "must be the host:port clients can reach this node at, e.g. xmpp2.example.com:5222; got %q", a)
		}
	}
	if c.DrainRate < 1 {
		v.add("cluster.drain_rate", "must be at least 1 (clients moved per second), got %d", c.DrainRate)
	}
	v.duration("cluster.drain_timeout", c.DrainTimeout, time.Second)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
