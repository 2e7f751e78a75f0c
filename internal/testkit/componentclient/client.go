// Package componentclient is a small external component (XEP-0114,
// jabber:component:accept) for tests: it connects, does the handshake,
// sends stanzas and reads what the server sends. It is not a framework:
// tests read and answer themselves.
package componentclient

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/parley-im/parley/stanza"
)

// NSAccept is the stream's content namespace.
const NSAccept = "jabber:component:accept"

// Client is one component connection. Send is safe from any goroutine;
// reading (Next, Handshake) belongs to one goroutine at a time.
type Client struct {
	Domain   string
	StreamID string          // the id of the server's stream header
	Header   *stanza.Element // the server's stream header

	nc     net.Conn
	parser *stanza.Parser
	wmu    sync.Mutex
}

// Dial connects to addr as the component for domain and does the
// handshake with secret. A refusal comes back as the server's
// *stanza.StreamError.
func Dial(ctx context.Context, addr, domain, secret string) (*Client, error) {
	c, err := Open(ctx, addr, domain)
	if err != nil {
		return nil, err
	}
	if err := c.Handshake(ctx, secret); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Open connects and exchanges stream headers only, for tests that go on
// by hand. A stream error in answer to the header is returned as a
// *stanza.StreamError.
func Open(ctx context.Context, addr, domain string) (*Client, error) {
	return OpenWith(ctx, addr, domain, stanza.StreamHeader(nil, NSAccept, stanza.Attr{Name: "to", Value: domain}))
}

// OpenWith is Open with the stream header given as bytes, for tests that
// send a wrong one.
func OpenWith(ctx context.Context, addr, domain string, header []byte) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Client{Domain: domain, nc: nc, parser: stanza.NewParser(nc, stanza.Limits{})}
	stop := c.deadline(ctx)
	defer stop()
	if err := c.SendRaw(header); err != nil {
		_ = nc.Close()
		return nil, err
	}
	h, isHeader, err := c.parser.Next()
	if err != nil || !isHeader {
		_ = nc.Close()
		if err == nil {
			err = errors.New("componentclient: expected a stream header")
		}
		return nil, err
	}
	c.Header, c.StreamID = h, h.Attr("id")
	return c, nil
}

// Handshake sends <handshake/> for secret and waits for the server's
// empty one.
func (c *Client) Handshake(ctx context.Context, secret string) error {
	stop := c.deadline(ctx)
	defer stop()
	if err := c.Send(stanza.New("handshake", NSAccept).SetText(HandshakeHash(c.StreamID, secret))); err != nil {
		return err
	}
	el, err := c.Next()
	if err != nil {
		return err
	}
	if !el.Is("handshake", NSAccept) {
		return errors.New("componentclient: expected <handshake/>, got <" + el.Name + "/>")
	}
	return nil
}

// HandshakeHash is the handshake's content: hex SHA-1 of the stream id
// followed by the secret (XEP-0114 §3.2).
func HandshakeHash(streamID, secret string) string {
	sum := sha1.Sum([]byte(streamID + secret))
	return hex.EncodeToString(sum[:])
}

// Send writes el; elements in NSAccept are written without an xmlns (the
// stream's namespace).
func (c *Client) Send(el *stanza.Element) error {
	return c.SendRaw(el.AppendXML(nil, NSAccept))
}

// SendRaw writes bytes as they are.
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// Next returns the next element the server sent. A <stream:error/> is
// returned as a *stanza.StreamError, the server's closing tag as
// stanza.ErrStreamClosed.
func (c *Client) Next() (*stanza.Element, error) {
	el, header, err := c.parser.Next()
	if err != nil {
		return nil, err
	}
	if header {
		return nil, errors.New("componentclient: unexpected stream header")
	}
	if el.Is("error", stanza.NSStream) {
		return nil, streamError(el)
	}
	return el, nil
}

// NextWithin is Next bounded by d.
func (c *Client) NextWithin(d time.Duration) (*stanza.Element, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	defer c.nc.SetReadDeadline(time.Time{})
	return c.Next()
}

// Close sends the closing tag and closes the connection.
func (c *Client) Close() error {
	_ = c.SendRaw([]byte(stanza.StreamEnd))
	return c.nc.Close()
}

// Conn is the underlying connection, for tests that cut it.
func (c *Client) Conn() net.Conn { return c.nc }

// deadline applies ctx's deadline to reads until stop is called.
func (c *Client) deadline(ctx context.Context) (stop func()) {
	if d, ok := ctx.Deadline(); ok {
		_ = c.nc.SetReadDeadline(d)
	}
	return func() { _ = c.nc.SetReadDeadline(time.Time{}) }
}

func streamError(el *stanza.Element) *stanza.StreamError {
	e := &stanza.StreamError{Condition: stanza.StreamUndefined}
	for _, ch := range el.Elements() {
		if ch.Space != stanza.NSStreams {
			continue
		}
		if ch.Name == "text" {
			e.Text = ch.Text()
		} else {
			e.Condition = stanza.StreamCondition(ch.Name)
		}
	}
	return e
}
