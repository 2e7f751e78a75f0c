package c2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

const (
	nsRegFeature  = "http://jabber.org/features/iq-register"
	nsSASLCB      = "urn:xmpp:sasl-cb:0"
	maxAuthFailed = 3
)

// openStream answers a stream header (RFC 6120 §4.2-4.3) with ours and the
// features the stream's state allows.
func (c *conn) openStream(h *stanza.Element) error {
	first := c.streamID == ""
	c.streamID = randomID(8)
	to := h.Attr("to")
	if d, err := jid.Parse(to); err == nil && d.Local() == "" && d.Resource() == "" {
		to = d.Domain()
	}
	if first || c.host == "" {
		c.host = to
	}
	// The header goes out before any error so the client can parse it.
	reply := appendHeader(nil, c.headerFrom(), h.Attr("from"), c.streamID)
	if to == "" || !c.srv.hosts[to] || to != c.host {
		c.out.sendRaw(reply)
		return stanza.NewStreamError(stanza.HostUnknown, "this server does not serve "+quoteOrEmpty(to))
	}
	if v := h.Attr("version"); !versionOK(v) {
		c.out.sendRaw(reply)
		return stanza.NewStreamError(stanza.UnsupportedVersion, "XMPP 1.0 is required")
	}
	if c.web && !c.secure && c.srv.cfg.RequireTLS {
		// The WebSocket's own TLS (or a proxy's) is the only TLS there is.
		c.out.sendRaw(reply)
		return stanza.NewStreamError(stanza.StreamPolicyViolation, "this server requires TLS: connect with wss://")
	}
	reply = c.features().AppendXML(reply, stanza.NSClient)
	c.out.sendRaw(reply)
	return nil
}

func quoteOrEmpty(s string) string {
	if s == "" {
		return "an empty 'to' address"
	}
	return "'" + s + "'"
}

// versionOK accepts 1.x: the major version must be 1 (RFC 6120 §4.7.5).
func versionOK(v string) bool {
	major, _, _ := strings.Cut(v, ".")
	return major == "1"
}

// appendHeader writes our stream header.
func appendHeader(b []byte, from, to, id string) []byte {
	b = append(b, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en'"...)
	if id != "" {
		b = append(b, " id='"...)
		b = append(b, id...)
		b = append(b, '\'')
	}
	for _, a := range [][2]string{{"from", from}, {"to", to}} {
		if a[1] == "" {
			continue
		}
		b = append(b, ' ')
		b = append(b, a[0]...)
		b = append(b, "='"...)
		b = append(b, escapeAttr(a[1])...)
		b = append(b, '\'')
	}
	return append(b, '>')
}

func escapeAttr(s string) string {
	if !strings.ContainsAny(s, "<>&'\"") {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", "\"", "&quot;").Replace(s)
}

// features lists what the client may do next.
func (c *conn) features() *stanza.Element {
	f := stanza.New("features", stanza.NSStream)
	// Over WebSocket, TLS is the HTTP connection's business.
	tlsAvailable := c.srv.cfg.TLS != nil && !c.secure && !c.web
	if tlsAvailable {
		st := stanza.New("starttls", stanza.NSTLS)
		if c.srv.cfg.RequireTLS {
			st.Append(stanza.New("required", stanza.NSTLS))
			f.Append(st)
			return f
		}
		f.Append(st)
	}
	if c.user.IsZero() {
		mechs := stanza.New("mechanisms", stanza.NSSASL)
		offer := c.offer()
		for _, m := range offer.Mechanisms() {
			mechs.Append(stanza.New("mechanism", stanza.NSSASL).SetText(m))
		}
		f.Append(mechs)
		if cbs := offer.ChannelBindings(); len(cbs) > 0 {
			cb := stanza.New("sasl-channel-binding", nsSASLCB)
			for _, t := range cbs {
				cb.Append(stanza.New("channel-binding", nsSASLCB, "type", t))
			}
			f.Append(cb)
		}
		if c.srv.cfg.Registration {
			f.Append(stanza.New("register", nsRegFeature))
		}
		return f
	}
	f.Append(stanza.New("bind", stanza.NSBind))
	if c.srv.cfg.SM {
		f.Append(stanza.New("sm", nsSM))
	}
	f.Append(stanza.New("csi", nsCSI))
	f.Append(stanza.New("session", stanza.NSSession).Append(stanza.New("optional", stanza.NSSession)))
	f.Append(stanza.New("ver", stanza.NSRosterV))
	f.Append(stanza.New("sub", stanza.NSPreAppr))
	if c.srv.cfg.Caps != nil {
		f.Append(c.srv.cfg.Caps())
	}
	return f
}

func (c *conn) offer() sasl.Offer {
	o := sasl.Offer{AllowPlain: c.srv.cfg.AllowPlain, ServerCert: c.srv.cfg.ServerCert, Secure: c.web && c.secure,
		NoCommonBinding: c.noCommonCB}
	if tc, ok := c.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		o.TLS = &st
	}
	return o
}

