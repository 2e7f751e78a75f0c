package ping_test

import (
	"testing"

	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/ping"
	"github.com/parley-im/parley/stanza"
)

func TestPing(t *testing.T) {
	env := modtest.New(t)
	ping.New(env.Store).Register(env.Server)
	env.Account("juliet")
	env.Account("romeo")
	c := env.Bind("juliet@example.com/balcony")
	tests := []struct {
		name    string
		typ, to string
		payload string
		from    string // of the result
		cond    stanza.Condition
	}{
		{name: "server", typ: "get", to: "example.com", from: "example.com"},
		{name: "no to", typ: "get"},
		{name: "own bare JID", typ: "get", to: "juliet@example.com", from: "juliet@example.com"},
		{name: "other account", typ: "get", to: "romeo@example.com", from: "romeo@example.com"},
		{name: "missing account", typ: "get", to: "nobody@example.com", cond: stanza.ServiceUnavailable},
		{name: "other domain", typ: "get", to: "elsewhere.example", cond: stanza.RemoteServerNotFound},
		{name: "set", typ: "set", to: "example.com", cond: stanza.NotAllowed},
		{name: "wrong element", typ: "get", to: "example.com", payload: `<pong xmlns='urn:xmpp:ping'/>`, cond: stanza.BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := stanza.New("ping", ping.NS)
			if tt.payload != "" {
				p = modtest.Parse(t, tt.payload)
			}
			reply := c.IQ(tt.typ, tt.to, p)
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q, want %q: %s", got, tt.cond, reply)
			}
			if tt.cond != "" {
				return
			}
			if reply.From() != tt.from || len(reply.Elements()) != 0 {
				t.Errorf("reply = %s, want an empty result from %q", reply, tt.from)
			}
		})
	}
}
