// Package sasl is the server side of the SASL mechanisms Parley offers:
// SCRAM-SHA-1, SCRAM-SHA-256, their -PLUS variants with channel binding
// (RFC 5802, RFC 7677; tls-exporter, tls-server-end-point and, below TLS
// 1.3, tls-unique, announced as XEP-0440 says), SCRAM downgrade protection
// (XEP-0474), and PLAIN. It chooses what a connection is offered, runs the
// SCRAM exchange against stored keys (scram.go), checks PLAIN against the
// same keys, and derives the keys from a password (github.com/xdg-go/scram
// does that PBKDF2 arithmetic). docs/authentication.md says what is offered
// when, and why.
//
// It does not speak XMPP: the stream layer wraps the exchanges in <auth/>,
// <challenge/>, <response/> and <success/>, and keeps what one attempt
// teaches about the next (Offer.NoCommonBinding).
package sasl

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
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
	ErrTemporary     = errors.New("sasl: temporary failure")
	// ErrBinding: a -PLUS exchange named a channel-binding type this
	// connection does not offer. It comes only once the client's proof
	// has checked out, so it also says that the client who knows the
	// password supports channel binding, just none of ours: see
	// Offer.NoCommonBinding.
	ErrBinding = errors.New("sasl: channel binding type not supported")
	// ErrDowngrade: the client sent the GS2 flag "y" (it supports channel
	// binding but thinks we do not) on a connection that offers -PLUS, so
	// someone may have removed the -PLUS mechanisms from what it saw
	// (RFC 5802 §6).
	ErrDowngrade = errors.New("sasl: channel binding downgrade")
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
	// NoCommonBinding: earlier on this connection an exchange ended in
	// ErrBinding. Such a client then honestly says "y" (it can bind,
	// but not with us), and it is not a downgrade: the client that knows
	// the password has just used -PLUS here, so nobody hid -PLUS from it.
	// The stream layer sets it; nothing else changes what is offered.
	NoCommonBinding bool
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

// ChannelBindings lists the channel-binding types this connection supports,
// to announce as XEP-0440 says. Over TLS 1.3: tls-exporter (RFC 9266);
// tls-unique is undefined there. Below: tls-unique (RFC 5929), which Go
// withholds for a resumed session without extended master secret;
// tls-exporter is not offered below 1.3 (RFC 9266 defines it there only
// with extended master secret, a check GODEBUG=tlsunsafeekm=1 would turn
// off in Go). tls-server-end-point wherever our certificate's signature
// names one hash (RFC 5929 §4.1).
func (o Offer) ChannelBindings() []string {
	if o.TLS == nil || !o.TLS.HandshakeComplete {
		return nil
	}
	var cb []string
	if o.TLS.Version >= tls.VersionTLS13 {
		cb = append(cb, CBTLSExporter)
	} else if len(o.TLS.TLSUnique) > 0 {
		cb = append(cb, CBTLSUnique)
	}
	if endPointHash(o.ServerCert) != nil {
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
	if !slices.Contains(o.Mechanisms(), mech) {
		return nil, fmt.Errorf("%w: %s", ErrMechanism, mech)
	}
	switch mech {
	case Plain:
		return &plainConv{lookup: lookup}, nil
	case ScramSHA1, ScramSHA1Plus:
		return &scramConv{offer: o, hash: sha1.New, plus: mech == ScramSHA1Plus, lookup: lookup,
			pick: func(a storage.Account) storage.Credentials { return a.SHA1 }}, nil
	default:
		return &scramConv{offer: o, hash: sha256.New, plus: mech == ScramSHA256Plus, lookup: lookup,
			pick: func(a storage.Account) storage.Credentials { return a.SHA256 }}, nil
	}
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
	if !authzOK(authz, user) {
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

// authzOK accepts no authorization identity or one naming the user's own
// localpart (user@...): nobody may ask to act as someone else. The stream
// layer authenticates the user at the stream's host either way.
func authzOK(authz, user string) bool {
	return authz == "" || strings.HasPrefix(authz, user+"@")
}

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
