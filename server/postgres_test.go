package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// TestPostgresEndToEnd runs a server on PostgreSQL and checks that login,
// roster, live chat and offline delivery work as they do on SQLite.
func TestPostgresEndToEnd(t *testing.T) {
	dsn := testpg.Start(t)
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) {
		c.Storage.Driver = config.DriverPostgres
		c.Storage.PostgresDSN = dsn
	})
	s.AddUser("alice@localhost", "pw-alice")
	s.AddUser("bob@localhost", "pw-bob")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(user, pw string) *xmppclient.Client {
		c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: user, Password: pw})
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	alice := dial("alice", "pw-alice")
	roster := stanza.New("iq", stanza.NSClient, "type", "set").Append(
		stanza.New("query", stanza.NSRoster).Append(stanza.New("item", stanza.NSRoster, "jid", "bob@localhost", "name", "Bob")))
	if r, err := alice.Request(ctx, roster); err != nil || r.Type() != "result" {
		t.Fatalf("roster set: %v %v", r, err)
	}
	// Bob is offline: the message is stored in PostgreSQL.
	msg := stanza.New("message", stanza.NSClient, "to", "bob@localhost", "type", "chat", "id", "m1").Append(stanza.New("body", stanza.NSClient).SetText("while you were out"))
	if err := alice.Send(msg); err != nil {
		t.Fatal(err)
	}
	// A ping round trip orders us after the message was handled.
	if _, err := alice.Request(ctx, stanza.New("iq", stanza.NSClient, "type", "get", "to", "localhost").Append(stanza.New("ping", "urn:xmpp:ping"))); err != nil {
		t.Fatal(err)
	}
	bob := dial("bob", "pw-bob")
	if err := bob.Send(stanza.New("presence", stanza.NSClient)); err != nil {
		t.Fatal(err)
	}
	got, err := bob.Expect(ctx, func(e *stanza.Element) bool { return e.Name == "message" && e.ID() == "m1" })
	if err != nil {
		t.Fatalf("offline message: %v", err)
	}
	if got.Child("delay", stanza.NSDelay) == nil {
		t.Errorf("offline message without a delay stamp: %v", got)
	}
	// Live, both ways.
	if err := bob.Send(stanza.New("message", stanza.NSClient, "to", alice.JID().String(), "type", "chat", "id", "m2").Append(stanza.New("body", stanza.NSClient).SetText("back"))); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Expect(ctx, func(e *stanza.Element) bool { return e.Name == "message" && e.ID() == "m2" }); err != nil {
		t.Fatalf("live message: %v", err)
	}
}
