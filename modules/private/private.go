// Package private is Private XML Storage (XEP-0049): a user stores
// arbitrary XML fragments on the server, one element per namespace, and
// gets them back.
//
// Only the account's own resources may read or write its data; the
// fragments are stored as serialized XML and never interpreted. PEP-based
// private storage (XEP-0223) and bookmark conversion (XEP-0411) are not
// here.
package private

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/modules/internal/standalone"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// NS is the private storage namespace and disco feature.
const NS = "jabber:iq:private"

// DefaultMaxSize is the default limit on one stored element, in bytes of
// XML.
const DefaultMaxSize = 64 << 10

// Private is the private storage module.
type Private struct {
	store   storage.Store
	maxSize int
}

// New returns the module. maxSize limits each stored element's serialized
// size in bytes; 0 means DefaultMaxSize.
func New(store storage.Store, maxSize int) *Private {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	return &Private{store: store, maxSize: maxSize}
}

// Register installs the handler for the user's own account, refuses the
// namespace everywhere else, and advertises jabber:iq:private.
func (p *Private) Register(s *im.Server) {
	s.AddFeature(NS)
	s.Handle(NS, im.ToSelf, im.IQHandlerFunc(p.handle))
	s.Handle(NS, im.ToServer|im.ToAccount, im.IQHandlerFunc(forbidden))
}

// forbidden answers requests for someone else's data: §2.3 prefers
// forbidden to service-unavailable.
func forbidden(context.Context, im.IQ) (*stanza.Element, error) {
	return nil, stanza.Errorf(stanza.Forbidden, "private XML can only be stored with your own account")
}

// handle gets or sets the user's data (§2.3). Each child of <query/> names
// one namespace; a get returns what is stored in it, or the empty element
// asked for when nothing is. The reserved namespaces of §2.3 are accepted:
// rejecting them is optional and would break clients that use them.
func (p *Private) handle(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	if q.Payload.Name != "query" {
		return nil, stanza.Errorf(stanza.BadRequest, "expected <query/> in %s", NS)
	}
	children := q.Payload.Elements()
	if len(children) == 0 {
		// §2.3 says MUST not-acceptable, then SHOULD bad-format, which is
		// not a stanza error condition; not-acceptable it is.
		return nil, stanza.Errorf(stanza.NotAcceptable, "the query needs a child element in its own namespace")
	}
	seen := make(map[string]bool, len(children))
	for _, c := range children {
		if c.Space == "" || c.Space == NS || c.Space == stanza.NSClient {
			return nil, stanza.Errorf(stanza.NotAcceptable, "<%s/> needs a namespace of its own", c.Name)
		}
		if seen[c.Space] {
			return nil, stanza.Errorf(stanza.NotAcceptable, "one element per namespace: %s appears twice", c.Space)
		}
		seen[c.Space] = true
	}
	owner := q.From.Bare().String()
	if q.IsSet() {
		return p.set(ctx, q, owner, children)
	}
	res := stanza.New("query", NS)
	for _, c := range children {
		b, err := p.store.Private(ctx, owner, c.Space)
		if errors.Is(err, storage.ErrNotFound) {
			res.Append(stanza.New(c.Name, c.Space))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("private: load: %w", err)
		}
		el, err := stanza.ParseBytes(b)
		if err != nil {
			return nil, fmt.Errorf("private: stored %s of %s unreadable: %w", c.Space, owner, err)
		}
		res.Append(el)
	}
	return q.Result(res), nil
}

// set stores each child under its namespace, replacing what was there.
// Everything is checked before anything is written.
func (p *Private) set(ctx context.Context, q im.IQ, owner string, children []*stanza.Element) (*stanza.Element, error) {
	data := make([][]byte, len(children))
	for i, c := range children {
		var err error
		if data[i], err = standalone.Marshal(c, q.Payload, q.Stanza); err != nil {
			return nil, stanza.Errorf(stanza.BadRequest, "the %s element uses a namespace prefix it does not declare", c.Space)
		}
		if len(data[i]) > p.maxSize {
			return nil, stanza.Errorf(stanza.NotAcceptable, "the %s element is larger than %d bytes", c.Space, p.maxSize)
		}
	}
	for i, c := range children {
		if err := p.store.SetPrivate(ctx, owner, c.Space, data[i]); err != nil {
			return nil, fmt.Errorf("private: store: %w", err)
		}
	}
	return q.Result(), nil
}
