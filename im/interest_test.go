package im_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// PushToInterested reaches the owner's resources interested in the push,
// local ones and entries of other nodes alike, each in an iq set of its
// own addressed to it with an id of its own; the others get nothing. A
// roster get marks the roster interest, and roster pushes take the same
// way.
func TestPushToInterested(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.CreateAccount(ctx, storage.Account{JID: "alice@localhost"}); err != nil {
		t.Fatal(err)
	}
	r := router.New()
	core := im.New(im.Config{Hosts: []string{"localhost"}}, r, st)

	conns := map[string]*recConn{}
	sessions := map[string]*router.Session{}
	for _, res := range []string{"pc", "phone", "idle"} {
		c := &recConn{}
		s, _, err := r.Bind(jid.MustParse("alice@localhost/"+res), c, 0)
		if err != nil {
			t.Fatal(err)
		}
		conns[res], sessions[res] = c, s
	}
	for res, i := range map[string]router.Interests{"far-blocks": router.BlockListInterest, "far-roster": router.RosterInterest, "far-idle": 0} {
		c := &recConn{}
		r.PutRemote(router.NewRemote(jid.MustParse("alice@localhost/"+res), "n2", "run", c, true, 0, nil, i))
		conns[res] = c
	}
	other := &recConn{}
	if _, _, err := r.Bind(jid.MustParse("bob@localhost/pc"), other, 0); err != nil {
		t.Fatal(err)
	}
	conns["bob"] = other

	core.MarkInterested(im.IQ{Session: sessions["pc"]}, im.BlockListInterest)
	core.MarkInterested(im.IQ{Session: sessions["phone"]}, im.BlockListInterest|im.RosterInterest)
	core.MarkInterested(im.IQ{}, im.BlockListInterest) // no session: nothing to mark

	// take returns, per resource, the pushes of ns it got since the last
	// call, checking their envelope.
	seen := map[string]bool{}
	take := func(ns string) map[string]int {
		t.Helper()
		out := map[string]int{}
		for res, c := range conns {
			for _, el := range c.got {
				p := el.FirstElement()
				if el.Name != "iq" || el.Type() != "set" || p == nil || p.Space != ns {
					t.Errorf("%s got %s, want only %s pushes", res, el, ns)
					continue
				}
				if !el.HasAttr("to") || el.To() == "" || jid.MustParse(el.To()).Resource() == "" {
					t.Errorf("%s: push not addressed to a full JID: %s", res, el)
				}
				if el.From() != "" {
					t.Errorf("%s: push with a from: %s", res, el)
				}
				if id := el.ID(); id == "" || seen[id] {
					t.Errorf("%s: push id %q empty or used before", res, id)
				} else {
					seen[id] = true
				}
				out[res]++
			}
			c.got = nil
		}
		return out
	}
	check := func(what string, got, want map[string]int) {
		t.Helper()
		for res := range conns {
			if got[res] != want[res] {
				t.Errorf("%s: %s got %d pushes, want %d", what, res, got[res], want[res])
			}
		}
	}

	core.PushToInterested(jid.MustParse("alice@localhost"), im.BlockListInterest, stanza.New("block", "urn:xmpp:blocking"))
	check("block push", take("urn:xmpp:blocking"), map[string]int{"pc": 1, "phone": 1, "far-blocks": 1})

	// A full JID names the same owner.
	core.PushToInterested(jid.MustParse("alice@localhost/pc"), im.BlockListInterest, stanza.New("unblock", "urn:xmpp:blocking"))
	check("push for a full JID", take("urn:xmpp:blocking"), map[string]int{"pc": 1, "phone": 1, "far-blocks": 1})

	// A roster get makes pc interested in the roster too.
	get := stanza.New("iq", stanza.NSClient, "type", "get", "id", "r1").Append(stanza.New("query", stanza.NSRoster))
	core.Route(ctx, sessions["pc"], get)
	if got := conns["pc"].got; len(got) != 1 || got[0].Type() != "result" {
		t.Fatalf("roster get answered %v", got)
	}
	conns["pc"].got = nil
	if !sessions["pc"].Interests().Has(im.RosterInterest | im.BlockListInterest) {
		t.Fatalf("pc's interests after a roster get: %b", sessions["pc"].Interests())
	}
	set := stanza.New("iq", stanza.NSClient, "type", "set", "id", "r2").Append(stanza.New("query", stanza.NSRoster).Append(stanza.New("item", stanza.NSRoster, "jid", "carol@localhost")))
	core.Route(ctx, sessions["idle"], set)
	if got := conns["idle"].got; len(got) != 1 || got[0].Type() != "result" {
		t.Fatalf("roster set answered %v", got)
	}
	conns["idle"].got = nil
	check("roster push", take(stanza.NSRoster), map[string]int{"pc": 1, "phone": 1, "far-roster": 1})
}
