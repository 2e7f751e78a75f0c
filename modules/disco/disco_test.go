package disco_test

import (
	"slices"
	"testing"

	"github.com/parley-im/parley/modules/disco"
	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/stanza"
)

func TestVer(t *testing.T) {
	exodus := []disco.Identity{{Category: "client", Type: "pc", Name: "Exodus 0.9.1"}}
	tests := []struct {
		name     string
		ids      []disco.Identity
		features []string
		want     string
	}{
		{
			// XEP-0115 §5.2.
			name:     "simple example",
			ids:      exodus,
			features: []string{"http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"},
			want:     "QgayPKawpkPSDYmwT/WM94uAlu0=",
		},
		{
			name:     "order and duplicates do not matter",
			ids:      exodus,
			features: []string{"http://jabber.org/protocol/muc", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/muc"},
			want:     "QgayPKawpkPSDYmwT/WM94uAlu0=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := disco.Ver(tt.ids, tt.features); got != tt.want {
				t.Errorf("Ver = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestVerSortsIdentities(t *testing.T) {
	a := disco.Identity{Category: "client", Type: "pc", Lang: "en", Name: "Psi 0.11"}
	b := disco.Identity{Category: "client", Type: "pc", Lang: "el", Name: "Ψ 0.11"}
	if disco.Ver([]disco.Identity{a, b}, nil) != disco.Ver([]disco.Identity{b, a}, nil) {
		t.Error("Ver depends on the order of identities")
	}
}

func newEnv(t *testing.T) (*modtest.Env, *disco.Disco) {
	env := modtest.New(t)
	d := disco.New(env.Server)
	d.Register(env.Server)
	env.Server.AddFeature("urn:test:b", "urn:test:a", "urn:test:b")
	return env, d
}

// features returns the identities (category/type/name) and features of a
// disco#info result.
func features(t *testing.T, reply *stanza.Element) (ids, vars []string) {
	t.Helper()
	q := reply.Child("query", disco.NSInfo)
	if q == nil {
		t.Fatalf("no disco#info query in %s", reply)
	}
	for _, c := range q.Elements() {
		switch c.Name {
		case "identity":
			ids = append(ids, c.Attr("category")+"/"+c.Attr("type")+"/"+c.Attr("name"))
		case "feature":
			vars = append(vars, c.Attr("var"))
		}
	}
	return ids, vars
}

func TestServerInfo(t *testing.T) {
	env, d := newEnv(t)
	env.Account("juliet")
	c := env.Bind("juliet@example.com/balcony")
	wantFeatures := []string{disco.NSCaps, disco.NSInfo, disco.NSItems, "urn:test:a", "urn:test:b"}
	tests := []struct {
		name string
		typ  string
		q    string
		node string // expected node on the result
		cond stanza.Condition
	}{
		{name: "no node", typ: "get", q: `<query xmlns='http://jabber.org/protocol/disco#info'/>`},
		{name: "caps node", typ: "get", q: `<query xmlns='http://jabber.org/protocol/disco#info' node='https://parley.im#` + d.Ver() + `'/>`, node: "https://parley.im#" + d.Ver()},
		{name: "stale caps node", typ: "get", q: `<query xmlns='http://jabber.org/protocol/disco#info' node='https://parley.im#AAAA'/>`, cond: stanza.ItemNotFound},
		{name: "unknown node", typ: "get", q: `<query xmlns='http://jabber.org/protocol/disco#info' node='x'/>`, cond: stanza.ItemNotFound},
		{name: "set", typ: "set", q: `<query xmlns='http://jabber.org/protocol/disco#info'/>`, cond: stanza.NotAllowed},
		{name: "wrong element", typ: "get", q: `<info xmlns='http://jabber.org/protocol/disco#info'/>`, cond: stanza.BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := c.IQ(tt.typ, "example.com", modtest.Parse(t, tt.q))
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q, want %q: %s", got, tt.cond, reply)
			}
			if tt.cond != "" {
				return
			}
			if reply.From() != "example.com" {
				t.Errorf("from = %q", reply.From())
			}
			if got := reply.Child("query", disco.NSInfo).Attr("node"); got != tt.node {
				t.Errorf("node = %q, want %q", got, tt.node)
			}
			ids, vars := features(t, reply)
			if want := []string{"server/im/Parley"}; !slices.Equal(ids, want) {
				t.Errorf("identities = %v, want %v", ids, want)
			}
			if !slices.Equal(vars, wantFeatures) {
				t.Errorf("features = %v, want %v", vars, wantFeatures)
			}
		})
	}
}

func TestCapsElementMatchesInfo(t *testing.T) {
	env, d := newEnv(t)
	env.Account("juliet")
	c := env.Bind("juliet@example.com/balcony")
	caps := d.CapsElement()
	if !caps.Is("c", disco.NSCaps) || caps.Attr("hash") != "sha-1" || caps.Attr("node") != disco.CapsNode {
		t.Fatalf("caps = %s", caps)
	}
	// A client verifies ver against the info of node#ver (XEP-0115 §5.4).
	reply := c.IQ("get", "example.com", stanza.New("query", disco.NSInfo, "node", disco.CapsNode+"#"+caps.Attr("ver")))
	_, vars := features(t, reply)
	if got := disco.Ver([]disco.Identity{disco.ServerIdentity}, vars); got != caps.Attr("ver") {
		t.Errorf("ver from the advertised info = %s, caps say %s", got, caps.Attr("ver"))
	}
	// A module registered later changes the ver.
	env.Server.AddFeature("urn:test:late")
	if d.CapsElement().Attr("ver") == caps.Attr("ver") {
		t.Error("ver did not change with the features")
	}
}

func TestServerItems(t *testing.T) {
	env, _ := newEnv(t)
	env.Account("juliet")
	c := env.Bind("juliet@example.com/balcony")
	reply := c.IQ("get", "example.com", stanza.New("query", disco.NSItems))
	if reply.Type() != "result" || len(reply.Child("query", disco.NSItems).Elements()) != 0 {
		t.Errorf("items = %s, want an empty result", reply)
	}
	reply = c.IQ("get", "example.com", stanza.New("query", disco.NSItems, "node", "x"))
	if got := modtest.Condition(reply); got != stanza.ItemNotFound {
		t.Errorf("unknown node: condition = %q, want item-not-found", got)
	}
}

func TestAccountInfo(t *testing.T) {
	env, d := newEnv(t)
	d.AddAccountFeature("urn:test:pep")
	juliet, romeo := env.Account("juliet"), env.Account("romeo")
	nurse := env.Account("nurse")
	env.Account("tybalt")        // no subscription at all
	env.Subscribe(juliet, romeo) // romeo may see juliet's presence
	env.Subscribe(nurse, juliet) // juliet sees the nurse, not the reverse
	jc := env.Bind("juliet@example.com/balcony")
	rc := env.Bind("romeo@example.com/orchard")
	tc := env.Bind("tybalt@example.com/street")
	nc := env.Bind("nurse@example.com/kitchen")
	tests := []struct {
		name string
		from *modtest.Client
		to   string
		node string
		cond stanza.Condition
	}{
		{name: "owner without to", from: jc},
		{name: "owner to own bare JID", from: jc, to: "juliet@example.com"},
		{name: "subscribed contact", from: rc, to: "juliet@example.com"},
		{name: "stranger", from: tc, to: "juliet@example.com", cond: stanza.ServiceUnavailable},
		{name: "only subscribed the other way", from: nc, to: "juliet@example.com", cond: stanza.ServiceUnavailable},
		{name: "no such account", from: rc, to: "nobody@example.com", cond: stanza.ServiceUnavailable},
		{name: "node for stranger", from: tc, to: "juliet@example.com", node: "x", cond: stanza.ServiceUnavailable},
		{name: "node for contact", from: rc, to: "juliet@example.com", node: "x", cond: stanza.ItemNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := stanza.New("query", disco.NSInfo)
			if tt.node != "" {
				q.SetAttr("node", tt.node)
			}
			reply := tt.from.IQ("get", tt.to, q)
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q, want %q: %s", got, tt.cond, reply)
			}
			if tt.cond != "" {
				return
			}
			ids, vars := features(t, reply)
			if want := []string{"account/registered/"}; !slices.Equal(ids, want) {
				t.Errorf("identities = %v, want %v", ids, want)
			}
			if want := []string{disco.NSInfo, disco.NSItems, "urn:test:pep"}; !slices.Equal(vars, want) {
				t.Errorf("features = %v, want %v", vars, want)
			}
		})
	}
}

func TestAccountItemsAlwaysEmpty(t *testing.T) {
	env, _ := newEnv(t)
	env.Account("juliet")
	env.Account("tybalt")
	tc := env.Bind("tybalt@example.com/street")
	env.Bind("juliet@example.com/balcony")
	for _, to := range []string{"juliet@example.com", "nobody@example.com", ""} {
		reply := tc.IQ("get", to, stanza.New("query", disco.NSItems))
		if reply.Type() != "result" || len(reply.Child("query", disco.NSItems).Elements()) != 0 {
			t.Errorf("items of %q = %s, want an empty result", to, reply)
		}
	}
}
