package im_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// A session on another node that comes back (its node was cut off and is
// reachable again) is announced to this node's users as RemoteSessionGone
// announced its departure: its presence goes to the local available
// resources of the contacts allowed to see it and of its own account.
func TestRemoteSessionBack(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, u := range []string{"bob", "alice", "carol", "dave", "erin"} {
		if err := st.CreateAccount(ctx, storage.Account{JID: u + "@localhost"}); err != nil {
			t.Fatal(err)
		}
	}
	for contact, sub := range map[string]string{
		"alice": storage.SubFrom, // sees bob
		"carol": storage.SubTo,   // does not
		"dave":  storage.SubBoth, // would, but bob blocks dave
		"erin":  storage.SubBoth, // would, but erin blocks bob
	} {
		if _, err := st.PutRosterItem(ctx, "bob@localhost", storage.RosterItem{Contact: contact + "@localhost", Subscription: sub}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Block(ctx, "bob@localhost", []string{"dave@localhost"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Block(ctx, "erin@localhost", []string{"bob@localhost"}); err != nil {
		t.Fatal(err)
	}
	r := router.New()
	core := im.New(im.Config{Hosts: []string{"localhost"}}, r, st)

	local := func(full string, available bool) *recConn {
		c := &recConn{}
		s, _, err := r.Bind(jid.MustParse(full), c, 0)
		if err != nil {
			t.Fatal(err)
		}
		if available {
			s.SetPresence(stanza.New("presence", stanza.NSClient, "from", full), true, 0)
		}
		return c
	}
	got := map[string]*recConn{
		"alice/pc":   local("alice@localhost/pc", true),
		"alice/idle": local("alice@localhost/idle", false),
		"carol/pc":   local("carol@localhost/pc", true),
		"dave/pc":    local("dave@localhost/pc", true),
		"erin/pc":    local("erin@localhost/pc", true),
		"bob/home":   local("bob@localhost/home", true),
	}
	remoteAlice := &recConn{}
	r.PutRemote(router.NewRemote(jid.MustParse("alice@localhost/far"), "n3", "run", remoteAlice, true, 0, nil, 0))
	got["alice/far (node n3)"] = remoteAlice

	pres := stanza.New("presence", stanza.NSClient, "from", "bob@localhost/phone").Append(stanza.New("show", stanza.NSClient).SetText("away"))
	back := router.NewRemote(jid.MustParse("bob@localhost/phone"), "n2", "run", &recConn{}, true, 3, pres, router.RosterInterest)
	r.PutRemote(back)
	core.RemoteSessionBack(ctx, back)

	want := []string{"alice/pc", "bob/home"}
	for name, c := range got {
		n := len(c.got)
		if slices.Contains(want, name) {
			if n != 1 || c.got[0] != pres {
				t.Errorf("%s got %v, want bob/phone's presence once", name, c.got)
			}
		} else if n != 0 {
			t.Errorf("%s got %v, want nothing", name, c.got)
		}
	}

	// An unavailable session is not announced.
	quiet := router.NewRemote(jid.MustParse("bob@localhost/quiet"), "n2", "run", &recConn{}, false, 0, nil, 0)
	r.PutRemote(quiet)
	core.RemoteSessionBack(ctx, quiet)
	if n := len(got["alice/pc"].got); n != 1 {
		t.Errorf("alice/pc got %d presences after an unavailable session came back, want still 1", n)
	}
}

// recConn records what is delivered to it; it is used from the test's
// goroutine only.
type recConn struct{ got []*stanza.Element }

func (c *recConn) Deliver(el *stanza.Element)                { c.got = append(c.got, el) }
func (c *recConn) Close(*stanza.StreamError)                 {}
func (c *recConn) DeliverAvailable(jid.JID, *stanza.Element) {}
