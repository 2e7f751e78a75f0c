package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/webclient"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const nsHTTPBind = "http://jabber.org/protocol/httpbind"

// XEP-0206: a client over BOSH logs in (SCRAM, stream restarts, bind) and
// chats with a client over TCP; long polling carries what arrives while
// no request of its own is open.
func TestBOSHChat(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", "secret")
	s.AddUser("bob@localhost", "secret")
	bc := &webclient.BOSH{URL: "http://" + s.HTTP() + "/http-bind", Domain: "localhost"}
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
