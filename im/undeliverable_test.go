package im_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// fakeConn stands for a connection in these tests: it records what it was
// given, and once closing hands everything back to the core the way the
// c2s connection does.
type fakeConn struct {
	core *im.Server

	mu      sync.Mutex
	got     []string
	closing bool
	sess    *router.Session
}

func (c *fakeConn) Deliver(el *stanza.Element) {
	c.mu.Lock()
	if !c.closing {
		c.got = append(c.got, string(el.AppendXML(nil, stanza.NSClient)))
		c.mu.Unlock()
		return
	}
	s := c.sess
	c.mu.Unlock()
	_, prio := s.Available()
	c.core.Undeliverable(context.Background(), im.Gone{JID: s.JID(), Priority: prio, Session: s}, el)
}

func (c *fakeConn) Close(*stanza.StreamError) {}

func (c *fakeConn) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

type undeliverableEnv struct {
	t     *testing.T
	r     *router.Router
	core  *im.Server
	store *storage.SQL
}

func newUndeliverableEnv(t *testing.T) *undeliverableEnv {
	t.Helper()
	st, err := storage.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, u := range []string{"alice@localhost", "bob@localhost"} {
		if err := st.CreateAccount(context.Background(), storage.Account{JID: u}); err != nil {
			t.Fatal(err)
		}
	}
	r := router.New()
	return &undeliverableEnv{t: t, r: r, core: im.New(im.Config{Hosts: []string{"localhost"}, MaxOfflineMessages: 100}, r, st), store: st}
}

// bind binds full with an available presence of the given priority.
func (e *undeliverableEnv) bind(full string, prio int) *fakeConn {
	e.t.Helper()
	c := &fakeConn{core: e.core}
	s, _, err := e.r.Bind(jid.MustParse(full), c, 10)
	if err != nil {
		e.t.Fatal(err)
	}
	s.SetPresence(stanza.New("presence", stanza.NSClient), true, prio)
	c.sess = s
	return c
}

// close marks c as closing and takes its session out of the router, as a
// closing c2s connection does.
func (e *undeliverableEnv) close(c *fakeConn) {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	e.r.Unbind(c.sess)
}

func (e *undeliverableEnv) offline(bare string) []string {
	e.t.Helper()
	msgs, err := e.store.TakeOffline(context.Background(), bare)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Stanza))
	}
	return out
}

func message(to, body string) *stanza.Element {
	return stanza.New("message", stanza.NSClient, "from", "bob@localhost/pc", "to", to, "type", "chat", "id", body).
		Append(stanza.New("body", stanza.NSClient).SetText(body))
}

func countBody(list []string, body string) int {
	n := 0
	for _, s := range list {
		if strings.Contains(s, "<body>"+body+"</body>") {
			n++
		}
	}
	return n
}

