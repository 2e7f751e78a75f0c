// Package storage is Parley's durable state: accounts, rosters, offline
// messages, vCards, private XML and block lists, in SQL. One schema and one
// set of queries serve SQLite (embedded, pure Go) and PostgreSQL (pgx);
// migrations are embedded in the binary. Every table is keyed by its owner's
// bare JID so the data can be sharded later.
//
// It knows nothing about XMPP semantics beyond storing what it is given:
// stanzas are opaque bytes here, and the subscription state machine lives in
// the roster module.
package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrExists   = errors.New("storage: already exists")
	ErrClosed   = errors.New("storage: closed")
)

// Credentials are the SCRAM salted keys of one hash function (RFC 5802).
// The password itself is never stored.
type Credentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// Account is a local user.
type Account struct {
	JID     string // bare JID, the owner key
	SHA1    Credentials
	SHA256  Credentials
	Created time.Time
}

// Subscription values of a roster item (RFC 6121 §2.1.2.5).
const (
	SubNone = "none"
	SubTo   = "to"
	SubFrom = "from"
	SubBoth = "both"
)

// RosterItem is one contact in an owner's roster, with the subscription
// state the roster module's state machine keeps for it.
type RosterItem struct {
	Contact      string // bare JID of the contact
	Name         string
	Subscription string // SubNone, SubTo, SubFrom, SubBoth
	AskOut       bool   // pending-out: we sent subscribe, no answer yet
	PendingIn    bool   // pending-in: contact asked to subscribe to us
	PendingInMsg []byte // the subscribe stanza received, redelivered at login
	Approved     bool   // pre-approved (RFC 6121 §3.4)
	Groups       []string
	// Hidden items exist only to carry subscription state (pending-in from
	// someone not in the roster); they are not shown in roster results.
	Hidden bool
}

// OfflineMessage is a message stored for a user who had no available
// resource.
type OfflineMessage struct {
	ID     int64
	Stanza []byte // serialized stanza, with its delay stamp
	Stored time.Time
}

// Store is the durable state of one Parley server (or cluster).
// All methods are safe for concurrent use. Everything but the account
// belongs to an account: storing for an owner that has none returns
// ErrNotFound, and reading finds nothing.
type Store interface {
	// Accounts.
	CreateAccount(ctx context.Context, a Account) error // ErrExists
	Account(ctx context.Context, jid string) (Account, error)
	SetCredentials(ctx context.Context, jid string, sha1, sha256 Credentials) error
	// DeleteAccount removes the account and everything it owns.
	DeleteAccount(ctx context.Context, jid string) error
	// Accounts lists bare JIDs of a domain (all domains when domain is ""),
	// sorted.
	Accounts(ctx context.Context, domain string) ([]string, error)
	// AccountsPage lists at most limit bare JIDs of a domain (all domains
	// when domain is "") that sort after after, in byte order.
	AccountsPage(ctx context.Context, domain, after string, limit int) ([]string, error)

	// Roster. Every change bumps the owner's roster version and returns
	// the new one (XEP-0237); versions only grow. Roster returns hidden
	// items too (they carry pending requests); what a client is shown is
	// the caller's business.
	Roster(ctx context.Context, owner string) (items []RosterItem, version int64, err error)
	RosterItem(ctx context.Context, owner, contact string) (RosterItem, error) // ErrNotFound
	PutRosterItem(ctx context.Context, owner string, item RosterItem) (version int64, err error)
	// DeleteRosterItem returns ErrNotFound, and keeps the version, when
	// there is no such item.
	DeleteRosterItem(ctx context.Context, owner, contact string) (version int64, err error)

	// Offline messages. StoreOffline goes through the group-commit writer
	// and returns once the message is durable. limit caps how many are
	// kept per owner (0: no cap); over it ErrQuota is returned.
	StoreOffline(ctx context.Context, owner string, stanza []byte, limit int) error
	// TakeOffline returns and deletes the owner's stored messages, oldest
	// first.
	TakeOffline(ctx context.Context, owner string) ([]OfflineMessage, error)
	CountOffline(ctx context.Context, owner string) (int, error)
	// HaveOffline returns, sorted, those of owners who have stored
	// messages (any number of owners; the lookups are batched).
	HaveOffline(ctx context.Context, owners []string) ([]string, error)

	// vCard-temp (XEP-0054): the serialized <vCard/> element.
	VCard(ctx context.Context, owner string) ([]byte, error) // ErrNotFound
	SetVCard(ctx context.Context, owner string, vcard []byte) error

	// Private XML storage (XEP-0049), one element per namespace.
	Private(ctx context.Context, owner, namespace string) ([]byte, error) // ErrNotFound
	SetPrivate(ctx context.Context, owner, namespace string, data []byte) error

	// Blocking command (XEP-0191).
	BlockList(ctx context.Context, owner string) ([]string, error)
	Block(ctx context.Context, owner string, jids []string) error
	// Unblock removes the JIDs, or everything when jids is empty.
	Unblock(ctx context.Context, owner string, jids []string) error

	ArchiveStore
	PushStore

	Close() error
}

// ErrQuota is returned when a per-owner limit is reached.
var ErrQuota = errors.New("storage: quota exceeded")
