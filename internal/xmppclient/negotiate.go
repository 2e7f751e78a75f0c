package xmppclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// Dial connects and negotiates up to cfg.StopAfter (by default: a bound
// resource). On error nothing is left open. Errors from the server keep
// their types: *stanza.StreamError, *SASLFailure, *stanza.Error (bind).
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	if err := c.negotiate(ctx); err != nil {
		_ = c.nc.Close()
		return nil, err
	}
	return c, nil
}

// DialRaw connects to addr over plain TCP and sends nothing: the caller
// speaks for itself with SendRaw and reads with Next. OpenStream and the
// other steps work on it as on any Client.
func DialRaw(ctx context.Context, addr string) (*Client, error) {
	return Dial(ctx, Config{Addr: addr, StopAfter: StageConnect})
}

func (c *Client) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	dial := d.DialContext
	if c.cfg.Dialer != nil {
		dial = c.cfg.Dialer.DialContext
	}
	nc, err := dial(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return err
	}
	if c.cfg.DirectTLS {
		tc := tls.Client(nc, c.cfg.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return err
		}
		nc = tc
	}
	c.nc = nc
	c.wire = &wire{nc: nc}
	c.parser = stanza.NewParser(c.wire, c.cfg.Limits)
	return nil
}

func (c *Client) negotiate(ctx context.Context) error {
	stop := c.cfg.StopAfter.rank()
	if stop < StageFeatures.rank() {
		return nil
	}
	if _, err := c.OpenStream(ctx); err != nil {
		return err
	}
	if stop < StageTLS.rank() {
		return nil
	}
	if c.cfg.StartTLS {
		if err := c.StartTLS(ctx); err != nil {
			return err
		}
	}
	if stop < StageAuth.rank() {
		return nil
	}
	if err := c.Authenticate(ctx); err != nil {
		return err
	}
	if stop < StageBind.rank() {
		return nil
	}
	_, err := c.Bind(ctx)
	return err
}

// step bounds one negotiation step by Config.Timeout.
func (c *Client) step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

// OpenStream sends a stream header and reads the server's header and
// features, which it returns (also kept: see Features and Header).
func (c *Client) OpenStream(ctx context.Context) (*stanza.Element, error) {
	ctx, cancel := c.step(ctx)
	defer cancel()
	c.header, c.features = nil, nil
	hdr := stanza.StreamHeader(nil, stanza.NSClient,
		stanza.Attr{Name: "to", Value: c.cfg.Domain},
		stanza.Attr{Name: "version", Value: "1.0"},
		stanza.Attr{Name: "xml:lang", Value: "en"})
	if err := c.write(hdr); err != nil {
		return nil, err
	}
	c.opened.Store(true)
	restore := c.watch(ctx)
	defer restore()
	el, err := c.read()
	if err != nil {
		return nil, ctxError(ctx, err)
	}
	if c.header == nil || !el.Is("features", stanza.NSStream) {
		return nil, fmt.Errorf("%w: <%s xmlns='%s'/> instead of stream features", ErrProtocol, el.Name, el.Space)
	}
	c.features = el
	return el, nil
}

// StartTLS upgrades the connection (RFC 6120 §5) and restarts the stream.
// A <failure/> from the server is ErrTLSRefused.
func (c *Client) StartTLS(ctx context.Context) error {
	sctx, cancel := c.step(ctx)
	defer cancel()
	if err := c.write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")); err != nil {
		return err
	}
	restore := c.watch(sctx)
	el, err := c.read()
	restore()
	switch {
	case err != nil:
		return ctxError(sctx, err)
	case el.Is("failure", stanza.NSTLS):
		return ErrTLSRefused
	case !el.Is("proceed", stanza.NSTLS):
		return fmt.Errorf("%w: <%s/> in reply to <starttls/>", ErrProtocol, el.Name)
	}
	tc := tls.Client(c.nc, c.cfg.tlsConfig())
	if err := tc.HandshakeContext(sctx); err != nil {
		return err
	}
	c.wmu.Lock()
	c.nc = tc
	c.wmu.Unlock()
	c.wire = &wire{nc: tc}
	c.parser.Reset(c.wire)
	_, err = c.OpenStream(ctx)
	return err
}

// Bind binds Config.Resource, or a resource the server picks (RFC 6120 §7),
// and returns the full JID.
func (c *Client) Bind(ctx context.Context) (jid.JID, error) {
	ctx, cancel := c.step(ctx)
	defer cancel()
	b := stanza.New("bind", stanza.NSBind)
	if c.cfg.Resource != "" {
		b.Append(stanza.New("resource", stanza.NSBind).SetText(c.cfg.Resource))
	}
	reply, err := c.Request(ctx, stanza.New("iq", stanza.NSClient, "type", "set").Append(b))
	if err != nil {
		return jid.JID{}, err
	}
	var text string
	if rb := reply.Child("bind", stanza.NSBind); rb != nil {
		if j := rb.Child("jid", stanza.NSBind); j != nil {
			text = j.Text()
		}
	}
	full, err := jid.Parse(text)
	if err != nil || full.IsBare() {
		return jid.JID{}, fmt.Errorf("%w: bound JID %q", ErrProtocol, text)
	}
	c.jid = full
	return full, nil
}
