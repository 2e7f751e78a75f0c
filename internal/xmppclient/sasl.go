package xmppclient

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"github.com/parley-im/parley/stanza"
	"github.com/xdg-go/scram"
)

// Authenticate runs SASL (RFC 6120 §6) with Config's mechanism and
// credentials, then restarts the stream. A <failure/> is a *SASLFailure; a
// SCRAM server that cannot prove it knows the password is ErrServerProof.
func (c *Client) Authenticate(ctx context.Context) error {
	sctx, cancel := c.step(ctx)
	defer cancel()
	if err := c.exchange(sctx); err != nil {
		return err
	}
	// RFC 6120 §6.4.6: the stream restarts after success.
	c.parser.Reset(c.wire)
	_, err := c.OpenStream(ctx)
	return err
}

// mechanism is the client side of one SASL exchange.
type mechanism interface {
	// step answers a challenge (nil for the initial response).
	step(challenge []byte) ([]byte, error)
	// success checks the additional data of <success/>.
	success(data []byte) error
}

func (c *Client) exchange(ctx context.Context) error {
	m, err := c.mechanism()
	if err != nil {
		return err
	}
	out, err := m.step(nil)
	if err != nil {
		return err
	}
	if err := c.write(saslElement("auth", c.cfg.Mechanism, out)); err != nil {
		return err
	}
	restore := c.watch(ctx)
	defer restore()
	for {
		el, err := c.read()
		if err != nil {
			return ctxError(ctx, err)
		}
		if el.Space != stanza.NSSASL {
			return fmt.Errorf("%w: <%s xmlns='%s'/> during SASL", ErrProtocol, el.Name, el.Space)
		}
		data, err := decode64(el.Text())
		if err != nil {
			return c.abort(err)
		}
		switch el.Name {
		case "challenge":
			out, err := m.step(data)
			if err != nil {
				return c.abort(err)
			}
			if err := c.write(saslElement("response", "", out)); err != nil {
				return err
			}
		case "success":
			return m.success(data)
		case "failure":
			return parseSASLFailure(el)
		default:
			return fmt.Errorf("%w: <%s/> during SASL", ErrProtocol, el.Name)
		}
	}
}

// abort gives up an exchange the server got wrong, reading the server's
// <failure/> so the stream stays in step, and returns why.
func (c *Client) abort(why error) error {
	if err := c.write([]byte("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")); err != nil {
		return why
	}
	for {
		el, err := c.read()
		if err != nil || el.Is("failure", stanza.NSSASL) {
			return why
		}
	}
}

// saslElement writes <auth/> (when mech is set) or <response/>.
func saslElement(name, mech string, data []byte) []byte {
	el := stanza.New(name, stanza.NSSASL)
	if mech != "" {
		el.SetAttr("mechanism", mech)
	}
	switch {
	case len(data) > 0:
		el.SetText(base64.StdEncoding.EncodeToString(data))
	case name == "auth":
		el.SetText("=") // an empty initial response (RFC 6120 §6.4.2)
	}
	return el.AppendXML(nil, stanza.NSClient)
}

func decode64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "=" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64 from server: %v", ErrProtocol, err)
	}
	return b, nil
}

func (c *Client) mechanism() (mechanism, error) {
	var h scram.HashGeneratorFcn
	switch c.cfg.Mechanism {
	case Plain:
		return &plain{user: c.cfg.Username, pass: c.cfg.Password}, nil
	case ScramSHA1, ScramSHA1Plus:
		h = scram.SHA1
	case ScramSHA256, ScramSHA256Plus:
		h = scram.SHA256
	default:
		// Unknown to us: send it with an empty response so tests can see
		// the server refuse it.
		return &plain{sent: true}, nil
	}
	cl, err := c.cfg.SaltedCache.client(h, c.cfg.Mechanism, c.cfg.Username, c.cfg.Password, c.cfg.MinIterations)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(c.cfg.Mechanism, "-PLUS") {
		return &scramMech{conv: cl.NewConversation()}, nil
	}
	cb, err := c.channelBinding()
	if err != nil {
		return nil, err
	}
	return &scramMech{conv: cl.NewConversationWithChannelBinding(cb)}, nil
}

