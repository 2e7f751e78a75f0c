// Package version answers Software Version (XEP-0092) queries addressed to
// the server with its name and version. The operating system is left out
// unless configured, since it helps attackers more than users.
//
// It answers for the server only: a query to an account's bare JID is not
// the server's to answer (clients answer for their own full JIDs).
package version

import (
	"context"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/stanza"
)

// NS is the software version namespace and disco feature.
const NS = "jabber:iq:version"

// Name is the software name reported.
const Name = "Parley"

// Version is the software version module.
type Version struct {
	version string
	os      string
}

// New returns the module reporting version, and os unless it is empty.
func New(version, os string) *Version { return &Version{version: version, os: os} }

// Register installs the handler and advertises jabber:iq:version.
func (v *Version) Register(s *im.Server) {
	s.AddFeature(NS)
	s.Handle(NS, im.ToServer, im.IQHandlerFunc(v.handle))
}

func (v *Version) handle(_ context.Context, q im.IQ) (*stanza.Element, error) {
	if q.IsSet() {
		return nil, &stanza.Error{Condition: stanza.NotAllowed, Text: "the software version is read-only"}
	}
	if q.Payload.Name != "query" {
		return nil, stanza.Errorf(stanza.BadRequest, "expected <query/> in %s", NS)
	}
	res := stanza.New("query", NS).Append(
		stanza.New("name", NS).SetText(Name),
		stanza.New("version", NS).SetText(v.version),
	)
	if v.os != "" {
		res.Append(stanza.New("os", NS).SetText(v.os))
	}
	return q.Result(res), nil
}
