// Package accounts creates accounts and changes their passwords the one
// way the server does everywhere: SCRAM-SHA-1 and SCRAM-SHA-256
// credentials derived from the password (package sasl) and stored
// (package storage), never the password itself. It also parses the JID of
// an account served here. The CLI (`parley user`) and the admin REST API
// (package api) both use it; it does not know about sessions: ending an
// account's streams is its caller's business.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/storage"
)

// Sentinel errors. The storage's ErrExists and ErrNotFound pass through
// Create and SetPassword unchanged.
var (
	ErrInvalidJID  = errors.New("accounts: invalid JID")
	ErrNotAccount  = errors.New("accounts: not an account JID")
	ErrNotServed   = errors.New("accounts: domain not served")
	ErrBadPassword = errors.New("accounts: password not usable")
)

// Error says why an input was refused, in words fit for the operator; it
// unwraps to one of the sentinel errors.
type Error struct {
	kind error
	msg  string
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.kind }

func fail(kind error, format string, args ...any) *Error {
	return &Error{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// ParseJID parses an account's JID (user@domain, no resource) and checks
// that its domain is one of hosts.
func ParseJID(s string, hosts []string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return j, fail(ErrInvalidJID, "%q is not a valid JID: %v", s, err)
	}
	if j.Local() == "" || j.Resource() != "" {
		return j, fail(ErrNotAccount, "%q is not an account JID: want user@domain", s)
	}
	if !slices.Contains(hosts, j.Domain()) {
		return j, fail(ErrNotServed, "%s is not served here (hosts: %s)", j.Domain(), strings.Join(hosts, ", "))
	}
	return j, nil
}

// Credentials derives the stored SCRAM credentials for a password with the
// given PBKDF2 iterations (auth.scram_iterations).
func Credentials(password string, iterations int) (sha1, sha256 storage.Credentials, err error) {
	if password == "" {
		return sha1, sha256, fail(ErrBadPassword, "empty password")
	}
	sha1, sha256, err = sasl.Derive(password, iterations)
	if err != nil {
		return sha1, sha256, fail(ErrBadPassword, "%v", err)
	}
	return sha1, sha256, nil
}

// Create stores a new account for user with password; storage.ErrExists
// if it exists.
func Create(ctx context.Context, st storage.Store, user jid.JID, password string, iterations int) error {
	s1, s256, err := Credentials(password, iterations)
	if err != nil {
		return err
	}
	return st.CreateAccount(ctx, storage.Account{JID: user.String(), SHA1: s1, SHA256: s256})
}

// SetPassword replaces user's credentials with ones for password;
// storage.ErrNotFound if there is no such account.
func SetPassword(ctx context.Context, st storage.Store, user jid.JID, password string, iterations int) error {
	s1, s256, err := Credentials(password, iterations)
	if err != nil {
		return err
	}
	return st.SetCredentials(ctx, user.String(), s1, s256)
}
