package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/webclient"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

func dialWS(t *testing.T, s *testserver.Server, user string, header http.Header, stop xmppclient.Stage) (*xmppclient.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{
		Addr: s.HTTP(), Domain: "localhost", Username: user, Password: "secret", Resource: "web",
		Dialer: webclient.WebSocket{URL: "ws://" + s.HTTP() + "/xmpp-websocket", Header: header}, StopAfter: stop,
	})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// RFC 7395: a client over WebSocket logs in (SCRAM, bind, stream
// management) and chats with a client over TCP.
func TestWebSocketChat(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", "secret")
	s.AddUser("bob@localhost", "secret")
	alice, err := dialWS(t, s, "alice", nil, xmppclient.StageBind)
	if err != nil {
		t.Fatalf("alice over WebSocket: %v", err)
	}
	bob, err := xmppclient.Dial(t.Context(), xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: "bob", Password: "secret", Resource: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if alice.Features().Child("starttls", stanza.NSTLS) != nil {
		t.Error("STARTTLS offered over WebSocket")
	}
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
	expect := func(c *xmppclient.Client, what string, match func(*stanza.Element) bool) *stanza.Element {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		el, err := c.Expect(ctx, match)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return el
	}
	body := func(b string) func(*stanza.Element) bool {
		return func(el *stanza.Element) bool {
			bd := el.Child("body", stanza.NSClient)
			return el.Name == "message" && bd != nil && bd.Text() == b
		}
	}
	send(alice, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	en := expect(alice, "<enabled/>", func(el *stanza.Element) bool { return el.Is("enabled", "urn:xmpp:sm:3") })
	if en.Attr("location") != "" {
		t.Errorf("<enabled/> over WebSocket names a TCP location %q", en.Attr("location"))
	}
	send(alice, "<presence/>")
	send(bob, "<presence/>")
	send(alice, "<message to='bob@localhost/tcp' type='chat'><body>from the browser</body></message>")
	m := expect(bob, "alice's message", body("from the browser"))
	if m.From() != "alice@localhost/web" {
		t.Errorf("from %s", m.From())
	}
	send(bob, "<message to='alice@localhost/web' type='chat'><body>to the browser &amp; back</body></message>")
	expect(alice, "bob's message", body("to the browser & back"))
	if err := alice.Close(); err != nil {
		t.Errorf("closing the WebSocket stream: %v", err)
	}
}

// The endpoint refuses a WebSocket without the xmpp subprotocol.
func TestWebSocketNeedsSubprotocol(t *testing.T) {
	s := testserver.Start(t)
	_, resp, err := websocket.Dial(t.Context(), "ws://"+s.HTTP()+"/xmpp-websocket", nil)
	if err == nil {
		t.Fatal("a WebSocket without the xmpp subprotocol was accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("response %v, want 400", resp)
	}
}

// Behind a reverse proxy that ends TLS: the client's address comes from
// X-Forwarded-For (per-address limits apply to it) and its encryption from
// X-Forwarded-Proto (PLAIN is offered only over TLS); headers from an
// untrusted peer are ignored.
func TestWebSocketBehindProxy(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) {
		c.Limits.MaxConnectionsPerIP = 1
		c.Auth.AllowPlain = true
	})
	s.AddUser("alice@localhost", "secret")
	proxied := func(ip, proto string) http.Header {
		return http.Header{"X-Forwarded-For": {"203.0.113.9, " + ip}, "X-Forwarded-Proto": {proto}}
	}
	a, err := dialWS(t, s, "alice", proxied("198.51.100.1", "https"), xmppclient.StageFeatures)
	if err != nil {
		t.Fatal(err)
	}
	if !hasMechanism(a.Features(), "PLAIN") {
		t.Error("PLAIN not offered to a client that reached the proxy over https")
	}
	if _, err := dialWS(t, s, "alice", proxied("198.51.100.2", "http"), xmppclient.StageFeatures); err != nil {
		t.Fatalf("a second client address refused: %v", err)
	}
	if _, err := dialWS(t, s, "alice", proxied("198.51.100.1", "https"), xmppclient.StageFeatures); err == nil {
		t.Error("a second connection from 198.51.100.1 accepted with max_connections_per_ip 1")
	}
	b, err := dialWS(t, s, "alice", proxied("198.51.100.3", "http"), xmppclient.StageFeatures)
	if err != nil {
		t.Fatal(err)
	}
	if hasMechanism(b.Features(), "PLAIN") {
		t.Error("PLAIN offered to a client that reached the proxy over http")
	}
}

// An untrusted peer's forwarding headers are not believed: its clients
// all count as the peer (and over plain HTTP from another machine, the
// stream is not private: authentication needs TLS when STARTTLS is
// required on the client listener).
func TestWebSocketUntrustedProxy(t *testing.T) {
	s := testserver.Start(t, func(c *config.Config) {
		c.Limits.MaxConnectionsPerIP = 1
		c.Listeners.HTTP.TrustedProxies = []string{"192.0.2.0/24"}
	})
	if _, err := dialWS(t, s, "alice", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, xmppclient.StageFeatures); err != nil {
		t.Fatal(err)
	}
	if _, err := dialWS(t, s, "alice", http.Header{"X-Forwarded-For": {"198.51.100.2"}}, xmppclient.StageFeatures); err == nil {
		t.Error("an untrusted peer's X-Forwarded-For was believed: two of its connections accepted with max_connections_per_ip 1")
	}
}

func hasMechanism(features *stanza.Element, name string) bool {
	if m := features.Child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl"); m != nil {
		for _, c := range m.Elements() {
			if c.Text() == name {
				return true
			}
		}
	}
	return false
}

