package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testserver"
	"github.com/parley-im/parley/internal/testutil"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// A session waiting to be resumed when the server stops is ended, and what
// its client never acknowledged is stored offline, not dropped: it is
// there after a restart.
func TestShutdownKeepsUnacknowledged(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	s.AddUser("alice@localhost", "secret")
	s.AddUser("bob@localhost", "secret")
	dial := func(user string) *xmppclient.Client {
		c, err := xmppclient.Dial(t.Context(), xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: user, Password: "secret", Resource: "r"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob := dial("alice"), dial("bob")
	defer bob.Close()
	send := func(c *xmppclient.Client, x string) {
		el, err := stanza.ParseBytes([]byte(x))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(el); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(c *xmppclient.Client, match func(*stanza.Element) bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Expect(ctx, match); err != nil {
			t.Fatal(err)
		}
	}
	send(alice, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	expect(alice, func(el *stanza.Element) bool { return el.Is("enabled", "urn:xmpp:sm:3") })
	send(alice, "<presence/>")
	expect(alice, func(el *stanza.Element) bool { return el.Name == "presence" })
	send(bob, "<message to='alice@localhost' type='chat'><body>never acknowledged</body></message>")
	expect(alice, func(el *stanza.Element) bool { return el.Name == "message" })
	_ = alice.Conn().Close() // the connection breaks; the session waits
	testutil.Eventually(t, 10*time.Second, func() bool { return s.Connections() == 1 && s.Router().Count() == 2 })

	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	again := testserver.Start(t, func(c *config.Config) { c.DataDir = s.Config.DataDir })
	msgs, err := again.Store().TakeOffline(t.Context(), "alice@localhost")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Stanza), "never acknowledged") {
		t.Fatalf("offline storage after the restart holds %d messages, want the unacknowledged one", len(msgs))
	}
}
