package im_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// countConn counts deliveries and serializes each stanza, as a connection
// would, so the benchmark includes the cost of the bytes going out.
type countConn struct {
	n   atomic.Int64
	buf []byte
}

func (c *countConn) Deliver(el *stanza.Element) {
	c.buf = el.AppendXML(c.buf[:0], stanza.NSClient)
	c.n.Add(1)
}
func (c *countConn) Close(*stanza.StreamError) {}

// BenchmarkRouteMessage measures the routing core's hot path: a chat
// message from one bound session to another user's bare JID (RFC 6121
// §8.5 resource selection) and its serialization for the recipient, with
// the archive's commit (one SQLite transaction per message, as at one
// message in flight) and without it (archive.enabled: false), which is the
// routing alone.
func BenchmarkRouteMessage(b *testing.B) {
	for _, name := range []string{"bare", "full", "bare-noarchive", "full-noarchive"} {
		target, noArchive := name, false
		if t, ok := strings.CutSuffix(name, "-noarchive"); ok {
			target, noArchive = t, true
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			log := slog.New(slog.DiscardHandler)
			st, err := storage.Open(ctx, "sqlite", filepath.Join(b.TempDir(), "db"), log)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			r := router.New()
			core := im.New(im.Config{Hosts: []string{"localhost"}, MaxOfflineMessages: 100, NoArchive: noArchive, Log: log}, r, st)
			from, _, _ := r.Bind(jid.MustParse("alice@localhost/pc"), &countConn{}, 0)
			rc := &countConn{}
			to, _, _ := r.Bind(jid.MustParse("bob@localhost/phone"), rc, 0)
			// Bob is available so bare-JID routing picks him.
			to.SetPresence(stanza.New("presence", stanza.NSClient), true, 0)
			addr := "bob@localhost"
			if target == "full" {
				addr = "bob@localhost/phone"
			}
			msg, err := stanza.ParseBytes([]byte(`<message to='` + addr + `' type='chat' id='abc123'><body>Hello there, how are you doing today?</body><active xmlns='http://jabber.org/protocol/chatstates'/><origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546014'/></message>`))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				core.Route(ctx, from, msg)
			}
			b.StopTimer()
			if got := rc.n.Load(); got != int64(b.N) {
				b.Fatalf("delivered %d of %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