// XEP-0156: host-meta names the WebSocket endpoint, as the browser reaches
// it (through a trusted proxy: its scheme and host).
func TestHostMeta(t *testing.T) {
	s := testserver.Start(t)
	get := func(path string, h http.Header) (string, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+s.HTTP()+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.Header.Get("Content-Type"), b.String()
	}
	ct, body := get("/.well-known/host-meta", nil)
	want := "ws://" + s.HTTP() + "/xmpp-websocket"
	if !strings.HasPrefix(ct, "application/xrd+xml") || !strings.Contains(body, `<Link rel="urn:xmpp:alt-connections:websocket" href="`+want+`"`) {
		t.Errorf("host-meta: %s\n%s", ct, body)
	}
	ct, body = get("/.well-known/host-meta.json", http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"chat.example.com"}})
	var jrd struct {
		Links []struct{ Rel, Href string } `json:"links"`
	}
	if err := json.Unmarshal([]byte(body), &jrd); err != nil || ct != "application/json" {
		t.Fatalf("host-meta.json: %s %v\n%s", ct, err, body)
	}
	if len(jrd.Links) != 2 || jrd.Links[0].Rel != "urn:xmpp:alt-connections:websocket" || jrd.Links[0].Href != "wss://chat.example.com/xmpp-websocket" ||
		jrd.Links[1].Rel != "urn:xmpp:alt-connections:xbosh" || jrd.Links[1].Href != "https://chat.example.com/http-bind" {
		t.Errorf("host-meta.json links %+v", jrd.Links)
	}
}

// With STARTTLS required on the client listener, a WebSocket that is not
// private (plain HTTP from another machine) is refused with
// policy-violation; one a trusted proxy received over https is served.
func TestWebSocketNeedsTLS(t *testing.T) {
	s := testserver.Start(t)
	s.AddUser("alice@localhost", "secret")
	_, err := dialWS(t, s, "alice", http.Header{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"http"}}, xmppclient.StageFeatures)
	var se *stanza.StreamError
	if !errors.As(err, &se) || se.Condition != stanza.StreamPolicyViolation {
		t.Fatalf("plain WebSocket from another machine: %v, want policy-violation", err)
	}
	if _, err := dialWS(t, s, "alice", http.Header{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"https"}}, xmppclient.StageBind); err != nil {
		t.Fatalf("WebSocket through a TLS proxy: %v", err)
	}
}
