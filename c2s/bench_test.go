package c2s_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// BenchmarkMessageRoundTrip measures a chat message through the whole
// server over loopback TCP — parse, stamp, route, serialize, write — with
// one message in flight: each iteration sends from alice to bob's full JID
// and waits for bob to read it.
func BenchmarkMessageRoundTrip(b *testing.B) { benchRoundTrip(b, false) }

// BenchmarkMessageRoundTripSM is the same with stream management on both
// clients: the server keeps each stanza until bob acknowledges it (he
// answers every <r/>, which the server sends after each burst) and counts
// alice's.
func BenchmarkMessageRoundTripSM(b *testing.B) { benchRoundTrip(b, true) }

// BenchmarkMessageRoundTripNoArchive and BenchmarkMessageRoundTripSMNoArchive
// are the two above with the message archive off (archive.enabled: false):
// the difference is the cost of archiving each message for alice and bob
// (one SQLite commit, synced, per message with one in flight).
func BenchmarkMessageRoundTripNoArchive(b *testing.B) { benchRoundTrip(b, false, noArchive) }

func BenchmarkMessageRoundTripSMNoArchive(b *testing.B) { benchRoundTrip(b, true, noArchive) }

func noArchive(c *config.Config) { c.Archive.Enabled = false }

func benchRoundTrip(b *testing.B, sm bool, opts ...testserver.Option) {
	s := testserver.Start(b, append([]testserver.Option{testserver.PlainTCP}, opts...)...)
	s.AddUser("alice@localhost", pw)
	s.AddUser("bob@localhost", pw)
	ctx := context.Background()
	alice, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: "alice", Password: pw, Resource: "a"})
	if err != nil {
		b.Fatal(err)
	}
	defer alice.Close()
	bob, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: "bob", Password: pw, Resource: "b"})
	if err != nil {
		b.Fatal(err)
	}
	defer bob.Close()
	if sm {
		for _, c := range []*xmppclient.Client{alice, bob} {
			if err := c.Send(stanza.New("enable", "urn:xmpp:sm:3", "resume", "true")); err != nil {
				b.Fatal(err)
			}
			if el, err := c.Next(); err != nil || !el.Is("enabled", "urn:xmpp:sm:3") {
				b.Fatalf("enable: %v %v", el, err)
			}
		}
	}
	handled := 0 // stanzas bob received, for his acks
	body := stanza.New("body", stanza.NSClient).SetText("Hello there, how are you doing today?")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		msg := stanza.New("message", stanza.NSClient, "to", "bob@localhost/b", "type", "chat", "id", strconv.Itoa(i)).Append(body)
		if err := alice.Send(msg); err != nil {
			b.Fatal(err)
		}
		got, err := bob.Next()
		for err == nil && got.Is("r", "urn:xmpp:sm:3") {
			err = bob.Send(stanza.New("a", "urn:xmpp:sm:3", "h", strconv.Itoa(handled)))
			if err == nil {
				got, err = bob.Next()
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		if got.Name != "message" || got.ID() != strconv.Itoa(i) {
			b.Fatalf("got %v", got)
		}
		handled++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
