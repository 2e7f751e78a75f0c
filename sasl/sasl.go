// Package sasl is the server side of the SASL mechanisms Parley offers:
// SCRAM-SHA-1, SCRAM-SHA-256, their -PLUS variants with channel binding
// (RFC 5802, RFC 7677, XEP-0440: tls-exporter and tls-server-end-point),
// and PLAIN. The SCRAM arithmetic is github.com/xdg-go/scram's; what is here
// is the wiring: choosing mechanisms, looking up stored keys, verifying PLAIN
// against the same stored keys, and deriving the keys from a password.
//
// It does not speak XMPP: the stream layer wraps the exchanges in <auth/>,
// <challenge/>, <response/> and <success/>.
package sasl

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-im/parley/storage"
	"github.com/xdg-go/scram"
)

// Mechanism names.
const (
	ScramSHA1        = "SCRAM-SHA-1"
	ScramSHA1Plus    = "SCRAM-SHA-1-PLUS"
	ScramSHA256      = "SCRAM-SHA-256"
	ScramSHA256Plus  = "SCRAM-SHA-256-PLUS"
	Plain            = "PLAIN"
	CBTLSExporter    = "tls-exporter"
	CBTLSServerEndPt = "tls-server-end-point"
	CBTLSUnique      = "tls-unique"
)

// Sentinel errors. The stream layer maps them to SASL failure conditions.
var (
	ErrNotAuthorized = errors.New("sasl: not authorized")
	ErrMalformed     = errors.New("sasl: malformed request")
	ErrMechanism     = errors.New("sasl: mechanism not offered")
	ErrBinding       = errors.New("sasl: channel binding type not supported")
	ErrTemporary     = errors.New("sasl: temporary failure")
)

// Lookup returns the stored account for a SASL username (a localpart).
// It returns storage.ErrNotFound for unknown users.
type Lookup func(username string) (storage.Account, error)

// Offer describes what a connection may use.
type Offer struct {
	TLS        *tls.ConnectionState // nil on a plain connection
	ServerCert *x509.Certificate    // our certificate, for tls-server-end-point
	AllowPlain bool                 // PLAIN is offered only when this and TLS
	// Secure: the connection is encrypted by something else than TLS
	// here (a reverse proxy that ended TLS, for a WebSocket): PLAIN may
	// be offered; channel binding may not.
	Secure bool
}

// Mechanisms lists the mechanisms to advertise, strongest first.
func (o Offer) Mechanisms() []string {
	var m []string
	if len(o.ChannelBindings()) > 0 {
		m = append(m, ScramSHA256Plus, ScramSHA1Plus)
	}
	m = append(m, ScramSHA256, ScramSHA1)
	if o.AllowPlain && (o.TLS != nil || o.Secure) {
		m = append(m, Plain)
	}
	return m
}

// ChannelBindings lists the channel-binding types this connection supports
// (XEP-0440). tls-exporter needs TLS 1.3 (or extended master secret, which
// Go always negotiates for 1.2 but cannot confirm; we offer it for 1.3 only).
func (o Offer) ChannelBindings() []string {
	if o.TLS == nil || !o.TLS.HandshakeComplete {
		return nil
	}
	var cb []string
	if o.TLS.Version >= tls.VersionTLS13 {
		cb = append(cb, CBTLSExporter)
	} else if len(o.TLS.TLSUnique) > 0 {
		// Older clients (slixmpp, for one) only know tls-unique, which
		// exists for TLS 1.2 and below.
		cb = append(cb, CBTLSUnique)
	}
	if o.ServerCert != nil {
		cb = append(cb, CBTLSServerEndPt)
	}
	return cb
}

// Conversation is one authentication exchange.
type Conversation interface {
	// Step consumes the client's message and returns the server's reply.
	// done is true when the exchange finished successfully; out is then the
	// additional data for <success/>.
	Step(in []byte) (out []byte, done bool, err error)
	// Username is the authenticated SASL username once done.
	Username() string
}

// NewConversation starts an exchange for mech, which must be one of
// o.Mechanisms().
func NewConversation(o Offer, mech string, lookup Lookup) (Conversation, error) {
	offered := false
	for _, m := range o.Mechanisms() {
		if m == mech {
			offered = true
		}
	}
	if !offered {
		return nil, fmt.Errorf("%w: %s", ErrMechanism, mech)
	}
	switch mech {
	case Plain:
		return &plainConv{lookup: lookup}, nil
	case ScramSHA1, ScramSHA1Plus:
		return newScram(o, scram.SHA1, mech == ScramSHA1Plus, lookup, func(a storage.Account) storage.Credentials { return a.SHA1 })
	default:
		return newScram(o, scram.SHA256, mech == ScramSHA256Plus, lookup, func(a storage.Account) storage.Credentials { return a.SHA256 })
	}
}

type scramConv struct {
	offer  Offer
	hash   scram.HashGeneratorFcn
	plus   bool
	server *scram.Server
	conv   *scram.ServerConversation
	step   int
}