// A stanza routed to a session whose stream is closing (drain, shutdown,
// conflict, a client that stopped reading) is routed again as if that
// resource were gone: nothing is dropped and nothing arrives twice.
func TestUndeliverable(t *testing.T) {
	t.Parallel()
	t.Run("to the full JID of the only resource: offline", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		pc := e.bind("alice@localhost/pc", 0)
		e.close(pc)
		pc.Deliver(message("alice@localhost/pc", "m1"))
		if got := e.offline("alice@localhost"); countBody(got, "m1") != 1 {
			t.Fatalf("offline storage holds %q, want the message once", got)
		}
	})
	t.Run("to the full JID with another resource: that resource", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		pc := e.bind("alice@localhost/pc", 0)
		phone := e.bind("alice@localhost/phone", 0)
		e.close(pc)
		pc.Deliver(message("alice@localhost/pc", "m1"))
		if n := countBody(phone.received(), "m1"); n != 1 {
			t.Fatalf("phone got the message %d times, want once", n)
		}
		if got := e.offline("alice@localhost"); len(got) != 0 {
			t.Fatalf("offline storage holds %q, want nothing", got)
		}
	})
	t.Run("to the bare JID with an equal-priority co-target: not again", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		pc := e.bind("alice@localhost/pc", 1)
		phone := e.bind("alice@localhost/phone", 1)
		e.close(pc)
		// The router picked both; pc's copy comes back, phone has its own.
		e.core.Undeliverable(context.Background(), im.Gone{JID: pc.sess.JID(), Priority: 1, Session: pc.sess}, message("alice@localhost", "m1"))
		if n := countBody(phone.received(), "m1"); n != 0 {
			t.Fatalf("phone got the returned copy %d times, want none (it had its own)", n)
		}
		if got := e.offline("alice@localhost"); len(got) != 0 {
			t.Fatalf("offline storage holds %q, want nothing", got)
		}
	})
	t.Run("to the bare JID, the closing resource was the only target: the next one", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		pc := e.bind("alice@localhost/pc", 5)
		phone := e.bind("alice@localhost/phone", 1)
		e.close(pc)
		pc.Deliver(message("alice@localhost", "m1"))
		if n := countBody(phone.received(), "m1"); n != 1 {
			t.Fatalf("phone got the message %d times, want once", n)
		}
	})
	t.Run("from offline storage with an equal-priority resource: that resource", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		pc := e.bind("alice@localhost/pc", 0)
		phone := e.bind("alice@localhost/phone", 0)
		e.close(pc)
		m := message("alice@localhost", "m1").Append(stanza.New("delay", stanza.NSDelay, "from", "localhost", "stamp", "2026-01-01T00:00:00Z"))
		pc.Deliver(m)
		if n := countBody(phone.received(), "m1"); n != 1 {
			t.Fatalf("phone got the stored message %d times, want once", n)
		}
	})
	t.Run("the full JID bound again: the new session", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		old := e.bind("alice@localhost/pc", 0)
		fresh := e.bind("alice@localhost/pc", 0) // replaces old in the router
		old.mu.Lock()
		old.closing = true
		old.mu.Unlock()
		old.Deliver(message("alice@localhost/pc", "m1"))
		if n := countBody(fresh.received(), "m1"); n != 1 {
			t.Fatalf("the new session got the message %d times, want once", n)
		}
	})
	t.Run("rerouted once already: not to another node", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		remote := &fakeConn{core: e.core}
		rs := router.NewRemote(jid.MustParse("alice@localhost/phone"), "n2", "run", remote, true, 0, nil, 0)
		e.r.PutRemote(rs)
		e.core.Undeliverable(context.Background(), im.Gone{JID: jid.MustParse("alice@localhost/pc"), Rerouted: true}, message("alice@localhost/pc", "m1"))
		if n := len(remote.received()); n != 0 {
			t.Fatalf("the other node's resource got %d stanzas, want none", n)
		}
		if got := e.offline("alice@localhost"); countBody(got, "m1") != 1 {
			t.Fatalf("offline storage holds %q, want the message once", got)
		}
	})
	t.Run("an iq request: service-unavailable to the requester", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		bob := e.bind("bob@localhost/pc", 0)
		pc := e.bind("alice@localhost/pc", 0)
		e.close(pc)
		pc.Deliver(stanza.New("iq", stanza.NSClient, "from", "bob@localhost/pc", "to", "alice@localhost/pc", "type", "get", "id", "q1").
			Append(stanza.New("query", "jabber:iq:version")))
		got := bob.received()
		if len(got) != 1 || !strings.Contains(got[0], "type='error'") || !strings.Contains(got[0], "service-unavailable") {
			t.Fatalf("bob got %q, want one service-unavailable error", got)
		}
	})
	t.Run("presence and headlines: dropped", func(t *testing.T) {
		t.Parallel()
		e := newUndeliverableEnv(t)
		pc := e.bind("alice@localhost/pc", 0)
		phone := e.bind("alice@localhost/phone", 0)
		e.close(pc)
		pc.Deliver(stanza.New("presence", stanza.NSClient, "from", "bob@localhost/pc", "to", "alice@localhost/pc"))
		pc.Deliver(stanza.New("message", stanza.NSClient, "from", "bob@localhost/pc", "to", "alice@localhost/pc", "type", "headline"))
		if got := phone.received(); len(got) != 0 {
			t.Fatalf("phone got %q, want nothing", got)
		}
		if got := e.offline("alice@localhost"); len(got) != 0 {
			t.Fatalf("offline storage holds %q, want nothing", got)
		}
	})
}

// A message stored offline while the user already had an available
// session (the session's initial presence took the store just before the
// commit) is handed to that session: the best local available one, once.
func TestDeliverPendingOffline(t *testing.T) {
	t.Parallel()
	e := newUndeliverableEnv(t)
	low := e.bind("alice@localhost/low", 1)
	high := e.bind("alice@localhost/high", 5)
	e.bind("alice@localhost/neg", -1)
	ctx := context.Background()
	m := message("alice@localhost", "late")
	if err := e.store.StoreOffline(ctx, "alice@localhost", m.AppendXML(nil, stanza.NSClient), 100); err != nil {
		t.Fatal(err)
	}
	e.core.DeliverPendingOffline(ctx, jid.MustParse("alice@localhost"))
	e.core.DeliverPendingOffline(ctx, jid.MustParse("alice@localhost")) // nothing left
	if n := countBody(high.received(), "late"); n != 1 {
		t.Fatalf("the highest-priority session got the message %d times, want once", n)
	}
	if n := countBody(low.received(), "late"); n != 0 {
		t.Fatalf("the lower-priority session got the message %d times, want none", n)
	}
	if got := e.offline("alice@localhost"); len(got) != 0 {
		t.Fatalf("offline storage still holds %q", got)
	}
}
