// Package xtime answers Entity Time (XEP-0202) queries addressed to the
// server: its UTC time and its time zone offset, from an injected clock.
//
// It answers for the server only, not on behalf of accounts: a user's local
// time is their client's to tell. The legacy jabber:iq:time (XEP-0090) is
// not supported.
package xtime

import (
	"context"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/stanza"
)

// NS is the entity time namespace and disco feature.
const NS = "urn:xmpp:time"

// Time is the entity time module.
type Time struct {
	now func() time.Time
}

// New returns the module. now is the clock; the offset reported is that of
// the location of the times it returns. nil means time.Now.
func New(now func() time.Time) *Time {
	if now == nil {
		now = time.Now
	}
	return &Time{now: now}
}

// Register installs the handler and advertises urn:xmpp:time.
func (t *Time) Register(s *im.Server) {
	s.AddFeature(NS)
	s.Handle(NS, im.ToServer, im.IQHandlerFunc(t.handle))
}

func (t *Time) handle(_ context.Context, q im.IQ) (*stanza.Element, error) {
	if q.IsSet() {
		return nil, &stanza.Error{Condition: stanza.NotAllowed, Text: "the time is read-only"}
	}
	if q.Payload.Name != "time" {
		return nil, stanza.Errorf(stanza.BadRequest, "expected <time/> in %s", NS)
	}
	now := t.now()
	// XEP-0082: TZD is [+|-]hh:mm; utc is a dateTime in UTC with 'Z'.
	res := stanza.New("time", NS).Append(
		stanza.New("tzo", NS).SetText(now.Format("-07:00")),
		stanza.New("utc", NS).SetText(now.UTC().Format("2006-01-02T15:04:05Z")),
	)
	return q.Result(res), nil
}
