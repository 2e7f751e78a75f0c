package c2s_test

import (
	"testing"

	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// The legacy session request (RFC 3921 §3) is advertised as optional;
// clients that still send it, before or after binding (Strophe.js sends
// it after), get a result rather than an error that ends their login.
func TestLegacySessionRequest(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", pw)
	session := func(to string) *stanza.Element {
		iq := stanza.New("iq", stanza.NSClient, "type", "set").Append(stanza.New("session", stanza.NSSession))
		if to != "" {
			iq.SetAttr("to", to)
		}
		return iq
	}
	for _, to := range []string{"", "localhost"} {
		c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		reply, err := c.Request(ctx(t), session(to))
		if err != nil || reply.Type() != "result" {
			t.Errorf("session request to %q after bind: %v %v", to, reply, err)
		}
	}
	c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", StopAfter: xmppclient.StageAuth})
	if err != nil {
		t.Fatal(err)
	}
	if reply, err := c.Request(ctx(t), session("")); err != nil || reply.Type() != "result" {
		t.Errorf("session request before bind: %v %v", reply, err)
	}
}
