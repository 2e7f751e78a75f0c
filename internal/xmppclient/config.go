package xmppclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/parley-im/parley/stanza"
)

// Stage is a point in stream negotiation at which Dial may stop.
type Stage string

// The stages, in order. Dial stops after the stage named by
// Config.StopAfter; the methods of the same names continue from there.
const (
	StageConnect  Stage = "connect"  // TCP (and direct TLS) up; nothing sent
	StageFeatures Stage = "features" // first stream open, features read
	StageTLS      Stage = "tls"      // STARTTLS done, stream restarted
	StageAuth     Stage = "auth"     // SASL done, stream restarted
	StageBind     Stage = "bind"     // resource bound: the default
)

func (s Stage) rank() int {
	switch s {
	case StageConnect:
		return 0
	case StageFeatures:
		return 1
	case StageTLS:
		return 2
	case StageAuth:
		return 3
	case StageBind, "":
		return 4
	}
	return -1
}

// SASL mechanism names.
const (
	ScramSHA1       = "SCRAM-SHA-1"
	ScramSHA1Plus   = "SCRAM-SHA-1-PLUS"
	ScramSHA256     = "SCRAM-SHA-256"
	ScramSHA256Plus = "SCRAM-SHA-256-PLUS"
	Plain           = "PLAIN"
)

// Channel-binding types for the -PLUS mechanisms (XEP-0440).
const (
	TLSExporter       = "tls-exporter"
	TLSServerEndpoint = "tls-server-end-point"
)

// Config says where to connect and how to negotiate. The zero values of
// the optional fields are the usual choices.
type Config struct {
	Addr     string // host:port
	Domain   string // the stream's 'to'; default: the host of Addr
	Username string // SASL username: the localpart
	Password string
	Resource string // "" lets the server pick

	// TLS is used for STARTTLS or direct TLS (XEP-0368). When nil and one
	// of them is asked for, a default config verifying Domain is used.
	TLS       *tls.Config
	StartTLS  bool
	DirectTLS bool

	// Mechanism is sent as is, whether or not the server offers it, so
	// tests can see the server refuse. Default SCRAM-SHA-256.
	Mechanism string
	// ChannelBinding is the type used by -PLUS mechanisms. Default
	// tls-exporter.
	ChannelBinding string
	// MinIterations is the fewest PBKDF2 iterations accepted from the
	// server. Default 4096 (RFC 7677); tests whose server uses fewer lower it.
	MinIterations int
	// SaltedCache, when set, keeps salted passwords across logins, as real
	// clients do, so bench reconnects do not redo PBKDF2.
	SaltedCache *SaltCache

	// Limits bound what the parser accepts from the server; the zero value
	// is the parser's defaults.
	Limits stanza.Limits

	// StopAfter ends Dial after this stage. Default StageBind.
	StopAfter Stage
	// Timeout bounds each negotiation step and each write. Default 10s.
	Timeout time.Duration
	// Dialer dials Addr. Default a net.Dialer.
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
}

func (c *Config) defaults() error {
	if c.Addr == "" {
		return fmt.Errorf("%w: no address", ErrConfig)
	}
	if c.Domain == "" {
		host, _, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return fmt.Errorf("%w: address %q: %v", ErrConfig, c.Addr, err)
		}
		c.Domain = host
	}
	if c.StopAfter.rank() < 0 {
		return fmt.Errorf("%w: unknown stage %q", ErrConfig, c.StopAfter)
	}
	if c.StopAfter == "" {
		c.StopAfter = StageBind
	}
	if c.Mechanism == "" {
		c.Mechanism = ScramSHA256
	}
	if c.ChannelBinding == "" {
		c.ChannelBinding = TLSExporter
	}
	if c.MinIterations == 0 {
		c.MinIterations = 4096
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	return nil
}

// tlsConfig returns the TLS config to use, with ServerName filled in.
func (c *Config) tlsConfig() *tls.Config {
	if c.TLS == nil {
		return &tls.Config{ServerName: c.Domain}
	}
	if c.TLS.ServerName != "" || c.TLS.InsecureSkipVerify {
		return c.TLS
	}
	t := c.TLS.Clone()
	t.ServerName = c.Domain
	return t
}