func newScram(o Offer, h scram.HashGeneratorFcn, plus bool, lookup Lookup, pick func(storage.Account) storage.Credentials) (*scramConv, error) {
	srv, err := h.NewServer(func(user string) (scram.StoredCredentials, error) {
		a, err := lookup(user)
		if err != nil {
			return scram.StoredCredentials{}, err
		}
		c := pick(a)
		if len(c.StoredKey) == 0 {
			return scram.StoredCredentials{}, ErrNotAuthorized
		}
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
			StoredKey:  c.StoredKey,
			ServerKey:  c.ServerKey,
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	return &scramConv{offer: o, hash: h, plus: plus, server: srv}, nil
}

func (c *scramConv) Step(in []byte) ([]byte, bool, error) {
	c.step++
	if c.step == 1 {
		if err := c.start(string(in)); err != nil {
			return nil, false, err
		}
	}
	out, err := c.conv.Step(string(in))
	if err != nil {
		if strings.Contains(err.Error(), "credential") || errors.Is(err, storage.ErrNotFound) || errors.Is(err, ErrNotAuthorized) {
			return nil, false, fmt.Errorf("%w: %v", ErrNotAuthorized, err)
		}
		if c.step == 1 {
			return nil, false, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return nil, false, fmt.Errorf("%w: %v", ErrNotAuthorized, err)
	}
	if c.conv.Done() {
		if !c.conv.Valid() {
			return nil, false, ErrNotAuthorized
		}
		return []byte(out), true, nil
	}
	return []byte(out), false, nil
}

// start picks the channel binding the client asked for in its GS2 header,
// since the library checks the client's type against exactly one binding.
func (c *scramConv) start(first string) error {
	cbs := c.offer.ChannelBindings()
	if len(cbs) == 0 {
		if c.plus {
			return ErrMechanism
		}
		c.conv = c.server.NewConversation()
		return nil
	}
	typ := cbs[0]
	flag, _, _ := strings.Cut(first, ",")
	switch name, ok := strings.CutPrefix(flag, "p="); {
	case ok:
		if !c.plus {
			return fmt.Errorf("%w: channel binding requested with a non-PLUS mechanism", ErrMalformed)
		}
		typ = name
	case c.plus:
		return fmt.Errorf("%w: PLUS mechanism without channel binding", ErrMalformed)
	case flag == "y":
		// RFC 5802 would have us fail here: "y" after we advertised PLUS
		// can mean an attacker stripped it. But with several binding
		// types (XEP-0440 §6) a client that supports only a type we do
		// not offer — tls-unique under TLS 1.3 — honestly says "y", and
		// failing it locks such clients out. TLS with a verified
		// certificate already prevents the stripping; we accept.
		c.conv = c.server.NewConversation()
		return nil
	}
	cb, err := binding(c.offer, typ)
	if err != nil {
		return err
	}
	if c.plus {
		c.conv = c.server.NewConversationWithChannelBindingRequired(cb)
	} else {
		c.conv = c.server.NewConversationWithChannelBinding(cb)
	}
	return nil
}

func binding(o Offer, typ string) (scram.ChannelBinding, error) {
	switch typ {
	case CBTLSExporter:
		if o.TLS.Version < tls.VersionTLS13 {
			break
		}
		cb, err := scram.NewTLSExporterBinding(o.TLS)
		if err != nil {
			return cb, fmt.Errorf("%w: %v", ErrTemporary, err)
		}
		return cb, nil
	case CBTLSUnique:
		if o.TLS.Version >= tls.VersionTLS13 || len(o.TLS.TLSUnique) == 0 {
			break
		}
		return scram.NewTLSUniqueBinding(o.TLS.TLSUnique), nil
	case CBTLSServerEndPt:
		if o.ServerCert == nil {
			break
		}
		// The library hashes the peer's certificate, as a client would; on
		// the server side our own certificate is the one to hash.
		cb, err := scram.NewTLSServerEndpointBinding(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{o.ServerCert}})
		if err != nil {
			return cb, fmt.Errorf("%w: %v", ErrTemporary, err)
		}
		return cb, nil
	}
	return scram.ChannelBinding{}, fmt.Errorf("%w: %q", ErrBinding, typ)
}

func (c *scramConv) Username() string {
	if c.conv == nil {
		return ""
	}
	return c.conv.Username()
}

type plainConv struct {
	lookup Lookup
	user   string
}

func (p *plainConv) Step(in []byte) ([]byte, bool, error) {
	parts := strings.Split(string(in), "\x00")
	if len(parts) != 3 || parts[1] == "" {
		return nil, false, ErrMalformed
	}
	authz, user, pass := parts[0], parts[1], parts[2]
	if authz != "" && !strings.HasPrefix(authz, user+"@") {
		return nil, false, ErrNotAuthorized
	}
	a, err := p.lookup(user)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, false, ErrNotAuthorized
		}
		return nil, false, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	if !Verify(a.SHA256, scram.SHA256, pass) {
		return nil, false, ErrNotAuthorized
	}
	p.user = user
	return nil, true, nil
}

func (p *plainConv) Username() string { return p.user }

// Verify checks a password against stored SCRAM keys.
func Verify(c storage.Credentials, h scram.HashGeneratorFcn, password string) bool {
	if len(c.StoredKey) == 0 {
		return false
	}
	cl, err := h.NewClient("", password, "")
	if err != nil {
		return false
	}
	sc, err := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations})
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(sc.StoredKey, c.StoredKey) == 1
}

// Derive computes the SCRAM-SHA-1 and SCRAM-SHA-256 keys for a password,
// each with its own random salt. The password is SASLprepped by the library.
func Derive(password string, iterations int) (sha1, sha256 storage.Credentials, err error) {
	if password == "" {
		return sha1, sha256, errors.New("sasl: empty password")
	}
	if sha1, err = derive(scram.SHA1, password, iterations); err != nil {
		return sha1, sha256, err
	}
	sha256, err = derive(scram.SHA256, password, iterations)
	return sha1, sha256, err
}

func derive(h scram.HashGeneratorFcn, password string, iterations int) (storage.Credentials, error) {
	cl, err := h.NewClient("", password, "")
	if err != nil {
		return storage.Credentials{}, fmt.Errorf("sasl: password not usable: %w", err)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return storage.Credentials{}, err
	}
	sc, err := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iterations})
	if err != nil {
		return storage.Credentials{}, err
	}
	return storage.Credentials{Salt: salt, Iterations: iterations, StoredKey: sc.StoredKey, ServerKey: sc.ServerKey}, nil
}
