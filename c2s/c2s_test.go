package c2s_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const pw = "secret-password"

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func insecure() *tls.Config { return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"} }

func dial(t *testing.T, cfg xmppclient.Config) (*xmppclient.Client, error) {
	t.Helper()
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	if cfg.Password == "" {
		cfg.Password = pw
	}
	c, err := xmppclient.Dial(ctx(t), cfg)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func TestLoginMechanisms(t *testing.T) {
	s := testserver.Start(t)
	s.AddUser("alice@localhost", pw)
	cases := []struct {
		name      string
		mech, cb  string
		directTLS bool
	}{
		{name: "scram-sha-256 starttls", mech: xmppclient.ScramSHA256},
		{name: "scram-sha-1 starttls", mech: xmppclient.ScramSHA1},
		{name: "scram-sha-256-plus exporter", mech: xmppclient.ScramSHA256Plus, cb: xmppclient.TLSExporter},
		{name: "scram-sha-1-plus endpoint", mech: xmppclient.ScramSHA1Plus, cb: xmppclient.TLSServerEndpoint},
		{name: "scram-sha-256-plus endpoint direct tls", mech: xmppclient.ScramSHA256Plus, cb: xmppclient.TLSServerEndpoint, directTLS: true},
		{name: "plain over tls", mech: xmppclient.Plain},
		{name: "plain over direct tls", mech: xmppclient.Plain, directTLS: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := xmppclient.Config{Addr: s.C2S(), Username: "alice", Mechanism: tc.mech, ChannelBinding: tc.cb, TLS: insecure(), StartTLS: !tc.directTLS, DirectTLS: tc.directTLS, Resource: "r"}
			if tc.directTLS {
				cfg.Addr = s.DirectTLS()
			}
			c, err := dial(t, cfg)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if got := c.JID().String(); got != "alice@localhost/r" {
				t.Fatalf("bound %q, want alice@localhost/r", got)
			}
		})
	}
}

func TestAuthFailures(t *testing.T) {
	s := testserver.Start(t)
	s.AddUser("alice@localhost", pw)
	t.Run("wrong password", func(t *testing.T) {
		_, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Password: "wrong", StartTLS: true, TLS: insecure()})
		assertSASL(t, err, "not-authorized")
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "nobody", StartTLS: true, TLS: insecure()})
		assertSASL(t, err, "not-authorized")
	})
	t.Run("starttls required", func(t *testing.T) {
		_, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice"})
		assertSASL(t, err, "encryption-required")
	})
	t.Run("unknown mechanism", func(t *testing.T) {
		_, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", StartTLS: true, TLS: insecure(), Mechanism: "DIGEST-MD5"})
		assertSASL(t, err, "invalid-mechanism")
	})
	t.Run("too many failures end the stream", func(t *testing.T) {
		c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Password: "wrong", StartTLS: true, TLS: insecure(), StopAfter: xmppclient.StageTLS})
		if err != nil {
			t.Fatal(err)
		}
		var last error
		for range 3 {
			last = c.Authenticate(ctx(t))
			var f *xmppclient.SASLFailure
			if !errors.As(last, &f) {
				break
			}
		}
		_, err = c.Next()
		assertStreamError(t, err, stanza.StreamPolicyViolation)
	})
}

func TestPlainNotOfferedWithoutTLS(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", pw)
	c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", StopAfter: xmppclient.StageFeatures})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Features().Child("mechanisms", stanza.NSSASL).Elements() {
		if m.Text() == "PLAIN" {
			t.Fatal("PLAIN offered on a plain TCP stream")
		}
	}
	_, err = dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Mechanism: xmppclient.Plain})
	assertSASL(t, err, "invalid-mechanism")
	// SCRAM works without TLS when STARTTLS is not required.
	if _, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice"}); err != nil {
		t.Fatalf("scram over plain TCP: %v", err)
	}
}

