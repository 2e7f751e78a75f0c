// Package disco answers service discovery (XEP-0030) for the server and, on
// their behalf, for its accounts, and computes the server's entity
// capabilities (XEP-0115) for the <c/> stream feature.
//
// It sends no discovery requests of its own and keeps no cache of other
// entities' capabilities. The server's feature list is whatever the other
// modules registered with im.Server.AddFeature; disco#items lists nothing
// yet, since Parley hosts no components.
package disco

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Namespaces and the caps node.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
	NSCaps  = "http://jabber.org/protocol/caps"

	// CapsNode names the software in XEP-0115 <c node=.../>: a URL about
	// it, as §4 recommends.
	CapsNode = "https://parley.im"
)

// ServerIdentity is the server's one identity.
var ServerIdentity = Identity{Category: "server", Type: "im", Name: "Parley"}

// accountIdentity is what the server says on behalf of a registered
// account (XEP-0030 §3.1, "account/registered").
var accountIdentity = Identity{Category: "account", Type: "registered"}

// Disco is the discovery module.
type Disco struct {
	srv *im.Server
	// accountFeatures are advertised for accounts' bare JIDs; like the
	// server's features they are written only before serving starts.
	accountFeatures []string
}

// New returns the module for s. Register it on the same server.
func New(s *im.Server) *Disco {
	return &Disco{srv: s, accountFeatures: []string{NSInfo, NSItems}}
}

// Register installs the disco#info and disco#items handlers for the server,
// the user's own account and other accounts, and advertises disco and caps.
func (d *Disco) Register(s *im.Server) {
	s.AddFeature(NSInfo, NSItems, NSCaps)
	s.Handle(NSInfo, im.ToServer, im.IQHandlerFunc(d.serverInfo))
	s.Handle(NSInfo, im.ToSelf|im.ToAccount, im.IQHandlerFunc(d.accountInfo))
	s.Handle(NSItems, im.ToServer, im.IQHandlerFunc(d.serverItems))
	s.Handle(NSItems, im.ToSelf|im.ToAccount, im.IQHandlerFunc(d.accountItems))
}

// AddAccountFeature adds features the server supports on behalf of every
// account's bare JID (PEP, MAM and the like). Call before serving.
func (d *Disco) AddAccountFeature(features ...string) {
	d.accountFeatures = append(d.accountFeatures, features...)
}

// Ver is the server's XEP-0115 verification string over its identity and
// current features.
func (d *Disco) Ver() string {
	return Ver([]Identity{ServerIdentity}, d.srv.Features())
}

// CapsElement returns the <c/> element for the server's stream features
// (XEP-0115 §6.3). The ver is recomputed on each call, so it always matches
// the features registered so far.
func (d *Disco) CapsElement() *stanza.Element {
	return stanza.New("c", NSCaps, "hash", "sha-1", "node", CapsNode, "ver", d.Ver())
}

// errGetOnly answers a set on a namespace that is only ever queried.
var errGetOnly = &stanza.Error{Condition: stanza.NotAllowed, Text: "service discovery is read-only"}

// query checks the request shape and returns the node asked for.
func query(q im.IQ) (string, error) {
	if q.IsSet() {
		return "", errGetOnly
	}
	if q.Payload.Name != "query" {
		return "", stanza.Errorf(stanza.BadRequest, "expected <query/> in %s", q.Payload.Space)
	}
	return q.Payload.Attr("node"), nil
}

// result builds the <query/> of a reply, mirroring the node (§3.2).
func result(ns, node string) *stanza.Element {
	el := stanza.New("query", ns)
	if node != "" {
		el.SetAttr("node", node)
	}
	return el
}

func (d *Disco) serverInfo(_ context.Context, q im.IQ) (*stanza.Element, error) {
	node, err := query(q)
	if err != nil {
		return nil, err
	}
	features := d.srv.Features()
	// The caps node answers with exactly what the ver was computed from
	// (XEP-0115 §6.2).
	if node != "" && node != CapsNode+"#"+Ver([]Identity{ServerIdentity}, features) {
		return nil, stanza.Errorf(stanza.ItemNotFound, "no such node")
	}
	res := result(NSInfo, node).Append(ServerIdentity.Element())
	for _, f := range sortedUnique(features) {
		res.Append(stanza.New("feature", NSInfo, "var", f))
	}
	return q.Result(res), nil
}

func (d *Disco) serverItems(_ context.Context, q im.IQ) (*stanza.Element, error) {
	node, err := query(q)
	if err != nil {
		return nil, err
	}
	if node != "" {
		return nil, stanza.Errorf(stanza.ItemNotFound, "no such node")
	}
	return q.Result(result(NSItems, "")), nil
}

// accountInfo answers for a bare JID. XEP-0030 §8 rule 1 decides who may
// ask: the owner, and entities the account lets see its presence
// (subscription 'from' or 'both'). Everybody else, and every request for an
// account that does not exist, gets service-unavailable, so the answer does
// not reveal which accounts exist (no item-not-found, no bare identity).
func (d *Disco) accountInfo(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	node, err := query(q)
	if err != nil {
		return nil, err
	}
	ok, err := d.mayDiscover(ctx, q.To, q.From)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &stanza.Error{Condition: stanza.ServiceUnavailable}
	}
	if node != "" {
		return nil, stanza.Errorf(stanza.ItemNotFound, "no such node")
	}
	res := result(NSInfo, "").Append(accountIdentity.Element())
	for _, f := range sortedUnique(d.accountFeatures) {
		res.Append(stanza.New("feature", NSInfo, "var", f))
	}
	return q.Result(res), nil
}

// accountItems always returns an empty list: the only items of an account
// would be its available resources, which §8 rule 2 hides from strangers,
// and the owner knows its own resources from presence. An account that does
// not exist gets the same empty list (rule 2).
func (d *Disco) accountItems(_ context.Context, q im.IQ) (*stanza.Element, error) {
	node, err := query(q)
	if err != nil {
		return nil, err
	}
	return q.Result(result(NSItems, node)), nil
}

// mayDiscover reports whether requester may see disco#info of account.
func (d *Disco) mayDiscover(ctx context.Context, account, requester jid.JID) (bool, error) {
	if requester.Bare() == account {
		return true, nil
	}
	// An account that does not exist has no roster items either.
	it, err := d.srv.Store().RosterItem(ctx, account.String(), requester.Bare().String())
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("disco: roster lookup: %w", err)
	}
	return it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth, nil
}
