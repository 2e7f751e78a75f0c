package im_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/stanza"
)

func TestSendAsServer(t *testing.T) {
	e := start(t, []string{"alice"})
	alice := e.online("alice", "phone", 0)
	ctx := context.Background()
	core := e.srv.Core()

	msg := stanza.New("message", stanza.NSClient, "to", "alice@localhost", "type", "chat", "id", "adm1", "from", "forged@localhost").
		Append(stanza.New("body", stanza.NSClient).SetText("hi"))
	if err := core.SendAsServer(ctx, msg); err != nil {
		t.Fatal(err)
	}
	got := alice.expect("the server's message", func(el *stanza.Element) bool { return el.Name == "message" && el.ID() == "adm1" })
	if got.From() != domain {
		t.Fatalf("from %q, want the server's domain %s", got.From(), domain)
	}
	if msg.From() != "forged@localhost" {
		t.Fatal("SendAsServer changed the caller's element")
	}

	for _, tc := range []struct {
		name string
		el   *stanza.Element
		is   error
	}{
		{"to the server", stanza.New("message", stanza.NSClient, "to", "localhost"), im.ErrNotLocalUser},
		{"to another domain", stanza.New("message", stanza.NSClient, "to", "bob@example.org"), im.ErrNotLocalUser},
		{"bad to", stanza.New("message", stanza.NSClient, "to", "a@@b"), nil},
		{"not a message", stanza.New("presence", stanza.NSClient, "to", "alice@localhost"), nil},
	} {
		err := core.SendAsServer(ctx, tc.el)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: %v, want an error (%v)", tc.name, err, tc.is)
		}
	}
	alice.expectNone("anything from the refused stanzas", func(el *stanza.Element) bool { return true })
}
