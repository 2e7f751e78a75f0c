package im_test

import (
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

func TestModuleName(t *testing.T) {
	t.Parallel()
	for ns, want := range map[string]string{
		"urn:xmpp:ping":                          "ping",
		"urn:xmpp:mam:2":                         "mam",
		"urn:xmpp:push:0":                        "push",
		"http://jabber.org/protocol/disco#info":  "disco",
		"http://jabber.org/protocol/disco#items": "disco",
		"jabber:iq:roster":                       "roster",
		"jabber:iq:register":                     "register",
		"vcard-temp":                             "vcard",
		"urn:ietf:params:xml:ns:xmpp-bind":       "xmpp",
		"urn:example:app":                        "urn:example:app",
		"https://example.org/protocol/thing":     "https://example.org/protocol/thing",
		"http://jabber.org/protocol/":            "http://jabber.org/protocol/",
		"urn:xmpp:blocking":                      "blocking",
		"http://jabber.org/protocol/commands":    "commands",
		"urn:xmpp:carbons:2":                     "carbons",
		"jabber:iq:private":                      "private",
		"urn:xmpp:time":                          "time",
		"jabber:iq:version":                      "version",
	} {
		if got := im.ModuleName(ns); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", ns, got, want)
		}
	}
}

// recorded gathers what the core tells its Metrics.
type recorded struct {
	mu     sync.Mutex
	routed map[string]int    // by kind
	calls  map[string][2]int // by module: ok, failed
}

func (r *recorded) metrics() im.Metrics {
	return im.Metrics{
		Route: func(kind string) func(time.Duration) {
			return func(d time.Duration) {
				r.mu.Lock()
				defer r.mu.Unlock()
				if d > 0 {
					r.routed[kind]++
				}
			}
		},
		Module: func(name string) func(time.Duration, bool) {
			return func(d time.Duration, failed bool) {
				r.mu.Lock()
				defer r.mu.Unlock()
				c := r.calls[name]
				if failed {
					c[1]++
				} else {
					c[0]++
				}
				r.calls[name] = c
			}
		},
	}
}

// TestMetrics routes one stanza of each kind and IQs to a module that
// answers and one that fails, and checks what the recorders were told.
func TestMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := storage.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "db"), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := &recorded{routed: map[string]int{}, calls: map[string][2]int{}}
	r := router.New()
	core := im.New(im.Config{Hosts: []string{"localhost"}, Log: log, Metrics: rec.metrics()}, r, st)
	core.Handle("urn:xmpp:ok:1", im.ToServer, im.IQHandlerFunc(func(_ context.Context, q im.IQ) (*stanza.Element, error) {
		return q.Result(), nil
	}))
	core.Handle("urn:xmpp:fails", im.ToServer, im.IQHandlerFunc(func(context.Context, im.IQ) (*stanza.Element, error) {
		return nil, &stanza.Error{Condition: stanza.FeatureNotImplemented}
	}))
	alice := &countConn{}
	from, _, _ := r.Bind(jid.MustParse("alice@localhost/pc"), alice, 0)
	bob := &countConn{}
	to, _, _ := r.Bind(jid.MustParse("bob@localhost/phone"), bob, 0)
	to.SetPresence(stanza.New("presence", stanza.NSClient), true, 0)

	for _, raw := range []string{
		`<message to='bob@localhost/phone' type='chat' id='m1'><body>hi</body></message>`,
		`<message to='bob@localhost' type='chat' id='m2'><body>hi</body></message>`,
		`<presence/>`,
		`<iq type='get' to='localhost' id='q1'><q xmlns='urn:xmpp:ok:1'/></iq>`,
		`<iq type='get' to='localhost' id='q2'><q xmlns='urn:xmpp:ok:1'/></iq>`,
		`<iq type='get' to='localhost' id='q3'><q xmlns='urn:xmpp:fails'/></iq>`,
		`<iq type='get' id='q4'><query xmlns='jabber:iq:roster'/></iq>`,
	} {
		el, err := stanza.ParseBytes([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		core.Route(ctx, from, el)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := map[string]int{"message": 2, "presence": 1, "iq": 4}; !maps.Equal(rec.routed, want) {
		t.Errorf("routed %v, want %v", rec.routed, want)
	}
	if want := map[string][2]int{"ok": {2, 0}, "fails": {0, 1}, "roster": {1, 0}}; !maps.Equal(rec.calls, want) {
		t.Errorf("module calls %v, want %v", rec.calls, want)
	}
	if bob.n.Load() != 2 {
		t.Errorf("bob got %d messages, want 2", bob.n.Load())
	}
}
