package version_test

import (
	"testing"

	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/version"
	"github.com/parley-im/parley/stanza"
)

func TestVersion(t *testing.T) {
	tests := []struct {
		name    string
		os      string
		typ, to string
		payload *stanza.Element
		cond    stanza.Condition
		wantOS  bool
	}{
		{name: "server", typ: "get", to: "example.com"},
		{name: "with os", os: "Linux", typ: "get", to: "example.com", wantOS: true},
		{name: "set", typ: "set", to: "example.com", cond: stanza.NotAllowed},
		{name: "wrong element", typ: "get", to: "example.com", payload: stanza.New("version", version.NS), cond: stanza.BadRequest},
		{name: "not for accounts", typ: "get", cond: stanza.ServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := modtest.New(t)
			version.New("1.2.3", tt.os).Register(env.Server)
			env.Account("juliet")
			c := env.Bind("juliet@example.com/balcony")
			p := tt.payload
			if p == nil {
				p = stanza.New("query", version.NS)
			}
			reply := c.IQ(tt.typ, tt.to, p)
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q, want %q: %s", got, tt.cond, reply)
			}
			if tt.cond != "" {
				return
			}
			q := reply.Child("query", version.NS)
			if q.Child("name", version.NS).Text() != "Parley" || q.Child("version", version.NS).Text() != "1.2.3" {
				t.Errorf("reply = %s", reply)
			}
			if os := q.Child("os", version.NS); (os != nil) != tt.wantOS || (os != nil && os.Text() != tt.os) {
				t.Errorf("os in %s, want %v", reply, tt.wantOS)
			}
		})
	}
}
