// Package ping answers XMPP Ping (XEP-0199) addressed to the server, to the
// user's own account, and to other local accounts' bare JIDs, which the
// server answers on the account's behalf (§4.2, §4.4).
//
// It does not ping clients: checking that a connection is alive is the
// stream layer's job (c2s sends its own pings).
package ping

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// NS is the ping namespace and disco feature.
const NS = "urn:xmpp:ping"

// Ping is the ping module.
type Ping struct {
	store storage.Store
}

// New returns the module; store is used to tell existing accounts from
// missing ones.
func New(store storage.Store) *Ping { return &Ping{store: store} }

// Register installs the handler and advertises urn:xmpp:ping.
func (p *Ping) Register(s *im.Server) {
	s.AddFeature(NS)
	s.Handle(NS, im.ToServer|im.ToSelf, im.IQHandlerFunc(p.pong))
	s.Handle(NS, im.ToAccount, im.IQHandlerFunc(p.pongAccount))
}

func check(q im.IQ) error {
	if q.IsSet() {
		return &stanza.Error{Condition: stanza.NotAllowed, Text: "ping is an iq get"}
	}
	if q.Payload.Name != "ping" {
		return stanza.Errorf(stanza.BadRequest, "expected <ping/> in %s", NS)
	}
	return nil
}

// pong answers a ping to the server; one without 'to' (or to the user's own
// bare JID) is handled by the server too, as §4.2 says.
func (p *Ping) pong(_ context.Context, q im.IQ) (*stanza.Element, error) {
	if err := check(q); err != nil {
		return nil, err
	}
	return q.Result(), nil
}

// pongAccount answers for another account's bare JID. An account that does
// not exist is service-unavailable, as for any IQ to it (RFC 6121 §8.5.1).
func (p *Ping) pongAccount(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	if err := check(q); err != nil {
		return nil, err
	}
	if _, err := p.store.Account(ctx, q.To.String()); errors.Is(err, storage.ErrNotFound) {
		return nil, &stanza.Error{Condition: stanza.ServiceUnavailable}
	} else if err != nil {
		return nil, fmt.Errorf("ping: account lookup: %w", err)
	}
	return q.Result(), nil
}