func (c *Client) channelBinding() (scram.ChannelBinding, error) {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return scram.ChannelBinding{}, fmt.Errorf("%w: no TLS", ErrChanBinding)
	}
	st := tc.ConnectionState()
	var cb scram.ChannelBinding
	var err error
	switch c.cfg.ChannelBinding {
	case TLSExporter:
		if st.Version < tls.VersionTLS13 {
			return cb, fmt.Errorf("%w: tls-exporter needs TLS 1.3", ErrChanBinding)
		}
		cb, err = scram.NewTLSExporterBinding(&st)
	case TLSServerEndpoint:
		cb, err = scram.NewTLSServerEndpointBinding(&st)
	default:
		return cb, fmt.Errorf("%w: unknown type %q", ErrChanBinding, c.cfg.ChannelBinding)
	}
	if err != nil {
		return cb, fmt.Errorf("%w: %v", ErrChanBinding, err)
	}
	return cb, nil
}

// plain is RFC 4616 PLAIN, with no authorization identity. It answers
// anything after the initial response with nothing.
type plain struct {
	user, pass string
	sent       bool
}

func (p *plain) step([]byte) ([]byte, error) {
	if p.sent {
		return nil, nil
	}
	p.sent = true
	return []byte("\x00" + p.user + "\x00" + p.pass), nil
}

func (*plain) success([]byte) error { return nil }

// scramMech is SCRAM (RFC 5802, RFC 7677); the library checks the
// server's signature.
type scramMech struct {
	conv *scram.ClientConversation
}

func (s *scramMech) step(challenge []byte) ([]byte, error) {
	out, err := s.conv.Step(string(challenge))
	if s.conv.Done() && (err != nil || !s.conv.Valid()) {
		// The server-final message came as a challenge (RFC 6120 §6.3.10
		// allows it) and did not check out.
		return nil, fmt.Errorf("%w: %v", ErrServerProof, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return []byte(out), nil
}

func (s *scramMech) success(data []byte) error {
	if s.conv.Done() {
		if !s.conv.Valid() {
			return ErrServerProof
		}
		return nil
	}
	if len(data) == 0 {
		return fmt.Errorf("%w: <success/> without the server signature", ErrServerProof)
	}
	if _, err := s.conv.Step(string(data)); err != nil || !s.conv.Valid() {
		return fmt.Errorf("%w: %v", ErrServerProof, err)
	}
	return nil
}

// SaltCache keeps the keys derived from passwords, per user, password,
// salt and iteration count, so repeated logins skip PBKDF2 as real clients
// do. It is safe for concurrent use; the zero value is ready. Entries are
// never evicted: it is for a bounded set of test and bench accounts.
type SaltCache struct {
	mu sync.Mutex
	m  map[saltKey]*scram.Client
}

type saltKey struct {
	mech, user, pass string
	minIters         int
}

// client returns the library client for these credentials, which caches
// derived keys per (salt, iterations); a nil cache makes a fresh one.
func (sc *SaltCache) client(h scram.HashGeneratorFcn, mech, user, pass string, minIters int) (*scram.Client, error) {
	// The -PLUS variants derive the same keys as their base mechanism.
	mech = strings.TrimSuffix(mech, "-PLUS")
	k := saltKey{mech, user, pass, minIters}
	if sc != nil {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if cl, ok := sc.m[k]; ok {
			return cl, nil
		}
	}
	cl, err := h.NewClient(user, pass, "")
	if err != nil {
		return nil, fmt.Errorf("%w: SCRAM credentials: %v", ErrConfig, err)
	}
	cl.WithMinIterations(minIters)
	if sc != nil {
		if sc.m == nil {
			sc.m = make(map[saltKey]*scram.Client)
		}
		sc.m[k] = cl
	}
	return cl, nil
}
