// Package webclient connects test clients (internal/xmppclient) to
// Parley's web transports: XMPP over WebSocket (RFC 7395) and BOSH
// (XEP-0124/0206), each seen as a TCP-framed stream.
package webclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/parley-im/parley/c2s"
	"github.com/parley-im/parley/stanza"
)

const nsHTTPBind = "http://jabber.org/protocol/httpbind"

// WebSocket dials an XMPP WebSocket endpoint (ws:// or wss://) for
// xmppclient.Config.Dialer, with extra request headers (a reverse
// proxy's, say) and TLS settings for wss://.
type WebSocket struct {
	URL    string
	Header http.Header
	TLS    *tls.Config
}

// DialContext opens the WebSocket with the xmpp subprotocol.
func (d WebSocket) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	opts := &websocket.DialOptions{Subprotocols: []string{"xmpp"}, HTTPHeader: d.Header}
	if d.TLS != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: d.TLS}}
	}
	ws, _, err := websocket.Dial(ctx, d.URL, opts)
	if err != nil {
		return nil, err
	}
	if ws.Subprotocol() != "xmpp" {
		return nil, fmt.Errorf("server chose subprotocol %q", ws.Subprotocol())
	}
	return c2s.WebSocketConn(ws, nil), nil
}

// BOSH is the client end of a BOSH session (XEP-0124/0206) seen as
// a TCP-framed stream, so xmppclient can speak over it: what the client
// writes goes out in POSTs, one poll is kept open for what the server
// sends, and the answers are read back in TCP framing.
type BOSH struct {
	URL, Domain string
	// HTTP sends the requests (http.DefaultClient when nil); give it a
	// cookie jar behind a balancer that keeps a session on one node with
	// a cookie.
	HTTP *http.Client

	mu        sync.Mutex
	rid       uint64 // the last request's
	sid       string
	restarted bool // a restart was sent: the next features need a header
	ended     bool
	polling   bool
	in        chan []byte // created on first use
	rest      []byte
	cur       []byte
	deadline  time.Time
}

// DialContext starts nothing: the session is created by the stream
// header xmppclient writes first.
func (c *BOSH) DialContext(context.Context, string, string) (net.Conn, error) {
	c.mu.Lock()
	if c.in == nil {
		c.in = make(chan []byte, 64)
	}
	c.mu.Unlock()
	return c, nil
}

func (c *BOSH) post(body string, isPoll bool) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Post(c.URL, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		c.in <- nil
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	el, err := stanza.ParseBytes(b)
	if err != nil || !el.Is("body", nsHTTPBind) {
		c.in <- nil
		return
	}
	var out []byte
	c.mu.Lock()
	if isPoll {
		c.polling = false
	}
	if sid := el.Attr("sid"); sid != "" && c.sid == "" {
		c.sid = sid
		out = fmt.Appendf(out, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='%s' from='%s'>", el.Attr("authid"), el.Attr("from"))
	}
	for _, ch := range el.Elements() {
		if c.restarted && ch.Is("features", stanza.NSStream) {
			c.restarted = false
			out = fmt.Appendf(out, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='%s'>", c.Domain)
		}
		out = ch.AppendXML(out, stanza.NSClient)
	}
	if el.Type() == "terminate" {
		c.ended = true
		out = append(out, "</stream:stream>"...)
	}
	poll := !c.ended && c.sid != "" && !c.polling
	if poll {
		c.polling = true
	}
	c.mu.Unlock()
	if len(out) > 0 {
		c.in <- out
	}
	if poll {
		go func() {
			c.mu.Lock()
			c.rid++
			req := fmt.Sprintf("<body xmlns='%s' rid='%d' sid='%s'/>", nsHTTPBind, c.rid, c.sid)
			c.mu.Unlock()
			c.post(req, true)
		}()
	}
}

func (c *BOSH) Write(b []byte) (int, error) {
	msgs, rest := c2s.WebSocketFromStream(append(c.rest, b...))
	c.rest = append([]byte(nil), rest...)
	for _, m := range msgs {
		c.mu.Lock()
		c.rid++
		var req string
		switch {
		case bytes.HasPrefix(m, []byte("<open")) && c.sid == "":
			req = fmt.Sprintf("<body xmlns='%s' xmlns:xmpp='urn:xmpp:xbosh' rid='%d' to='%s' wait='10' hold='1' xmpp:version='1.0'/>", nsHTTPBind, c.rid, c.Domain)
		case bytes.HasPrefix(m, []byte("<open")):
			c.restarted = true
			req = fmt.Sprintf("<body xmlns='%s' xmlns:xmpp='urn:xmpp:xbosh' rid='%d' sid='%s' xmpp:restart='true'/>", nsHTTPBind, c.rid, c.sid)
		case bytes.HasPrefix(m, []byte("<close")):
			req = fmt.Sprintf("<body xmlns='%s' rid='%d' sid='%s' type='terminate'/>", nsHTTPBind, c.rid, c.sid)
		default:
			req = fmt.Sprintf("<body xmlns='%s' rid='%d' sid='%s'>%s</body>", nsHTTPBind, c.rid, c.sid, m)
		}
		c.mu.Unlock()
		go c.post(req, false)
	}
	return len(b), nil
}

func (c *BOSH) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		var expire <-chan time.Time
		if !c.deadline.IsZero() {
			t := time.NewTimer(time.Until(c.deadline))
			defer t.Stop()
			expire = t.C
		}
		select {
		case b := <-c.in:
			if b == nil {
				return 0, io.EOF
			}
			c.cur = b
		case <-expire:
			return 0, &net.OpError{Op: "read", Err: osTimeout{}}
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

type osTimeout struct{}

func (osTimeout) Error() string   { return "i/o timeout" }
func (osTimeout) Timeout() bool   { return true }
func (osTimeout) Temporary() bool { return true }

func (c *BOSH) Close() error                      { return nil }
func (c *BOSH) LocalAddr() net.Addr               { return &net.TCPAddr{} }
func (c *BOSH) RemoteAddr() net.Addr              { return &net.TCPAddr{} }
func (c *BOSH) SetDeadline(t time.Time) error     { c.deadline = t; return nil }
func (c *BOSH) SetReadDeadline(t time.Time) error { c.deadline = t; return nil }
func (c *BOSH) SetWriteDeadline(time.Time) error  { return nil }
