// Package carbons lets a client enable and disable Message Carbons
// (XEP-0280) for its session; the copies themselves are made by the core
// (im/carbons.go) where messages are routed.
package carbons

import (
	"context"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/stanza"
)

// Carbons is the module.
type Carbons struct{}

// New returns the module.
func New() *Carbons { return &Carbons{} }

// Register advertises urn:xmpp:carbons:2 and handles <enable/> and
// <disable/> sent to the user's own account.
func (c *Carbons) Register(s *im.Server) {
	s.AddFeature(im.NSCarbons)
	s.Handle(im.NSCarbons, im.ToSelf, im.IQHandlerFunc(c.handle))
}

func (c *Carbons) handle(_ context.Context, q im.IQ) (*stanza.Element, error) {
	if !q.IsSet() {
		return nil, &stanza.Error{Condition: stanza.BadRequest, Text: "carbons are enabled or disabled with an iq set"}
	}
	if q.Session == nil {
		return nil, &stanza.Error{Condition: stanza.NotAllowed, Text: "bind a resource first"}
	}
	switch q.Payload.Name {
	case "enable":
		q.Session.SetCarbons(true)
	case "disable":
		q.Session.SetCarbons(false)
	default:
		return nil, stanza.Errorf(stanza.BadRequest, "expected <enable/> or <disable/> in %s", im.NSCarbons)
	}
	return q.Result(), nil
}
