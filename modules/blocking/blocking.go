// Package blocking is the Blocking Command (XEP-0191): a user gets, adds to
// and removes from their block list, their resources that fetched the list
// are told of each change (on every node: the interest is the session's,
// see im.Server.PushToInterested), and blocked contacts stop (or resume)
// seeing the user's presence.
//
// It manages the list only and keeps no state of its own. Enforcing it on
// stanzas in flight is the im package's routing (it reads the same storage
// and drops its cache when told through im.Server.BlocksChanged). Privacy
// lists (XEP-0016) are not supported.
package blocking

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// Namespaces.
const (
	NS       = "urn:xmpp:blocking"
	NSErrors = "urn:xmpp:blocking:errors"
)

// DefaultMaxItems is the default limit on the length of one user's block
// list.
const DefaultMaxItems = 1000

// Blocking is the blocking command module.
type Blocking struct {
	srv      *im.Server
	log      *slog.Logger
	maxItems int
}

// New returns the module for s. maxItems limits the length of a block
// list; 0 means DefaultMaxItems. log receives failures the client cannot
// be told about (updating contacts' presence); nil discards them.
func New(s *im.Server, log *slog.Logger, maxItems int) *Blocking {
	if maxItems <= 0 {
		maxItems = DefaultMaxItems
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Blocking{srv: s, log: log, maxItems: maxItems}
}

// Register installs the handler for the user's own account and advertises
// urn:xmpp:blocking. s must be the server given to New.
func (b *Blocking) Register(s *im.Server) {
	s.AddFeature(NS)
	s.Handle(NS, im.ToSelf, im.IQHandlerFunc(b.handle))
}

func (b *Blocking) handle(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	owner := q.From.Bare()
	switch name := q.Payload.Name; {
	case !q.IsSet() && name == "blocklist":
		return b.get(ctx, q, owner)
	case q.IsSet() && name == "block":
		return b.block(ctx, q, owner)
	case q.IsSet() && name == "unblock":
		return b.unblock(ctx, q, owner)
	case q.IsSet():
		return nil, stanza.Errorf(stanza.BadRequest, "expected <block/> or <unblock/> in %s", NS)
	default:
		return nil, stanza.Errorf(stanza.BadRequest, "expected <blocklist/> in %s", NS)
	}
}

// get returns the list (§3.2) and makes the session interested in pushes.
func (b *Blocking) get(ctx context.Context, q im.IQ, owner jid.JID) (*stanza.Element, error) {
	list, err := b.srv.Store().BlockList(ctx, owner.String())
	if err != nil {
		return nil, fmt.Errorf("blocking: load: %w", err)
	}
	b.srv.MarkInterested(q, im.BlockListInterest)
	res := stanza.New("blocklist", NS)
	for _, j := range list {
		res.Append(stanza.New("item", NS, "jid", j))
	}
	return q.Result(res), nil
}

// block adds JIDs (§3.3).
func (b *Blocking) block(ctx context.Context, q im.IQ, owner jid.JID) (*stanza.Element, error) {
	items, err := parseItems(q.Payload)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, stanza.Errorf(stanza.BadRequest, "<block/> needs at least one <item/>")
	}
	for _, j := range items {
		// A user's resources must always reach each other (§5, note).
		if j.Bare() == owner {
			return nil, stanza.Errorf(stanza.NotAcceptable, "you cannot block your own account")
		}
	}
	st := b.srv.Store()
	before, err := b.load(ctx, owner)
	if err != nil {
		return nil, err
	}
	after := before.with(items)
	if len(after) > b.maxItems {
		return nil, stanza.Errorf(stanza.NotAcceptable, "a block list holds at most %d entries", b.maxItems)
	}
	if err := st.Block(ctx, owner.String(), strs(items)); err != nil {
		return nil, fmt.Errorf("blocking: block: %w", err)
	}
	b.srv.BlocksChanged(owner.String())
	b.srv.PushToInterested(owner, im.BlockListInterest, itemsElement("block", items))
	b.presenceChanged(ctx, owner, before, after)
	return q.Result(), nil
}

// unblock removes JIDs, or all of them when none is given (§3.4, §3.5).
func (b *Blocking) unblock(ctx context.Context, q im.IQ, owner jid.JID) (*stanza.Element, error) {
	items, err := parseItems(q.Payload)
	if err != nil {
		return nil, err
	}
	before, err := b.load(ctx, owner)
	if err != nil {
		return nil, err
	}
	after := set{}
	if len(items) > 0 {
		after = before.without(items)
	}
	if err := b.srv.Store().Unblock(ctx, owner.String(), strs(items)); err != nil {
		return nil, fmt.Errorf("blocking: unblock: %w", err)
	}
	b.srv.BlocksChanged(owner.String())
	b.srv.PushToInterested(owner, im.BlockListInterest, itemsElement("unblock", items))
	b.presenceChanged(ctx, owner, before, after)
	return q.Result(), nil
}

// load reads the owner's block list.
func (b *Blocking) load(ctx context.Context, owner jid.JID) (set, error) {
	list, err := b.srv.Store().BlockList(ctx, owner.String())
	if err != nil {
		return nil, fmt.Errorf("blocking: load: %w", err)
	}
	return newSet(list), nil
}

// parseItems reads the <item jid=.../> children. A missing jid is
// bad-request; one that is not a valid JID is jid-malformed.
func parseItems(el *stanza.Element) ([]jid.JID, error) {
	var out []jid.JID
	seen := make(map[jid.JID]bool)
	for _, c := range el.Elements() {
		if !c.Is("item", NS) {
			return nil, stanza.Errorf(stanza.BadRequest, "unexpected <%s/> in <%s/>", c.Name, el.Name)
		}
		raw := c.Attr("jid")
		if raw == "" {
			return nil, stanza.Errorf(stanza.BadRequest, "an <item/> needs a 'jid'")
		}
		j, err := jid.Parse(raw)
		if err != nil {
			return nil, stanza.Errorf(stanza.JIDMalformed, "%q is not a valid JID", raw)
		}
		if !seen[j] {
			seen[j] = true
			out = append(out, j)
		}
	}
	return out, nil
}

func itemsElement(name string, items []jid.JID) *stanza.Element {
	el := stanza.New(name, NS)
	for _, j := range items {
		el.Append(stanza.New("item", NS, "jid", j.String()))
	}
	return el
}

func strs(items []jid.JID) []string {
	out := make([]string, len(items))
	for i, j := range items {
		out[i] = j.String()
	}
	return out
}
