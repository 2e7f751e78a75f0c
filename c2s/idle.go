package c2s

import (
	"errors"
	"net"
	"time"

	"github.com/parley-im/parley/stanza"
)

// idleReader sits between the connection and the parser and turns read
// deadlines into XMPP behaviour: before binding, the deadline is the
// authentication timeout; after binding, a client silent for the ping
// interval gets an XEP-0199 ping, and one silent for the ping timeout after
// that is gone (RFC 6120 §4.6.3: the server checks for dead connections).
type idleReader struct {
	c      *conn
	pinged bool
	armed  bool // a ping deadline is set
}

func (r *idleReader) Read(p []byte) (int, error) {
	c := r.c
	for {
		if c.sess != nil && c.srv.cfg.PingInterval > 0 && !r.armed {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.PingInterval))
			r.armed = true
		}
		n, err := c.nc.Read(p)
		if n > 0 || err == nil {
			if r.pinged || r.armed {
				r.pinged, r.armed = false, false
			}
			return n, err
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || c.out.isClosed() {
			return n, err
		}
		switch {
		case c.sess == nil:
			return 0, stanza.NewStreamError(stanza.ConnectionTimeout, "authentication took too long")
		case r.pinged || c.srv.cfg.PingInterval == 0:
			return 0, stanza.NewStreamError(stanza.ConnectionTimeout, "no answer to ping")
		}
		r.pinged = true
		c.pingID = "ping-" + randomID(4)
		c.out.send(stanza.New("iq", stanza.NSClient, "type", "get", "id", c.pingID, "to", c.sess.JID().String(), "from", c.host).
			Append(stanza.New("ping", "urn:xmpp:ping")))
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.PingTimeout))
	}
}
