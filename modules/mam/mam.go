// Package mam answers Message Archive Management queries (XEP-0313,
// urn:xmpp:mam:2 with #extended) on a user's own archive: filtered and
// RSM-paged queries (XEP-0059), the query form, archive metadata, and the
// archiving preferences of XEP-0441.
//
// It only reads the archive and stores the preferences. Messages are
// archived, stamped with their stanza-id (XEP-0359) and checked against the
// preferences by the im package as it routes them. MUC and pubsub archives
// (a query with a 'node'), include-groupchat and RSM <index/> are not
// supported.
package mam

import (
	"context"
	"log/slog"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/stanza"
)

// Namespaces and disco features.
const (
	NS         = "urn:xmpp:mam:2"
	NSExtended = "urn:xmpp:mam:2#extended"
	NSRSM      = "http://jabber.org/protocol/rsm"
	NSForward  = "urn:xmpp:forward:0"
	NSData     = "jabber:x:data"
	NSValidate = "http://jabber.org/protocol/xdata-validate"
)

// Defaults of Config.
const (
	DefaultPage = 50  // results per page when the client asks for no max
	MaxPage     = 250 // results per page at most, whatever the client asks
	// MaxPageBytes bounds the archived bytes of one page, well under what
	// c2s queues for a client before it drops it as not reading.
	MaxPageBytes = 1 << 20
)

// Config configures the module. Zero values take the defaults.
type Config struct {
	DefaultPage int // DefaultPage when 0
	MaxPage     int // MaxPage when 0; also bounds the 'ids' field
	// MaxPageBytes (when 0) bounds a page's archived messages in bytes; a
	// page always holds at least one message.
	MaxPageBytes int
	// Log receives failures the client is only told of as
	// internal-server-error, and stored messages that no longer parse;
	// nil discards them.
	Log *slog.Logger
}

// AccountFeatures is where the module advertises what it supports on
// behalf of accounts' bare JIDs: the disco module.
type AccountFeatures interface {
	AddAccountFeature(features ...string)
}

// MAM is the module.
type MAM struct {
	srv          *im.Server
	log          *slog.Logger
	defaultPage  int
	maxPage      int
	maxPageBytes int
}

// New returns the module for s.
func New(s *im.Server, cfg Config) *MAM {
	m := &MAM{srv: s, log: cfg.Log, defaultPage: cfg.DefaultPage, maxPage: cfg.MaxPage, maxPageBytes: cfg.MaxPageBytes}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.maxPage <= 0 {
		m.maxPage = MaxPage
	}
	if m.defaultPage <= 0 {
		m.defaultPage = DefaultPage
	}
	m.defaultPage = min(m.defaultPage, m.maxPage)
	if m.maxPageBytes <= 0 {
		m.maxPageBytes = MaxPageBytes
	}
	return m
}

// Register installs the handlers on s (the server given to New) and
// advertises urn:xmpp:mam:2 and #extended for accounts through d, and
// urn:xmpp:sid:0 for the server (XEP-0359 §6: the server stamps
// stanza-ids).
func (m *MAM) Register(s *im.Server, d AccountFeatures) {
	s.AddFeature(im.NSStanzaID)
	d.AddAccountFeature(NS, NSExtended)
	s.Handle(NS, im.ToSelf, im.IQHandlerFunc(m.handle))
	s.Handle(NS, im.ToAccount, im.IQHandlerFunc(m.others))
}

func (m *MAM) handle(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	switch name := q.Payload.Name; {
	case name == "query" && q.IsSet():
		return m.query(ctx, q)
	case name == "query":
		return q.Result(stanza.New("query", NS).Append(queryForm())), nil
	case name == "metadata" && !q.IsSet():
		return m.metadata(ctx, q)
	case name == "prefs" && q.IsSet():
		return m.setPrefs(ctx, q)
	case name == "prefs":
		return m.prefs(ctx, q)
	case name == "metadata":
		return nil, stanza.Errorf(stanza.BadRequest, "<metadata/> is read with an iq get")
	default:
		return nil, stanza.Errorf(stanza.FeatureNotImplemented, "<%s/> is not part of %s", name, NS)
	}
}

// others refuses access to another account's archive and preferences
// (XEP-0313 §9.1 says forbidden). It answers the same whether or not the
// account exists, so it reveals nothing.
func (m *MAM) others(context.Context, im.IQ) (*stanza.Element, error) {
	return nil, stanza.Errorf(stanza.Forbidden, "only the account's owner may use its archive")
}