func TestStreamHeaderErrors(t *testing.T) {
	s := testserver.Start(t)
	cases := []struct {
		name   string
		header string
		want   stanza.StreamCondition
	}{
		{"unknown host", `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>`, stanza.HostUnknown},
		{"missing to", `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`, stanza.HostUnknown},
		{"old version", `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='0.9'>`, stanza.UnsupportedVersion},
		{"no version", `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>`, stanza.UnsupportedVersion},
		{"wrong stream namespace", `<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='localhost' version='1.0'>`, stanza.InvalidNamespace},
		{"not xml", `GET / HTTP/1.1` + "\r\n\r\n", stanza.NotWellFormed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := xmppclient.DialRaw(ctx(t), s.C2S())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.SendRaw([]byte(tc.header)); err != nil {
				t.Fatal(err)
			}
			_, err = c.Next()
			assertStreamError(t, err, tc.want)
		})
	}
}

// TestBadInput sends each kind of bad input on an authenticated stream and
// checks the RFC's stream error, while another client keeps chatting.
func TestBadInput(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) {
		c.Limits.MaxStanzaBytes = 4096
		c.Limits.MaxDepth = 10
		c.Limits.MaxAttrs = 8
	})
	for _, u := range []string{"alice", "bob", "mallory"} {
		s.AddUser(u+"@localhost", pw)
	}
	alice, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: "a"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "bob", Resource: "b"})
	if err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("<x>", 12) + strings.Repeat("</x>", 12)
	var attrs strings.Builder
	for i := range 10 {
		attrs.WriteString(" a" + string(rune('a'+i)) + "='1'")
	}
	cases := []struct {
		name string
		send string
		want stanza.StreamCondition
	}{
		{"malformed", "<message><body>hi</message>", stanza.NotWellFormed},
		{"unclosed attribute", "<message to='bob@localhost><body/></message>", stanza.NotWellFormed},
		{"comment", "<!-- hello -->", stanza.RestrictedXML},
		{"processing instruction", "<?foo bar?>", stanza.RestrictedXML},
		{"dtd", "<!DOCTYPE foo [<!ENTITY x 'y'>]>", stanza.RestrictedXML},
		{"entity reference", "<message to='bob@localhost'><body>&x;</body></message>", stanza.RestrictedXML},
		{"too large", "<message to='bob@localhost'><body>" + strings.Repeat("a", 5000) + "</body></message>", stanza.StreamPolicyViolation},
		{"too deep", "<message to='bob@localhost'>" + deep + "</message>", stanza.StreamPolicyViolation},
		{"too many attributes", "<message to='bob@localhost'" + attrs.String() + "/>", stanza.StreamPolicyViolation},
		{"undeclared prefix", "<message to='bob@localhost'><foo:bar/></message>", stanza.BadNamespacePrefix},
		{"unknown top-level element", "<foo xmlns='urn:example:foo'/>", stanza.UnsupportedStanzaType},
		{"stanza in wrong namespace", "<message xmlns='urn:example:foo' to='bob@localhost'/>", stanza.InvalidNamespace},
		{"spoofed from", "<message from='bob@localhost/b' to='alice@localhost'><body>x</body></message>", stanza.InvalidFrom},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "mallory"})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SendRaw([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			_, err = m.Expect(ctx(t), func(*stanza.Element) bool { return false })
			assertStreamError(t, err, tc.want)
			// Everyone else is still served.
			chat(t, alice, bob)
		})
	}
}

func TestStanzaBeforeAuth(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", pw)
	c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", StopAfter: xmppclient.StageFeatures})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Send(stanza.New("message", stanza.NSClient, "to", "alice@localhost").Append(stanza.New("body", stanza.NSClient).SetText("x")))
	_, err = c.Next()
	assertStreamError(t, err, stanza.StreamNotAuthorized)
}

func TestResourceConflict(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", pw)
	first, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: "same"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: "same"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = first.Expect(ctx(t), func(*stanza.Element) bool { return false })
	assertStreamError(t, err, stanza.StreamConflict)
	if second.JID().String() != "alice@localhost/same" {
		t.Fatalf("second bound %s", second.JID())
	}
	// The new session is the one that receives.
	reply, err := second.Request(ctx(t), stanza.New("iq", stanza.NSClient, "type", "get", "to", "localhost").Append(stanza.New("ping", "urn:xmpp:ping")))
	if err != nil || reply.Type() != "result" {
		t.Fatalf("ping on the new session: %v %v", reply, err)
	}
}

func TestServerGeneratedResource(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", pw)
	c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if c.JID().Resource() == "" || c.JID().Bare().String() != "alice@localhost" {
		t.Fatalf("bound %s", c.JID())
	}
}

