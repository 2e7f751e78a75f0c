// Package vcard stores and serves vcard-temp (XEP-0054): a user sets and
// gets their own vCard, and anyone may get an account's vCard through its
// bare JID, which the server answers on the account's behalf.
//
// The vCard is kept as the serialized element the user sent, up to a size
// limit; its contents are not validated or interpreted (no XEP-0153 avatar
// hashes, no vCard4 / XEP-0292 mapping). The server's own vCard is not
// served.
package vcard

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/modules/internal/standalone"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// NS is the vcard-temp namespace and disco feature.
const NS = "vcard-temp"

// DefaultMaxSize is the default limit on a stored vCard, in bytes of XML.
const DefaultMaxSize = 64 << 10

// VCard is the vcard-temp module.
type VCard struct {
	store   storage.Store
	maxSize int
}

// New returns the module. maxSize limits a vCard's serialized size in
// bytes; 0 means DefaultMaxSize.
func New(store storage.Store, maxSize int) *VCard {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	return &VCard{store: store, maxSize: maxSize}
}

// Register installs the handlers for the user's own account and for other
// accounts, and advertises vcard-temp.
func (v *VCard) Register(s *im.Server) {
	s.AddFeature(NS)
	s.Handle(NS, im.ToSelf, im.IQHandlerFunc(v.own))
	s.Handle(NS, im.ToAccount, im.IQHandlerFunc(v.other))
}

func checkPayload(q im.IQ) error {
	if q.Payload.Name != "vCard" {
		return stanza.Errorf(stanza.BadRequest, "expected <vCard/> in %s", NS)
	}
	return nil
}

// own gets or sets the user's own vCard (§3.1, §3.2). With none stored,
// get returns an empty <vCard/>, the second answer §3.1 allows, which
// clients handle more gracefully than an error.
func (v *VCard) own(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	if err := checkPayload(q); err != nil {
		return nil, err
	}
	owner := q.From.Bare().String()
	if q.IsSet() {
		b, err := standalone.Marshal(q.Payload, q.Stanza)
		if err != nil {
			return nil, stanza.Errorf(stanza.BadRequest, "the vCard uses a namespace prefix it does not declare")
		}
		if len(b) > v.maxSize {
			// not-acceptable (modify): the client can retry with a smaller
			// vCard, e.g. a smaller avatar.
			return nil, stanza.Errorf(stanza.NotAcceptable, "the vCard is larger than %d bytes", v.maxSize)
		}
		if err := v.store.SetVCard(ctx, owner, b); err != nil {
			return nil, fmt.Errorf("vcard: store: %w", err)
		}
		return q.Result(), nil
	}
	el, err := v.load(ctx, owner)
	if errors.Is(err, storage.ErrNotFound) {
		return q.Result(stanza.New("vCard", NS)), nil
	}
	if err != nil {
		return nil, err
	}
	return q.Result(el), nil
}

// other gets another account's vCard (§3.3). No vCard and no account get
// the same service-unavailable, so the answer does not reveal which
// accounts exist; setting someone else's vCard is forbidden.
func (v *VCard) other(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	if err := checkPayload(q); err != nil {
		return nil, err
	}
	if q.IsSet() {
		return nil, stanza.Errorf(stanza.Forbidden, "you can only change your own vCard")
	}
	el, err := v.load(ctx, q.To.String())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, &stanza.Error{Condition: stanza.ServiceUnavailable}
	}
	if err != nil {
		return nil, err
	}
	return q.Result(el), nil
}

// load reads and parses a stored vCard; storage.ErrNotFound passes through.
func (v *VCard) load(ctx context.Context, owner string) (*stanza.Element, error) {
	b, err := v.store.VCard(ctx, owner)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("vcard: load: %w", err)
	}
	el, err := stanza.ParseBytes(b)
	if err != nil {
		return nil, fmt.Errorf("vcard: stored vCard of %s unreadable: %w", owner, err)
	}
	return el, nil
}
