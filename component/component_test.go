package component_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/componentclient"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

const (
	domain = "push.localhost"
	secret = "s3cret-for-tests"
	wait   = 10 * time.Second
)

// start runs a server accepting the component push.localhost.
func start(t *testing.T) (*testserver.Server, string) {
	t.Helper()
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) {
		c.Listeners.Component.Address = "127.0.0.1:0"
		c.Components = []config.Component{{Domain: domain, Secret: secret}}
	})
	return s, s.Addr("component").String()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

func dial(t *testing.T, addr string) *componentclient.Client {
	t.Helper()
	c, err := componentclient.Dial(ctx(t), addr, domain, secret)
	if err != nil {
		t.Fatalf("component handshake: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// wantStreamError reads until the stream error and checks its condition.
func wantStreamError(t *testing.T, c *componentclient.Client, want stanza.StreamCondition) {
	t.Helper()
	for {
		_, err := c.NextWithin(wait)
		var se *stanza.StreamError
		if errors.As(err, &se) {
			if se.Condition != want {
				t.Fatalf("stream error %s (%s), want %s", se.Condition, se.Text, want)
			}
			return
		}
		if err != nil {
			t.Fatalf("want stream error %s, got %v", want, err)
		}
	}
}

func entry(t *testing.T) jid.JID {
	return jid.MustParse(domain + "/component")
}

func login(t *testing.T, s *testserver.Server, user string) *xmppclient.Client {
	t.Helper()
	s.AddUser(user+"@localhost", "password")
	c, err := xmppclient.Dial(ctx(t), xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: user, Password: "password", Resource: "r"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestHandshake(t *testing.T) {
	s, addr := start(t)
	c := dial(t, addr)
	if c.Header.Attr("from") != domain || c.StreamID == "" || c.Header.Attr("xmlns") != componentclient.NSAccept {
		t.Fatalf("stream header %s", c.Header)
	}
	sess := s.Router().Session(entry(t))
	if sess == nil || !sess.IsLocal() {
		t.Fatal("the component is not in the session directory")
	}
	// Leaving takes it out again.
	_ = c.Close()
	testutil.Eventually(t, wait, func() bool { return s.Router().Session(entry(t)) == nil })
}

func TestWrongSecret(t *testing.T) {
	s, addr := start(t)
	c, err := componentclient.Open(ctx(t), addr, domain)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Conn().Close()
	if err := c.Send(stanza.New("handshake", componentclient.NSAccept).SetText(componentclient.HandshakeHash(c.StreamID, "wrong"))); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c, stanza.StreamNotAuthorized)
	if s.Router().Session(entry(t)) != nil {
		t.Fatal("a component with the wrong secret entered the directory")
	}
	// The hash of another stream's id does not do either: it is bound to
	// this stream.
	c2, err := componentclient.Open(ctx(t), addr, domain)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Conn().Close()
	if err := c2.Send(stanza.New("handshake", componentclient.NSAccept).SetText(componentclient.HandshakeHash(c.StreamID, secret))); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c2, stanza.StreamNotAuthorized)
	if m := metrics(t, s); !strings.Contains(m, "parley_component_handshake_failures_total 2\n") {
		t.Error("handshake failures not counted")
	}
}

func TestUnknownDomain(t *testing.T) {
	_, addr := start(t)
	for _, d := range []string{"other.localhost", "localhost", ""} {
		c, err := componentclient.Open(ctx(t), addr, d)
		if err != nil {
			t.Fatal(err)
		}
		wantStreamError(t, c, stanza.HostUnknown)
		_ = c.Conn().Close()
	}
}

func TestWrongNamespace(t *testing.T) {
	_, addr := start(t)
	// A stream header in the client namespace:
	c2, err := componentclient.OpenWith(ctx(t), addr, domain, []byte("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='"+domain+"'>"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Conn().Close()
	wantStreamError(t, c2, stanza.InvalidNamespace)

	// Stanzas must be in the component namespace.
	c3 := dial(t, addr)
	if err := c3.SendRaw([]byte("<message xmlns='jabber:client' from='bot@" + domain + "' to='alice@localhost'/>")); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c3, stanza.InvalidNamespace)
}

func TestConflict(t *testing.T) {
	s, addr := start(t)
	first := dial(t, addr)
	_, err := componentclient.Dial(ctx(t), addr, domain, secret)
	var se *stanza.StreamError
	if !errors.As(err, &se) || se.Condition != stanza.StreamConflict {
		t.Fatalf("second connection for the domain: %v, want <conflict/>", err)
	}
	// The first one is still the one in service.
	alice := login(t, s, "alice")
	send(t, alice, "<message to='bot@"+domain+"' id='m1'><body>still there?</body></message>")
	el := next(t, first)
	if el.Name != "message" || el.ID() != "m1" {
		t.Fatalf("the first component got %s", el)
	}
}

func TestWrongFrom(t *testing.T) {
	for _, st := range []string{
		"<message from='bot@other.localhost' to='alice@localhost'/>",
		"<message from='alice@localhost' to='alice@localhost'/>",
		"<message from='bot@" + domain + "' to='alice@localhost'/>", // fine: see below
	} {
		_, addr := start(t)
		c := dial(t, addr)
		if err := c.SendRaw([]byte(st)); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(st, "@"+domain) {
			// A valid 'from': no error. A ping answered shows the stream
			// is still up.
			ping(t, c)
			continue
		}
		wantStreamError(t, c, stanza.InvalidFrom)
	}
	_, addr := start(t)
	c := dial(t, addr)
	if err := c.SendRaw([]byte("<message from='bot@" + domain + "'/>")); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c, stanza.ImproperAddressing)
}

// ping asks the server for a ping answer and waits for it.
func ping(t *testing.T, c *componentclient.Client) {
	t.Helper()
	if err := c.SendRaw([]byte("<iq type='get' id='p1' from='" + domain + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")); err != nil {
		t.Fatal(err)
	}
	el := next(t, c)
	if el.Name != "iq" || el.ID() != "p1" || el.Type() != "result" || el.To() != domain || el.From() != "localhost" {
		t.Fatalf("ping answer %s", el)
	}
}

func send(t *testing.T, c *xmppclient.Client, x string) {
	t.Helper()
	el, err := stanza.ParseBytes([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	if el.Space == "" {
		el.Space = stanza.NSClient
	}
	if err := c.Send(el); err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, c *componentclient.Client) *stanza.Element {
	t.Helper()
	el, err := c.NextWithin(wait)
	if err != nil {
		t.Fatal(err)
	}
	return el
}

func expect(t *testing.T, c *xmppclient.Client, what string, match func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	el, err := c.Expect(ctx(t), match)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return el
}

func TestRoutingBothWays(t *testing.T) {
	s, addr := start(t)
	comp := dial(t, addr)
	alice := login(t, s, "alice")

	// Component to client: a message from any address at its domain.
	if err := comp.SendRaw([]byte("<message from='bot@" + domain + "/x' to='alice@localhost/r' type='chat' id='c1'><body>hello from the component</body></message>")); err != nil {
		t.Fatal(err)
	}
	m := expect(t, alice, "the component's message", func(el *stanza.Element) bool { return el.Name == "message" && el.ID() == "c1" })
	if m.From() != "bot@"+domain+"/x" || m.Child("body", stanza.NSClient).Text() != "hello from the component" {
		t.Fatalf("alice got %s", m)
	}

	// Client to component: messages to the domain and to addresses at it.
	send(t, alice, "<message to='bot@"+domain+"' type='chat' id='a1'><body>hi bot</body></message>")
	el := next(t, comp)
	if el.Name != "message" || el.ID() != "a1" || el.From() != "alice@localhost/r" || el.To() != "bot@"+domain ||
		el.Space != componentclient.NSAccept || el.Child("body", componentclient.NSAccept).Text() != "hi bot" {
		t.Fatalf("the component got %s", el)
	}

	// An IQ from the client, answered by the component.
	go func() {
		el, err := comp.NextWithin(wait)
		if err != nil || el.Name != "iq" {
			return
		}
		_ = comp.SendRaw([]byte("<iq type='result' id='" + el.ID() + "' from='" + el.To() + "' to='" + el.From() + "'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='pubsub' type='push'/></query></iq>"))
	}()
	reply, err := alice.Request(ctx(t), stanza.New("iq", stanza.NSClient, "type", "get", "to", domain).Append(stanza.New("query", "http://jabber.org/protocol/disco#info")))
	if err != nil {
		t.Fatal(err)
	}
	if id := reply.Child("query", "http://jabber.org/protocol/disco#info").Child("identity", ""); id == nil || id.Attr("type") != "push" {
		t.Fatalf("alice's disco answer %s", reply)
	}

	// An IQ from the component to the server.
	ping(t, comp)

	// Directed presence reaches the component, and so does the
	// unavailable presence when alice leaves.
	send(t, alice, "<presence/>")
	expect(t, alice, "her own presence", func(el *stanza.Element) bool { return el.Name == "presence" })
	send(t, alice, "<presence to='bot@"+domain+"'/>")
	if el := next(t, comp); el.Name != "presence" || el.From() != "alice@localhost/r" || el.Type() != "" {
		t.Fatalf("the component got %s, want alice's presence", el)
	}
	_ = alice.Close()
	if el := next(t, comp); el.Name != "presence" || el.Type() != "unavailable" || el.To() != "bot@"+domain {
		t.Fatalf("the component got %s, want alice's unavailable presence", el)
	}

	// A message from the component for a user who is offline is stored.
	if err := comp.SendRaw([]byte("<message from='bot@" + domain + "' to='alice@localhost' type='chat' id='c2'><body>while you were away</body></message>")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, wait, func() bool {
		n, err := s.Store().CountOffline(context.Background(), "alice@localhost")
		return err == nil && n == 1
	})
}

func TestComponentNotConnected(t *testing.T) {
	s, _ := start(t)
	alice := login(t, s, "alice")
	send(t, alice, "<message to='bot@"+domain+"' id='x1'><body>anyone?</body></message>")
	e := expect(t, alice, "an error", func(el *stanza.Element) bool { return el.ID() == "x1" })
	if e.Type() != "error" || e.Child("error", "").Child("service-unavailable", stanza.NSStanzas) == nil {
		t.Fatalf("got %s, want service-unavailable", e)
	}
	// Other domains: still no federation.
	send(t, alice, "<message to='bob@elsewhere.example' id='x2'><body>hello?</body></message>")
	e = expect(t, alice, "an error", func(el *stanza.Element) bool { return el.ID() == "x2" })
	if e.Type() != "error" || e.Child("error", "").Child("remote-server-not-found", stanza.NSStanzas) == nil {
		t.Fatalf("got %s, want remote-server-not-found", e)
	}
	// A component IQ to a user's full JID that is not there.
	_, addr := start(t)
	comp := dial(t, addr)
	if err := comp.SendRaw([]byte("<iq type='get' id='q1' from='" + domain + "' to='nobody@localhost/r'><ping xmlns='urn:xmpp:ping'/></iq>")); err != nil {
		t.Fatal(err)
	}
	el := next(t, comp)
	if el.ID() != "q1" || el.Type() != "error" || el.Child("error", "").Child("service-unavailable", stanza.NSStanzas) == nil {
		t.Fatalf("got %s, want service-unavailable", el)
	}
}

func metrics(t *testing.T, s *testserver.Server) string {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTP() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