// onStartTLS upgrades the connection (RFC 6120 §5).
func (c *conn) onStartTLS() error {
	if c.srv.cfg.TLS == nil || c.secure || !c.user.IsZero() {
		c.out.sendRaw([]byte("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"))
		return errTLSRefused
	}
	if !c.onlySpaceBuffered() {
		// Bytes pipelined after <starttls/> would be taken as sent inside
		// TLS (the STARTTLS injection attack, CVE-2011-0411 and kin).
		// White space is harmless (starttls.go).
		return stanza.NewStreamError(stanza.StreamPolicyViolation, "data after <starttls/> before the TLS handshake")
	}
	c.out.sendRaw([]byte("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	c.nc = &skipSpaceConn{Conn: c.nc}
	if !c.startTLS() {
		return errTLSFailed
	}
	c.streamID = ""
	// A new reader makes the parser drop what it buffered before TLS:
	// white space, as checked above.
	c.idle = &idleReader{c: c}
	c.parser.Reset(c.idle)
	return nil
}

var (
	errTLSRefused = errors.New("c2s: STARTTLS refused")
	errTLSFailed  = errors.New("c2s: TLS handshake failed")
)

// startTLS runs the server side of the TLS handshake on the raw connection.
func (c *conn) startTLS() bool {
	tc := tls.Server(c.nc, c.srv.cfg.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.AuthTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.srv.log.Debug("c2s: TLS handshake failed", "remote", c.nc.RemoteAddr(), "err", err)
		_ = c.nc.Close()
		return false
	}
	c.nc = tc
	c.secure = true
	return true
}

// onSASL runs the SASL exchange (RFC 6120 §6).
func (c *conn) onSASL(el *stanza.Element) error {
	if !c.user.IsZero() {
		return stanza.NewStreamError(stanza.StreamPolicyViolation, "already authenticated")
	}
	switch el.Name {
	case "auth":
		if c.srv.cfg.TLS != nil && c.srv.cfg.RequireTLS && !c.secure {
			c.saslFailure("encryption-required", "STARTTLS first")
			return nil
		}
		if !c.srv.login.allow(remoteIP(c.nc)) {
			c.saslFailureFor("rate-limited", "temporary-auth-failure", "too many login attempts from your address; try again shortly")
			return nil
		}
		lookup := func(user string) (storage.Account, error) {
			j, err := jid.New(user, c.host, "")
			if err != nil {
				return storage.Account{}, storage.ErrNotFound
			}
			return c.srv.store.Account(context.Background(), j.String())
		}
		mech := el.Attr("mechanism")
		conv, err := sasl.NewConversation(c.offer(), mech, lookup)
		if err != nil {
			c.saslFailure("invalid-mechanism", "")
			return nil
		}
		c.saslMech, c.sasl = mech, conv
		return c.saslStep(el.Text())
	case "response":
		if c.sasl == nil {
			c.saslFailure("malformed-request", "no exchange in progress")
			return nil
		}
		return c.saslStep(el.Text())
	case "abort":
		c.sasl = nil
		c.saslFailure("aborted", "")
		return nil
	}
	return stanza.NewStreamError(stanza.UnsupportedStanzaType, "unexpected SASL element <"+el.Name+"/>")
}

func (c *conn) saslStep(text string) error {
	var in []byte
	if text != "" && text != "=" {
		var err error
		if in, err = base64.StdEncoding.DecodeString(strings.TrimSpace(text)); err != nil {
			c.sasl = nil
			c.saslFailure("incorrect-encoding", "")
			return nil
		}
	}
	out, done, err := c.sasl.Step(in)
	if err != nil {
		c.sasl = nil
		cond, text, reason := "not-authorized", "", ""
		switch {
		case errors.Is(err, sasl.ErrBinding):
			// The client knows the password and can bind, but not with
			// what this connection has: its "y" is now honest
			// (docs/authentication.md).
			c.noCommonCB = true
			cond = "malformed-request"
			text = "channel binding type not supported; supported: " + strings.Join(c.offer().ChannelBindings(), ", ")
		case errors.Is(err, sasl.ErrDowngrade):
			// RFC 5802 §6: a downgrade, or a client that ignores -PLUS.
			reason = "channel-binding-downgrade"
			text = "this server offered SCRAM-*-PLUS: a client that supports channel binding must use it (gs2 flag 'y' refused)"
		case errors.Is(err, sasl.ErrMalformed):
			cond = "malformed-request"
		case errors.Is(err, sasl.ErrTemporary):
			cond = "temporary-auth-failure"
		}
		if reason == "" {
			reason = cond
		}
		c.saslFailureFor(reason, cond, text)
		// Only failed authentications count towards the limit: a client
		// trying its mechanisms in turn is not guessing passwords.
		if cond != "not-authorized" {
			return nil
		}
		if c.authFail++; c.authFail >= maxAuthFailed {
			return stanza.NewStreamError(stanza.StreamPolicyViolation, "too many failed authentication attempts")
		}
		return nil
	}
	if !done {
		c.out.sendRaw(saslElement("challenge", out))
		return nil
	}
	user, err := jid.New(c.sasl.Username(), c.host, "")
	if err != nil {
		c.sasl = nil
		c.saslFailure("not-authorized", "")
		return nil
	}
	c.srv.cfg.Metrics.Logins.WithLabelValues(c.saslMech).Inc()
	c.user, c.sasl = user, nil
	c.out.sendRaw(saslElement("success", out))
	// RFC 6120 §6.4.6: the stream restarts after success.
	c.streamID = ""
	c.parser.Reset(c.idle)
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.AuthTimeout))
	return nil
}

func saslElement(name string, data []byte) []byte {
	b := []byte("<" + name + " xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>")
	if len(data) > 0 {
		b = base64.StdEncoding.AppendEncode(b, data)
	}
	return append(b, "</"+name+">"...)
}

// saslFailure ends the exchange with a SASL failure, counted by its
// condition.
func (c *conn) saslFailure(cond, text string) { c.saslFailureFor(cond, cond, text) }

// saslFailureFor is saslFailure counted under reason.
func (c *conn) saslFailureFor(reason, cond, text string) {
	c.srv.cfg.Metrics.AuthFailures.WithLabelValues(reason).Inc()
	f := stanza.New("failure", stanza.NSSASL).Append(stanza.New(cond, stanza.NSSASL))
	if text != "" {
		f.Append(stanza.New("text", stanza.NSSASL, "xml:lang", "en").SetText(text))
	}
	c.out.send(f)
}
