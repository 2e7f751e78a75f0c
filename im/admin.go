package im

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// ErrNotLocalUser is returned by SendAsServer when the message is not
// addressed to a user at one of the server's hosts.
var ErrNotLocalUser = errors.New("im: not a local user")

// SendAsServer routes a message from the server itself (the admin API's
// announcements): its 'from' becomes the domain of its recipient, a user
// at one of our hosts, bare or full JID, and it goes where RFC 6121 §8.5
// sends any message to a local user: the resource, the resources of
// highest priority (every available one for a headline), or offline
// storage for chat and normal messages, with carbons for resources that
// enabled them. Like a component's messages, it is not archived. It
// returns once the message is delivered or stored.
func (s *Server) SendAsServer(ctx context.Context, st *stanza.Element) error {
	if st.Name != "message" {
		return fmt.Errorf("im: send as server: a <%s/> is not a message", st.Name)
	}
	to, err := jid.Parse(st.To())
	if err != nil {
		return fmt.Errorf("im: send as server: 'to': %w", err)
	}
	if to.Local() == "" || !s.IsLocal(to.Domain()) {
		return fmt.Errorf("%w: %s", ErrNotLocalUser, to)
	}
	st = st.Copy()
	st.SetAttr("from", to.Domain())
	s.deliverMessage(ctx, st, to.DomainJID(), to)
	return nil
}
