// Package register is In-Band Registration (XEP-0077) with the server: a
// client that has not authenticated creates an account, and an
// authenticated user changes their password or cancels their account.
//
// It is registered only when in-band registration is enabled; otherwise
// every jabber:iq:register request gets service-unavailable from the core.
// It does not rate-limit registrations, offer data forms (XEP-0004) or
// redirect to a web page, and it does not decide whether the stream is
// secure enough: c2s refuses registration on unencrypted streams when TLS
// is required.
package register

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// NS is the registration namespace and disco feature.
const NS = stanza.NSRegister

// Defaults for Config.
const (
	DefaultMinPasswordLength = 8
	DefaultIterations        = 4096 // RFC 7677 §4's minimum for SCRAM-SHA-256
	DefaultInstructions      = "Choose a username and password to register with this server."
	maxPasswordBytes         = 1024
)

// Config tunes registration. The zero value uses the defaults.
type Config struct {
	MinPasswordLength int    // in characters
	Iterations        int    // PBKDF2 iterations of the stored SCRAM keys
	Instructions      string // shown to clients before they register
	Log               *slog.Logger
}

// Registration is the in-band registration module.
type Registration struct {
	srv *im.Server
	cfg Config
}

// New returns the module for s.
func New(s *im.Server, cfg Config) *Registration {
	if cfg.MinPasswordLength <= 0 {
		cfg.MinPasswordLength = DefaultMinPasswordLength
	}
	if cfg.Iterations <= 0 {
		cfg.Iterations = DefaultIterations
	}
	if cfg.Instructions == "" {
		cfg.Instructions = DefaultInstructions
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Registration{srv: s, cfg: cfg}
}

// Register installs the module for requests to the server, before
// authentication too (it is an im.PreAuthHandler), and for the user's own
// account; it advertises jabber:iq:register. s must be the server given to
// New.
func (r *Registration) Register(s *im.Server) {
	s.AddFeature(NS)
	s.Handle(NS, im.ToServer|im.ToSelf, r)
}

var _ im.PreAuthHandler = (*Registration)(nil)

// HandlePreAuth answers a client that has not authenticated: get returns
// the fields to fill in, set creates the account (§3.1).
func (r *Registration) HandlePreAuth(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	if !q.IsSet() {
		return q.Result(stanza.New("query", NS).Append(
			stanza.New("instructions", NS).SetText(r.cfg.Instructions),
			stanza.New("username", NS),
			stanza.New("password", NS),
		)), nil
	}
	if q.Payload.Child("remove", NS) != nil {
		return nil, stanza.Errorf(stanza.UnexpectedRequest, "authenticate before cancelling a registration")
	}
	username, password := field(q.Payload, "username"), field(q.Payload, "password")
	if username == "" || password == "" {
		// §3.1: missing information, including an empty password, is
		// not-acceptable.
		return nil, stanza.Errorf(stanza.NotAcceptable, "a username and a password are required")
	}
	account, err := jid.New(username, q.To.Domain(), "")
	if err != nil {
		return nil, stanza.Errorf(stanza.NotAcceptable, "the username is not valid in an XMPP address")
	}
	// Refuse a taken name before spending PBKDF2 on it; CreateAccount
	// still settles a race between two registrations of the same name.
	if _, err := r.srv.Store().Account(ctx, account.String()); err == nil {
		return nil, stanza.Errorf(stanza.Conflict, "the username is taken")
	}
	sha1, sha256, err := r.derive(password)
	if err != nil {
		return nil, err
	}
	err = r.srv.Store().CreateAccount(ctx, storage.Account{JID: account.String(), SHA1: sha1, SHA256: sha256, Created: r.srv.Now()})
	if errors.Is(err, storage.ErrExists) {
		return nil, stanza.Errorf(stanza.Conflict, "the username is taken")
	}
	if err != nil {
		return nil, fmt.Errorf("register: create account: %w", err)
	}
	r.cfg.Log.Info("account registered in-band", "jid", account)
	return q.Result(), nil
}

// HandleIQ answers an authenticated user: get shows the registration, set
// changes the password (§3.3) or, with <remove/>, deletes the account
// (§3.2).
//
// After a removal the handler answers the request itself and then closes
// every stream of the account with a not-authorized stream error, as §3.2
// says; it returns a nil stanza so the core sends nothing more.
func (r *Registration) HandleIQ(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	owner := q.From.Bare()
	if !q.IsSet() {
		return q.Result(stanza.New("query", NS).Append(
			stanza.New("registered", NS),
			stanza.New("instructions", NS).SetText("You are registered. Send a new password to change it, or <remove/> to delete your account."),
			stanza.New("username", NS).SetText(owner.Local()),
			stanza.New("password", NS),
		)), nil
	}
	if q.Payload.Child("remove", NS) != nil {
		if len(q.Payload.Elements()) != 1 {
			return nil, stanza.Errorf(stanza.BadRequest, "<remove/> must be the only child of <query/>")
		}
		return r.cancel(ctx, q, owner)
	}
	return r.changePassword(ctx, q, owner)
}

// changePassword sets new SCRAM keys. The username must be the user's own;
// the sessions already open stay open.
func (r *Registration) changePassword(ctx context.Context, q im.IQ, owner jid.JID) (*stanza.Element, error) {
	username := field(q.Payload, "username")
	if username == "" {
		return nil, stanza.Errorf(stanza.BadRequest, "a password change needs the <username/>")
	}
	if !isOwn(username, owner) {
		return nil, stanza.Errorf(stanza.Forbidden, "you can only change your own password")
	}
	password := field(q.Payload, "password")
	if password == "" {
		// §3.3: an empty password never replaces the current one.
		return nil, stanza.Errorf(stanza.NotAcceptable, "the new password is empty")
	}
	sha1, sha256, err := r.derive(password)
	if err != nil {
		return nil, err
	}
	if err := r.srv.Store().SetCredentials(ctx, owner.String(), sha1, sha256); err != nil {
		return nil, fmt.Errorf("register: set credentials: %w", err)
	}
	r.cfg.Log.Info("password changed in-band", "jid", owner)
	return q.Result(), nil
}

// isOwn reports whether username names owner: its localpart (any case the
// localpart profile folds) or the whole bare JID.
func isOwn(username string, owner jid.JID) bool {
	if j, err := jid.New(username, owner.Domain(), ""); err == nil && j == owner {
		return true
	}
	j, err := jid.Parse(username)
	return err == nil && j == owner
}

// derive checks a new password against the policy and computes its keys.
func (r *Registration) derive(password string) (sha1, sha256 storage.Credentials, err error) {
	if n := utf8.RuneCountInString(password); n < r.cfg.MinPasswordLength {
		return sha1, sha256, stanza.Errorf(stanza.NotAcceptable, "the password must be at least %d characters long", r.cfg.MinPasswordLength)
	}
	if len(password) > maxPasswordBytes {
		return sha1, sha256, stanza.Errorf(stanza.NotAcceptable, "the password must be at most %d bytes long", maxPasswordBytes)
	}
	sha1, sha256, err = sasl.Derive(password, r.cfg.Iterations)
	if err != nil {
		// SASLprep refused it (control or unassigned characters).
		return sha1, sha256, stanza.Errorf(stanza.NotAcceptable, "the password contains characters that are not allowed")
	}
	return sha1, sha256, nil
}

func checkQuery(q im.IQ) error {
	if q.Payload.Name != "query" {
		return stanza.Errorf(stanza.BadRequest, "expected <query/> in %s", NS)
	}
	return nil
}

// field returns the text of a registration field.
func field(query *stanza.Element, name string) string {
	if el := query.Child(name, NS); el != nil {
		return el.Text()
	}
	return ""
}
