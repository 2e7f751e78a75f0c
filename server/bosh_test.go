package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/c2s"
	"github.com/parley-im/parley/internal/testserver"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const nsHTTPBind = "http://jabber.org/protocol/httpbind"

// boshClient is the client end of a BOSH session (XEP-0124/0206) seen as
// a TCP-framed stream, so xmppclient can speak over it: what the client
// writes goes out in POSTs, one poll is kept open for what the server
// sends, and the answers are read back in TCP framing.
type boshClient struct {
	url, domain string

	mu        sync.Mutex
	rid       uint64
	sid       string
	restarted bool // a restart was sent: the next features need a header
	ended     bool
	polling   bool
	in        chan []byte
	rest      []byte
	cur       []byte
	deadline  time.Time
}

func (d *boshClient) DialContext(context.Context, string, string) (net.Conn, error) { return d, nil }

func (c *boshClient) post(body string, isPoll bool) {
	resp, err := http.Post(c.url, "text/xml; charset=utf-8", strings.NewReader(body))
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
			out = fmt.Appendf(out, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='%s'>", c.domain)
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

func (c *boshClient) Write(b []byte) (int, error) {
	msgs, rest := c2s.WebSocketFromStream(append(c.rest, b...))
	c.rest = append([]byte(nil), rest...)
	for _, m := range msgs {
		c.mu.Lock()
		c.rid++
		var req string
		switch {
		case bytes.HasPrefix(m, []byte("<open")) && c.sid == "":
			req = fmt.Sprintf("<body xmlns='%s' xmlns:xmpp='urn:xmpp:xbosh' rid='%d' to='%s' wait='10' hold='1' xmpp:version='1.0'/>", nsHTTPBind, c.rid, c.domain)
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

func (c *boshClient) Read(p []byte) (int, error) {
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

func (c *boshClient) Close() error                      { return nil }
func (c *boshClient) LocalAddr() net.Addr               { return &net.TCPAddr{} }
func (c *boshClient) RemoteAddr() net.Addr              { return &net.TCPAddr{} }
func (c *boshClient) SetDeadline(t time.Time) error     { c.deadline = t; return nil }
func (c *boshClient) SetReadDeadline(t time.Time) error { c.deadline = t; return nil }
func (c *boshClient) SetWriteDeadline(time.Time) error  { return nil }

// XEP-0206: a client over BOSH logs in (SCRAM, stream restarts, bind) and
// chats with a client over TCP; long polling carries what arrives while
// no request of its own is open.
func TestBOSHChat(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", "secret")
	s.AddUser("bob@localhost", "secret")
	bc := &boshClient{url: "http://" + s.HTTP() + "/http-bind", domain: "localhost", rid: 1000, in: make(chan []byte, 64)}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	alice, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: s.HTTP(), Domain: "localhost", Username: "alice", Password: "secret", Resource: "bosh", Dialer: bc})
	if err != nil {
		t.Fatalf("alice over BOSH: %v", err)
	}
	bob, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: "bob", Password: "secret", Resource: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	send := func(c *xmppclient.Client, x string) {
		t.Helper()
		el, err := stanza.ParseBytes([]byte(x))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(el); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(c *xmppclient.Client, what, body string) *stanza.Element {
		t.Helper()
		el, err := c.Expect(ctx, func(el *stanza.Element) bool {
			b := el.Child("body", stanza.NSClient)
			return el.Name == "message" && b != nil && b.Text() == body
		})
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return el
	}
	send(alice, "<presence/>")
	send(bob, "<presence/>")
	send(alice, "<message to='bob@localhost/tcp' type='chat'><body>over bosh</body></message>")
	if m := expect(bob, "alice's message", "over bosh"); m.From() != "alice@localhost/bosh" {
		t.Errorf("from %s", m.From())
	}
	for i := range 3 { // each arrives on the poll the client keeps open
		send(bob, fmt.Sprintf("<message to='alice@localhost/bosh' type='chat'><body>pushed %d</body></message>", i))
		expect(alice, "bob's message", fmt.Sprintf("pushed %d", i))
	}
	if err := alice.Close(); err != nil {
		t.Errorf("terminating the BOSH session: %v", err)
	}
}

// Bad requests get XEP-0124's terminal conditions.
func TestBOSHErrors(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	url := "http://" + s.HTTP() + "/http-bind"
	post := func(body string) (int, *stanza.Element) {
		t.Helper()
		resp, err := http.Post(url, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		el, _ := stanza.ParseBytes(b)
		return resp.StatusCode, el
	}
	for _, tc := range []struct{ body, condition string }{
		{"<body xmlns='" + nsHTTPBind + "' rid='1' sid='nope'/>", "item-not-found"},
		{"<body xmlns='" + nsHTTPBind + "' rid='1' to='elsewhere.example' wait='5' hold='1'/>", "host-unknown"},
		{"<body xmlns='" + nsHTTPBind + "' to='localhost'/>", "bad-request"},
	} {
		code, el := post(tc.body)
		if code != http.StatusOK || el == nil || el.Type() != "terminate" || el.Attr("condition") != tc.condition {
			t.Errorf("%s: HTTP %d %v, want a terminate body with %s", tc.body, code, el, tc.condition)
		}
	}
	if code, _ := post("<notbody/>"); code != http.StatusBadRequest {
		t.Errorf("a request without <body/>: HTTP %d, want 400", code)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d, want 405", resp.StatusCode)
	}
}
