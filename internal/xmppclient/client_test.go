package xmppclient

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/parley-im/parley/stanza"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func baseConfig(s *fakeServer) Config {
	return Config{Addr: s.addr(), Domain: "example.org", Username: "alice", Password: "secret"}
}

func TestDialMechanisms(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	tests := []struct {
		name   string
		server func(*fakeServer)
		cfg    func(*Config)
	}{
		{"scram-sha-256", nil, nil},
		{"scram-sha-1", nil, func(c *Config) { c.Mechanism = ScramSHA1 }},
		{"plain", nil, func(c *Config) { c.Mechanism = Plain }},
		{"starttls", func(s *fakeServer) { s.tls = srvTLS }, func(c *Config) { c.StartTLS, c.TLS = true, cliTLS }},
		{"direct-tls-plus", func(s *fakeServer) { s.tls, s.direct = srvTLS, true },
			func(c *Config) { c.DirectTLS, c.TLS, c.Mechanism = true, cliTLS, ScramSHA256Plus }},
		{"starttls-plus", func(s *fakeServer) { s.tls = srvTLS },
			func(c *Config) { c.StartTLS, c.TLS, c.Mechanism = true, cliTLS, ScramSHA256Plus }},
		{"resource", nil, func(c *Config) { c.Resource = "desk" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t, tt.server)
			cfg := baseConfig(s)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c, err := Dial(testCtx(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := "alice@example.org/r1"
			if cfg.Resource != "" {
				want = "alice@example.org/" + cfg.Resource
			}
			if c.JID().String() != want {
				t.Errorf("JID = %s, want %s", c.JID(), want)
			}
			if c.Features().Child("bind", stanza.NSBind) == nil {
				t.Errorf("final features lack bind: %v", c.Features())
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestSCRAMRejectsImpostor(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) { s.badServerKey = true })
	_, err := Dial(testCtx(t), baseConfig(s))
	if !errors.Is(err, ErrServerProof) {
		t.Fatalf("err = %v, want ErrServerProof", err)
	}
}

func TestSCRAMMinIterations(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) { s.iters = 100 })
	if _, err := Dial(testCtx(t), baseConfig(s)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("100 iterations accepted by default: %v", err)
	}
	cfg := baseConfig(s)
	cfg.MinIterations = 100
	c, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

func TestSASLFailure(t *testing.T) {
	s := newFakeServer(t, nil)
	for _, mech := range []string{ScramSHA256, Plain, "X-UNKNOWN"} {
		cfg := baseConfig(s)
		cfg.Password, cfg.Mechanism = "wrong", mech
		_, err := Dial(testCtx(t), cfg)
		var f *SASLFailure
		if !errors.As(err, &f) {
			t.Fatalf("%s: err = %v, want *SASLFailure", mech, err)
		}
		want := "not-authorized"
		if mech == "X-UNKNOWN" {
			want = "invalid-mechanism"
		}
		if f.Condition != want {
			t.Errorf("%s: condition %q, want %q", mech, f.Condition, want)
		}
	}
}

func TestSaltCache(t *testing.T) {
	s := newFakeServer(t, nil)
	cache := &SaltCache{}
	for range 2 {
		cfg := baseConfig(s)
		cfg.SaltedCache = cache
		c, err := Dial(testCtx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	}
	if len(cache.m) != 1 {
		t.Errorf("cache holds %d clients, want 1", len(cache.m))
	}
}

func TestStreamError(t *testing.T) {
	s := newFakeServer(t, nil)
	cfg := baseConfig(s)
	cfg.Domain = "elsewhere.example"
	_, err := Dial(testCtx(t), cfg)
	var se *stanza.StreamError
	if !errors.As(err, &se) || se.Condition != stanza.HostUnknown || se.Text != "not here" {
		t.Fatalf("err = %#v, want host-unknown", err)
	}
}

func TestStopAfter(t *testing.T) {
	s := newFakeServer(t, nil)
	cfg := baseConfig(s)
	cfg.StopAfter = StageAuth
	c, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.JID().IsZero() || c.Features().Child("bind", stanza.NSBind) == nil {
		t.Fatalf("after auth: jid %v, features %v", c.JID(), c.Features())
	}
	if _, err := c.Bind(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestRawMalformed(t *testing.T) {
	s := newFakeServer(t, nil)
	c, err := DialRaw(testCtx(t), s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendRaw([]byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>")); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Next(); err != nil || !f.Is("features", stanza.NSStream) || c.Header().Attr("id") != "s1" {
		t.Fatalf("features %v, header %v, err %v", f, c.Header(), err)
	}
	if err := c.SendRaw([]byte("<message><body></message>")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Next()
	var se *stanza.StreamError
	if !errors.As(err, &se) || se.Condition != stanza.NotWellFormed {
		t.Fatalf("err = %v, want not-well-formed", err)
	}
	if _, err := c.Next(); !errors.Is(err, stanza.ErrStreamClosed) {
		t.Fatalf("after the stream error: %v, want ErrStreamClosed", err)
	}
}

func msg(body string) *stanza.Element {
	return stanza.New("message", stanza.NSClient, "to", "bob@example.org").Append(
		stanza.New("body", stanza.NSClient).SetText(body))
}

func TestExpectBacklogAndTimeouts(t *testing.T) {
	t.Run("tcp", func(t *testing.T) { testExpect(t, false) })
	t.Run("tls", func(t *testing.T) { testExpect(t, true) })
}

func testExpect(t *testing.T, useTLS bool) {
	srvTLS, cliTLS := testTLS(t)
	s := newFakeServer(t, func(s *fakeServer) {
		if useTLS {
			s.tls = srvTLS
		}
		s.handle = func(fc *fakeConn, el *stanza.Element) {
			if el.Name == "iq" {
				fc.sendEl(stanza.Result(el))
				return
			}
			// Trailing white space, as keepalives would leave it.
			fc.send(append(el.AppendXML(nil, stanza.NSClient), " \n"...))
		}
	})
	cfg := baseConfig(s)
	cfg.StartTLS, cfg.TLS = useTLS, cliTLS
	c, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Nothing arrives: the timeout must not spoil the stream.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = c.Expect(short, func(*stanza.Element) bool { return true })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Expect on silence: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Next(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Next on silence: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})

	for _, b := range []string{"one", "two", "three"} {
		if err := c.Send(msg(b)); err != nil {
			t.Fatal(err)
		}
	}
	body := func(el *stanza.Element) string { return el.Child("body", "").Text() }
	el, err := c.Expect(testCtx(t), func(el *stanza.Element) bool { return body(el) == "three" })
	if err != nil || body(el) != "three" {
		t.Fatalf("Expect three: %v %v", el, err)
	}
	if _, err := c.Request(testCtx(t), stanza.New("iq", stanza.NSClient, "type", "get")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "two"} {
		el, err := c.Next()
		if err != nil || body(el) != want {
			t.Fatalf("Next = %v %v, want %s", el, err, want)
		}
	}
	// Cancelled, not timed out.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = c.Expect(ctx, func(*stanza.Element) bool { return true })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Expect: %v", err)
	}
	if err := c.Send(msg("four")); err != nil {
		t.Fatal(err)
	}
	if el, err := c.Next(); err != nil || body(el) != "four" {
		t.Fatalf("after cancel: %v %v", el, err)
	}
}

func TestRequestError(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) {
		s.handle = func(fc *fakeConn, el *stanza.Element) {
			fc.sendEl(stanza.ErrorReply(el, &stanza.Error{Condition: stanza.ItemNotFound, Text: "nope"}))
		}
	})
	c, err := Dial(testCtx(t), baseConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reply, err := c.Request(testCtx(t), stanza.New("iq", "", "type", "get"))
	var se *stanza.Error
	if reply == nil || !errors.As(err, &se) || se.Condition != stanza.ItemNotFound || se.Text != "nope" || se.Type != stanza.Cancel {
		t.Fatalf("Request = %v, %#v", reply, err)
	}
}

func TestStartReader(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) {
		s.handle = func(fc *fakeConn, el *stanza.Element) {
			if el.Name == "iq" {
				fc.sendEl(msg("before"))
				fc.sendEl(stanza.Result(el))
				return
			}
			fc.sendEl(el)
		}
	})
	c, err := Dial(testCtx(t), baseConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	done := c.StartReader(context.Background(), func(el *stanza.Element) { got <- el.Child("body", "").Text() })
	if _, err := c.Next(); !errors.Is(err, ErrReaderActive) {
		t.Fatalf("Next while the reader runs: %v", err)
	}
	if _, err := c.Request(testCtx(t), stanza.New("iq", "", "type", "get")); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(msg("after")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"before", "after"} {
		select {
		case b := <-got:
			if b != want {
				t.Errorf("handled %q, want %q", b, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q", want)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, stanza.ErrStreamClosed) {
		t.Errorf("reader ended with %v, want ErrStreamClosed", err)
	}
}
