package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// TestCrossNodeBasics: two nodes, alice on one and bob on the other, chat
// by full and bare JID, and bob's node dying tells alice he is gone.
func TestCrossNodeBasics(t *testing.T) {
	nodes := startNodes(t, 2)
	n1, n2 := nodes[0], nodes[1]
	n1.AddUser("alice@localhost", "pw")
	n1.AddUser("bob@localhost", "pw")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: n1.C2S(), Domain: "localhost", Username: "alice", Password: "pw", Resource: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: n2.C2S(), Domain: "localhost", Username: "bob", Password: "pw", Resource: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	_ = bob.Send(stanza.New("presence", stanza.NSClient))
	testutil.Eventually(t, 5*time.Second, func() bool {
		s := n1.Router().Session(jid.MustParse("bob@localhost/b"))
		if s == nil {
			return false
		}
		a, _ := s.Available()
		return a
	})
	send := func(from *xmppclient.Client, to, id string) {
		t.Helper()
		if err := from.Send(stanza.New("message", stanza.NSClient, "to", to, "type", "chat", "id", id).Append(stanza.New("body", stanza.NSClient).SetText(id))); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(c *xmppclient.Client, id, from string) {
		t.Helper()
		got, err := c.Expect(ctx, func(e *stanza.Element) bool { return e.Name == "message" && e.ID() == id })
		if err != nil {
			t.Fatalf("message %s: %v", id, err)
		}
		if got.From() != from {
			t.Fatalf("message %s from %q, want %q", id, got.From(), from)
		}
	}
	send(alice, "bob@localhost/b", "full")
	recv(bob, "full", "alice@localhost/a")
	send(alice, "bob@localhost", "bare")
	recv(bob, "bare", "alice@localhost/a")
	testutil.Eventually(t, 5*time.Second, func() bool { return n2.Router().Session(jid.MustParse("alice@localhost/a")) != nil })
	send(bob, "alice@localhost/a", "back")
	recv(alice, "back", "bob@localhost/b")
}

func TestCrossNodeUnbindPropagates(t *testing.T) {
	nodes := startNodes(t, 2)
	n1, n2 := nodes[0], nodes[1]
	n1.AddUser("bob@localhost", "pw")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: n2.C2S(), Domain: "localhost", Username: "bob", Password: "pw", Resource: "b"})
	if err != nil {
		t.Fatal(err)
	}
	full := jid.MustParse("bob@localhost/b")
	testutil.Eventually(t, 5*time.Second, func() bool { return n1.Router().Session(full) != nil })
	bob.Close()
	testutil.Eventually(t, 5*time.Second, func() bool { return n2.Router().Session(full) == nil })
	testutil.Eventually(t, 5*time.Second, func() bool { return n1.Router().Session(full) == nil })
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := n2.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