func TestTooManyResources(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) { c.Limits.MaxResourcesPerUser = 2 })
	s.AddUser("alice@localhost", pw)
	for _, r := range []string{"1", "2"} {
		if _, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: r}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: "3"})
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.ResourceConstraint {
		t.Fatalf("third resource: got %v, want resource-constraint", err)
	}
}

func TestConnectionLimits(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) { c.Limits.MaxConnectionsPerIP = 1 })
	s.AddUser("alice@localhost", pw)
	if _, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: "1"}); err != nil {
		t.Fatal(err)
	}
	_, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: "2"})
	assertStreamError(t, err, stanza.StreamPolicyViolation)
}

func TestServerPingsSilentClient(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) {
		c.Limits.PingInterval = time.Second
		c.Limits.PingTimeout = time.Second
	})
	s.AddUser("alice@localhost", pw)
	c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	ping, err := c.Expect(ctx(t), func(e *stanza.Element) bool {
		return e.Name == "iq" && e.Type() == "get" && e.Child("ping", "urn:xmpp:ping") != nil
	})
	if err != nil {
		t.Fatalf("no ping from the server: %v", err)
	}
	// Answering keeps the connection; not answering the next one ends it.
	_ = c.Send(stanza.Result(ping))
	if _, err := c.Expect(ctx(t), func(e *stanza.Element) bool { return e.Child("ping", "urn:xmpp:ping") != nil }); err != nil {
		t.Fatalf("second ping: %v", err)
	}
	_, err = c.Expect(ctx(t), func(*stanza.Element) bool { return false })
	assertStreamError(t, err, stanza.ConnectionTimeout)
}

func TestGracefulShutdown(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", pw)
	c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
	}()
	_, err = c.Expect(ctx(t), func(*stanza.Element) bool { return false })
	assertStreamError(t, err, stanza.SystemShutdown)
}

// chat checks that a message from a reaches b.
func chat(t *testing.T, a, b *xmppclient.Client) {
	t.Helper()
	id := a.NewID()
	msg := stanza.New("message", stanza.NSClient, "to", b.JID().String(), "type", "chat", "id", id).Append(stanza.New("body", stanza.NSClient).SetText("still here"))
	if err := a.Send(msg); err != nil {
		t.Fatal(err)
	}
	got, err := b.Expect(ctx(t), func(e *stanza.Element) bool { return e.Name == "message" && e.ID() == id })
	if err != nil {
		t.Fatalf("message not delivered: %v", err)
	}
	if got.From() != a.JID().String() {
		t.Fatalf("from %q, want %q", got.From(), a.JID())
	}
}

func assertSASL(t *testing.T, err error, cond string) {
	t.Helper()
	var f *xmppclient.SASLFailure
	if !errors.As(err, &f) || f.Condition != cond {
		t.Fatalf("got %v, want SASL failure %s", err, cond)
	}
}

func assertStreamError(t *testing.T, err error, cond stanza.StreamCondition) {
	t.Helper()
	var se *stanza.StreamError
	if !errors.As(err, &se) || se.Condition != cond {
		t.Fatalf("got %v, want stream error %s", err, cond)
	}
}

func TestVirtualHosts(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) { c.Hosts = []string{"localhost", "chat.example"} })
	s.AddUser("alice@localhost", pw)
	s.AddUser("alice@chat.example", pw)
	a, err := dial(t, xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: "alice", Resource: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := dial(t, xmppclient.Config{Addr: s.C2S(), Domain: "chat.example", Username: "alice", Resource: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if b.JID().String() != "alice@chat.example/b" {
		t.Fatalf("bound %s", b.JID())
	}
	chat(t, a, b)
	chat(t, b, a)
	// The same password on another host is another account.
	_, err = dial(t, xmppclient.Config{Addr: s.C2S(), Domain: "chat.example", Username: "bob"})
	assertSASL(t, err, "not-authorized")
}

// TestWhitespaceKeepalive checks keepalives between stanzas are accepted
// (RFC 6120 §4.6.1) and the stream carries on after them.
func TestWhitespaceKeepalive(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", pw)
	s.AddUser("bob@localhost", pw)
	a, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "bob", Resource: "b"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := a.SendRaw([]byte(" \n")); err != nil {
			t.Fatal(err)
		}
		chat(t, a, b)
	}
}
