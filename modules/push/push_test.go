package push_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
	service = "push.localhost"
	secret  = "app-server-secret"
	wait    = 10 * time.Second
	quiet   = 500 * time.Millisecond // how long "nothing arrives" is watched

	nsPush   = "urn:xmpp:push:0"
	nsPubsub = "http://jabber.org/protocol/pubsub"
	nsData   = "jabber:x:data"
)

func start(t *testing.T, opts ...testserver.Option) *testserver.Server {
	t.Helper()
	opts = append([]testserver.Option{testserver.PlainTCP, func(c *config.Config) {
		c.Listeners.Component.Address = "127.0.0.1:0"
		c.Components = []config.Component{{Domain: service, Secret: secret}}
	}}, opts...)
	s := testserver.Start(t, opts...)
	s.AddUser("alice@localhost", "password")
	s.AddUser("bob@localhost", "password")
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

func login(t *testing.T, s *testserver.Server, user string) *xmppclient.Client {
	t.Helper()
	c, err := xmppclient.Dial(ctx(t), xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: user, Password: "password", Resource: "r"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(t *testing.T, c *xmppclient.Client, format string, args ...any) {
	t.Helper()
	el, err := stanza.ParseBytes([]byte(fmt.Sprintf(format, args...)))
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

// request sends an iq (XML, no id) and returns the answer and its error.
func request(t *testing.T, c *xmppclient.Client, x string) (*stanza.Element, error) {
	t.Helper()
	el, err := stanza.ParseBytes([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	return c.Request(ctx(t), el)
}

func enable(t *testing.T, c *xmppclient.Client, node, form string) {
	t.Helper()
	if _, err := request(t, c, "<iq xmlns='jabber:client' type='set'><enable xmlns='urn:xmpp:push:0' jid='"+service+"' node='"+node+"'>"+form+"</enable></iq>"); err != nil {
		t.Fatalf("enable: %v", err)
	}
}

// appServer is a push app server: a component that records the
// publishes it gets and answers each with answer's stanza (a result by
// default).
type appServer struct {
	c         *componentclient.Client
	publishes chan *stanza.Element
	mu        sync.Mutex
	answer    func(iq *stanza.Element) string
}

func newAppServer(t *testing.T, s *testserver.Server) *appServer {
	t.Helper()
	c, err := componentclient.Dial(ctx(t), s.Addr("component").String(), service, secret)
	if err != nil {
		t.Fatal(err)
	}
	a := &appServer{c: c, publishes: make(chan *stanza.Element, 100)}
	done := make(chan struct{})
	go a.run(done)
	t.Cleanup(func() {
		_ = c.Close()
		<-done
	})
	return a
}

func (a *appServer) setAnswer(fn func(iq *stanza.Element) string) {
	a.mu.Lock()
	a.answer = fn
	a.mu.Unlock()
}

func (a *appServer) run(done chan struct{}) {
	defer close(done)
	for {
		el, err := a.c.Next()
		if err != nil {
			return
		}
		if el.Name != "iq" || el.Type() != "set" || el.Child("pubsub", nsPubsub) == nil {
			continue
		}
		a.publishes <- el
		a.mu.Lock()
		answer := a.answer
		a.mu.Unlock()
		reply := "<iq type='result' id='" + el.ID() + "' from='" + el.To() + "' to='" + el.From() + "'/>"
		if answer != nil {
			reply = answer(el)
		}
		_ = a.c.SendRaw([]byte(reply))
	}
}

// next returns the next publish, failing the test if none comes.
func (a *appServer) next(t *testing.T) *stanza.Element {
	t.Helper()
	select {
	case el := <-a.publishes:
		return el
	case <-time.After(wait):
		t.Fatal("no notification reached the app server")
		return nil
	}
}

// none checks that no publish comes for a while.
func (a *appServer) none(t *testing.T, why string) {
	t.Helper()
	select {
	case el := <-a.publishes:
		t.Fatalf("%s, yet the app server got %s", why, el)
	case <-time.After(quiet):
	}
}

// summary returns the fields of a publish's summary form.
func summary(t *testing.T, iq *stanza.Element) map[string]string {
	t.Helper()
	item := iq.Child("pubsub", nsPubsub).Child("publish", nsPubsub).Child("item", nsPubsub)
	if item == nil {
		t.Fatalf("no item in %s", iq)
	}
	x := item.Child("notification", nsPush).Child("x", nsData)
	if x == nil {
		t.Fatalf("no summary form in %s", iq)
	}
	out := map[string]string{}
	for _, f := range x.Elements() {
		out[f.Attr("var")] = f.Child("value", nsData).Text()
	}
	return out
}

// offline logs alice out and waits until the server has ended her session.
func offline(t *testing.T, s *testserver.Server, alice *xmppclient.Client) {
	t.Helper()
	_ = alice.Close()
	testutil.Eventually(t, wait, func() bool { return len(s.Router().Sessions(jid.MustParse("alice@localhost"))) == 0 })
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

const optionsForm = "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>eruio234vzxc2kla-91</value></field></x>"

func TestNotifyWhenOffline(t *testing.T) {
	s := start(t)
	app := newAppServer(t, s)
	alice, bob := login(t, s, "alice"), login(t, s, "bob")

	// The feature is advertised on her account.
	info, err := request(t, alice, "<iq xmlns='jabber:client' type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if err != nil || !strings.Contains(info.String(), "var='urn:xmpp:push:0'") {
		t.Fatalf("disco#info of her account: %v %s", err, info)
	}

	enable(t, alice, "node-1", optionsForm)
	// While she is online, nothing is published.
	send(t, alice, "<presence/>")
	send(t, bob, "<message to='alice@localhost' type='chat' id='m0'><body>you are here</body></message>")
	if _, err := alice.Expect(ctx(t), func(el *stanza.Element) bool { return el.ID() == "m0" }); err != nil {
		t.Fatal(err)
	}
	app.none(t, "alice is online")

	offline(t, s, alice)
	send(t, bob, "<message to='alice@localhost' type='chat' id='m1'><body>Wherefore art thou?</body></message>")
	iq := app.next(t)
	if iq.From() != "alice@localhost" || iq.To() != service {
		t.Fatalf("publish from %q to %q, want from her bare JID to the service", iq.From(), iq.To())
	}
	if node := iq.Child("pubsub", nsPubsub).Child("publish", nsPubsub).Attr("node"); node != "node-1" {
		t.Fatalf("published to node %q", node)
	}
	f := summary(t, iq)
	if f["FORM_TYPE"] != "urn:xmpp:push:summary" || f["message-count"] != "1" || f["last-message-sender"] != "bob@localhost/r" {
		t.Fatalf("summary %v", f)
	}
	if _, ok := f["last-message-body"]; ok {
		t.Fatal("the body was sent, but push.include_body is off")
	}
	// The publish options come back as given.
	opts := iq.Child("pubsub", nsPubsub).Child("publish-options", nsPubsub)
	if opts == nil || !strings.Contains(opts.String(), "eruio234vzxc2kla-91") {
		t.Fatalf("publish options %s", opts)
	}
	app.none(t, "one message, one notification")
	testutil.Eventually(t, wait, func() bool {
		return strings.Contains(metrics(t, s), `parley_push_notifications_total{result="ok"} 1`+"\n")
	})
	// The message itself waits offline.
	if n, err := s.Store().CountOffline(ctx(t), "alice@localhost"); err != nil || n != 1 {
		t.Fatalf("offline messages: %d, %v", n, err)
	}

	// Chat states alone are not worth a notification.
	send(t, bob, "<message to='alice@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	app.none(t, "a chat state alone")
}

func TestIncludeBody(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	app := newAppServer(t, s)
	alice, bob := login(t, s, "alice"), login(t, s, "bob")
	enable(t, alice, "n", "")
	offline(t, s, alice)
	send(t, bob, "<message to='alice@localhost' type='chat'><body>Wherefore art thou?</body></message>")
	iq := app.next(t)
	if f := summary(t, iq); f["last-message-body"] != "Wherefore art thou?" || f["message-count"] != "1" {
		t.Fatalf("summary %v", f)
	}
	if iq.Child("pubsub", nsPubsub).Child("publish-options", nsPubsub) != nil {
		t.Fatal("publish options sent, but none were given")
	}
}

func TestDisable(t *testing.T) {
	s := start(t)
	app := newAppServer(t, s)
	alice, bob := login(t, s, "alice"), login(t, s, "bob")
	enable(t, alice, "n1", "")
	enable(t, alice, "n2", "")
	// One node off: the other is still notified.
	if _, err := request(t, alice, "<iq xmlns='jabber:client' type='set'><disable xmlns='urn:xmpp:push:0' jid='"+service+"' node='n1'/></iq>"); err != nil {
		t.Fatal(err)
	}
	regs, err := s.Store().PushRegistrations(ctx(t), "alice@localhost")
	if err != nil || len(regs) != 1 || regs[0].Node != "n2" {
		t.Fatalf("registrations after disabling n1: %+v %v", regs, err)
	}
	// The whole service off, without a node.
	if _, err := request(t, alice, "<iq xmlns='jabber:client' type='set'><disable xmlns='urn:xmpp:push:0' jid='"+service+"'/></iq>"); err != nil {
		t.Fatal(err)
	}
	offline(t, s, alice)
	send(t, bob, "<message to='alice@localhost' type='chat'><body>anyone?</body></message>")
	testutil.Eventually(t, wait, func() bool {
		n, err := s.Store().CountOffline(ctx(t), "alice@localhost")
		return err == nil && n == 1
	})
	app.none(t, "push is disabled")
}

func TestDetachedSession(t *testing.T) {
	s := start(t)
	app := newAppServer(t, s)
	alice, bob := login(t, s, "alice"), login(t, s, "bob")
	enable(t, alice, "n", "")
	send(t, alice, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	if _, err := alice.Expect(ctx(t), func(el *stanza.Element) bool { return el.Is("enabled", "urn:xmpp:sm:3") }); err != nil {
		t.Fatal(err)
	}
	send(t, alice, "<presence/>")
	if _, err := alice.Expect(ctx(t), func(el *stanza.Element) bool { return el.Name == "presence" }); err != nil {
		t.Fatal(err)
	}
	_ = alice.Conn().Close() // the connection breaks; the session waits to be resumed
	testutil.Eventually(t, wait, func() bool { return s.Connections() == 1 })
	if len(s.Router().Sessions(jid.MustParse("alice@localhost"))) != 1 {
		t.Fatal("the session did not wait for its client")
	}
	send(t, bob, "<message to='alice@localhost' type='chat'><body>wake up</body></message>")
	f := summary(t, app.next(t))
	if f["message-count"] != "1" || f["last-message-sender"] != "bob@localhost/r" {
		t.Fatalf("summary %v", f)
	}
	// It went to the waiting session, not to offline storage.
	if n, err := s.Store().CountOffline(ctx(t), "alice@localhost"); err != nil || n != 0 {
		t.Fatalf("offline messages: %d, %v", n, err)
	}
}

func TestEnableErrors(t *testing.T) {
	s := start(t)
	alice := login(t, s, "alice")
	for _, tc := range []struct {
		name, payload string
		want          stanza.Condition
	}{
		{"no jid", "<enable xmlns='urn:xmpp:push:0' node='n'/>", stanza.BadRequest},
		{"bad jid", "<enable xmlns='urn:xmpp:push:0' jid='a@b@c' node='n'/>", stanza.BadRequest},
		{"not a component", "<enable xmlns='urn:xmpp:push:0' jid='push.elsewhere.example' node='n'/>", stanza.RemoteServerNotFound},
		{"wrong form", "<enable xmlns='urn:xmpp:push:0' jid='" + service + "' node='n'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:example</value></field></x></enable>", stanza.BadRequest},
		{"disable without jid", "<disable xmlns='urn:xmpp:push:0'/>", stanza.BadRequest},
		{"unknown element", "<frobnicate xmlns='urn:xmpp:push:0' jid='" + service + "'/>", stanza.BadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := request(t, alice, "<iq xmlns='jabber:client' type='set'>"+tc.payload+"</iq>")
			var se *stanza.Error
			if !errors.As(err, &se) || se.Condition != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
	_, err := request(t, alice, "<iq xmlns='jabber:client' type='get'><enable xmlns='urn:xmpp:push:0' jid='"+service+"'/></iq>")
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.BadRequest {
		t.Fatalf("iq get: %v, want bad-request", err)
	}
	if regs, err := s.Store().PushRegistrations(ctx(t), "alice@localhost"); err != nil || len(regs) != 0 {
		t.Fatalf("registrations after refused requests: %+v %v", regs, err)
	}
}

// XEP-0357 §7.1: an error answer disables the registration, unless it
// says to wait.
func TestErrorDisables(t *testing.T) {
	s := start(t)
	app := newAppServer(t, s)
	alice, bob := login(t, s, "alice"), login(t, s, "bob")
	enable(t, alice, "n", "")
	offline(t, s, alice)

	app.setAnswer(func(iq *stanza.Element) string {
		return "<iq type='error' id='" + iq.ID() + "' from='" + iq.To() + "' to='" + iq.From() + "'><error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
	})
	send(t, bob, "<message to='alice@localhost' type='chat'><body>one</body></message>")
	app.next(t)
	testutil.Eventually(t, wait, func() bool {
		return strings.Contains(metrics(t, s), `parley_push_notifications_total{result="error"} 1`+"\n")
	})
	if regs, err := s.Store().PushRegistrations(ctx(t), "alice@localhost"); err != nil || len(regs) != 1 {
		t.Fatalf("a 'wait' error disabled the registration: %+v %v", regs, err)
	}

	app.setAnswer(func(iq *stanza.Element) string {
		return "<iq type='error' id='" + iq.ID() + "' from='" + iq.To() + "' to='" + iq.From() + "'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
	})
	send(t, bob, "<message to='alice@localhost' type='chat'><body>two</body></message>")
	app.next(t)
	testutil.Eventually(t, wait, func() bool {
		regs, err := s.Store().PushRegistrations(ctx(t), "alice@localhost")
		return err == nil && len(regs) == 0
	})
	if !strings.Contains(metrics(t, s), "parley_push_registrations_disabled_total 1\n") {
		t.Error("the disabling was not counted")
	}
	send(t, bob, "<message to='alice@localhost' type='chat'><body>three</body></message>")
	app.none(t, "the registration was disabled")
}

// A burst while a publish is in flight makes one more notification, with
// the count of the burst.
func TestCoalesce(t *testing.T) {
	s := start(t)
	app := newAppServer(t, s)
	alice, bob := login(t, s, "alice"), login(t, s, "bob")
	enable(t, alice, "n", "")
	offline(t, s, alice)

	release := make(chan struct{})
	first := true
	app.setAnswer(func(iq *stanza.Element) string {
		if first {
			first = false
			<-release // the app server is slow to answer the first one
		}
		return "<iq type='result' id='" + iq.ID() + "' from='" + iq.To() + "' to='" + iq.From() + "'/>"
	})
	const burst = 20
	send(t, bob, "<message to='alice@localhost' type='chat'><body>first</body></message>")
	if f := summary(t, app.next(t)); f["message-count"] != "1" {
		t.Fatalf("first summary %v", f)
	}
	for i := range burst {
		send(t, bob, "<message to='alice@localhost' type='chat'><body>burst %d</body></message>", i)
	}
	testutil.Eventually(t, wait, func() bool {
		n, err := s.Store().CountOffline(ctx(t), "alice@localhost")
		return err == nil && n == burst+1
	})
	app.none(t, "a publish is in flight")
	close(release)
	if f := summary(t, app.next(t)); f["message-count"] != fmt.Sprint(burst) {
		t.Fatalf("after the burst: summary %v, want message-count %d", f, burst)
	}
	app.none(t, "the burst was notified at once")
}
