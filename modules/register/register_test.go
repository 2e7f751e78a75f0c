package register_test

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/register"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

func newEnv(t *testing.T) *modtest.Env {
	env := modtest.New(t)
	register.New(env.Server, register.Config{MinPasswordLength: 6, Iterations: 4096}).Register(env.Server)
	return env
}

// preAuth sends an iq from a client that has not authenticated.
func preAuth(env *modtest.Env, typ, payload string) *stanza.Element {
	iq := stanza.New("iq", stanza.NSClient, "type", typ, "id", "r1")
	iq.Append(modtest.Parse(env.T, payload))
	return env.Server.HandlePreBind(env.Ctx, modtest.Host, iq)
}

func form(user, pass string) string {
	return `<query xmlns='jabber:iq:register'><username>` + user + `</username><password>` + pass + `</password></query>`
}

// canLogin reports whether PLAIN authentication succeeds.
func canLogin(t *testing.T, env *modtest.Env, user, pass string) bool {
	t.Helper()
	offer := sasl.Offer{AllowPlain: true, TLS: &tls.ConnectionState{HandshakeComplete: true}}
	conv, err := sasl.NewConversation(offer, sasl.Plain, func(u string) (storage.Account, error) {
		return env.Store.Account(env.Ctx, u+"@"+modtest.Host)
	})
	if err != nil {
		t.Fatalf("NewConversation: %v", err)
	}
	_, done, err := conv.Step([]byte("\x00" + user + "\x00" + pass))
	return err == nil && done
}

func TestPreAuthFields(t *testing.T) {
	env := newEnv(t)
	reply := preAuth(env, "get", `<query xmlns='jabber:iq:register'/>`)
	q := reply.Child("query", register.NS)
	if reply.Type() != "result" || q == nil {
		t.Fatalf("reply %s", reply)
	}
	var names []string
	for _, c := range q.Elements() {
		names = append(names, c.Name)
	}
	if want := []string{"instructions", "username", "password"}; !slices.Equal(names, want) {
		t.Errorf("fields = %v, want %v", names, want)
	}
	if q.Child("instructions", register.NS).Text() != register.DefaultInstructions {
		t.Errorf("instructions = %q", q.Child("instructions", register.NS).Text())
	}
}

func TestPreAuthRegister(t *testing.T) {
	env := newEnv(t)
	steps := []struct {
		name    string
		typ     string
		payload string
		cond    stanza.Condition
		text    string // in the error text
	}{
		{name: "register", typ: "set", payload: form("bill", "Calliope")},
		{name: "taken", typ: "set", payload: form("bill", "m1cro$oft"), cond: stanza.Conflict},
		{name: "taken in another case", typ: "set", payload: form("BILL", "m1cro$oft"), cond: stanza.Conflict},
		{name: "no password", typ: "set", payload: `<query xmlns='jabber:iq:register'><username>ann</username></query>`, cond: stanza.NotAcceptable},
		{name: "empty password", typ: "set", payload: form("ann", ""), cond: stanza.NotAcceptable},
		{name: "no username", typ: "set", payload: `<query xmlns='jabber:iq:register'><password>secret123</password></query>`, cond: stanza.NotAcceptable},
		{name: "username with @", typ: "set", payload: form("ann@example.com", "secret123"), cond: stanza.NotAcceptable, text: "username"},
		{name: "username with space", typ: "set", payload: form("ann smith", "secret123"), cond: stanza.NotAcceptable, text: "username"},
		{name: "short password", typ: "set", payload: form("ann", "12345"), cond: stanza.NotAcceptable, text: "at least 6"},
		{name: "long password", typ: "set", payload: form("ann", strings.Repeat("p", 1025)), cond: stanza.NotAcceptable, text: "at most"},
		{name: "prohibited character", typ: "set", payload: form("ann", "secret\ufdd0123"), cond: stanza.NotAcceptable, text: "not allowed"},
		{name: "remove before auth", typ: "set", payload: `<query xmlns='jabber:iq:register'><remove/></query>`, cond: stanza.UnexpectedRequest},
		{name: "wrong element", typ: "get", payload: `<register xmlns='jabber:iq:register'/>`, cond: stanza.BadRequest},
		{name: "mixed case username", typ: "set", payload: form("Ann", "Calliope")},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			reply := preAuth(env, st.typ, st.payload)
			if got := modtest.Condition(reply); got != st.cond {
				t.Fatalf("condition = %q (%s), want %q", got, modtest.Text(reply), st.cond)
			}
			if !strings.Contains(modtest.Text(reply), st.text) {
				t.Errorf("error text %q does not mention %q", modtest.Text(reply), st.text)
			}
			if st.cond == "" && (reply.Type() != "result" || reply.ID() != "r1") {
				t.Errorf("reply %s", reply)
			}
		})
	}
	if !canLogin(t, env, "bill", "Calliope") || !canLogin(t, env, "ann", "Calliope") {
		t.Error("registered accounts cannot log in")
	}
	if canLogin(t, env, "bill", "m1cro$oft") {
		t.Error("a refused registration changed the password")
	}
}

func TestDisabled(t *testing.T) {
	env := modtest.New(t) // the module is not registered
	reply := preAuth(env, "get", `<query xmlns='jabber:iq:register'/>`)
	if got := modtest.Condition(reply); got != stanza.ServiceUnavailable {
		t.Errorf("condition = %q, want service-unavailable", got)
	}
}

func TestRegistered(t *testing.T) {
	env := newEnv(t)
	env.Account("juliet")
	c := env.Bind("juliet@example.com/balcony")
	for _, to := range []string{"", "example.com"} {
		reply := c.IQ("get", to, stanza.New("query", register.NS))
		q := reply.Child("query", register.NS)
		if q == nil || q.Child("registered", register.NS) == nil || q.Child("username", register.NS).Text() != "juliet" {
			t.Errorf("to %q: reply %s", to, reply)
		}
	}
}

func TestChangePassword(t *testing.T) {
	env := newEnv(t)
	env.Account("juliet")
	env.Account("romeo")
	c := env.Bind("juliet@example.com/balcony")
	steps := []struct {
		name    string
		to      string
		payload string
		cond    stanza.Condition
		now     string // the password that works afterwards
	}{
		{name: "change", payload: form("juliet", "newpass1"), now: "newpass1"},
		{name: "to the server, bare JID as username", to: "example.com", payload: form("juliet@example.com", "newpass2"), now: "newpass2"},
		{name: "username in another case", payload: form("Juliet", "newpass3"), now: "newpass3"},
		{name: "someone else's", payload: form("romeo", "stolen!!"), cond: stanza.Forbidden, now: "newpass3"},
		{name: "no username", payload: `<query xmlns='jabber:iq:register'><password>newpass4</password></query>`, cond: stanza.BadRequest, now: "newpass3"},
		{name: "empty password keeps the old one", payload: form("juliet", ""), cond: stanza.NotAcceptable, now: "newpass3"},
		{name: "short", payload: form("juliet", "abc"), cond: stanza.NotAcceptable, now: "newpass3"},
		{name: "remove with other fields", payload: `<query xmlns='jabber:iq:register'><remove/><username>juliet</username></query>`, cond: stanza.BadRequest, now: "newpass3"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			reply := c.IQ("set", st.to, modtest.Parse(t, st.payload))
			if got := modtest.Condition(reply); got != st.cond {
				t.Fatalf("condition = %q (%s), want %q", got, modtest.Text(reply), st.cond)
			}
			if !canLogin(t, env, "juliet", st.now) {
				t.Errorf("password %q does not work", st.now)
			}
		})
	}
	if !canLogin(t, env, "romeo", modtest.Password) {
		t.Error("romeo's password changed")
	}
	if closed, _ := c.Closed(); closed {
		t.Error("a password change closed the session")
	}
}

func TestCancel(t *testing.T) {
	env := newEnv(t)
	juliet, romeo := env.Account("juliet"), env.Account("romeo")
	env.Account("tybalt")
	env.Subscribe(juliet, romeo)
	env.Subscribe(romeo, juliet)
	if err := env.Store.Block(env.Ctx, juliet.String(), []string{"tybalt@example.com"}); err != nil {
		t.Fatal(err)
	}
	balcony := env.Bind("juliet@example.com/balcony")
	chamber := env.Bind("juliet@example.com/chamber")
	ro := env.Bind("romeo@example.com/orchard")
	ty := env.Bind("tybalt@example.com/street")
	ro.IQ("get", "", stanza.New("query", stanza.NSRoster)) // interested in pushes
	ro.Send(stanza.New("presence", stanza.NSClient))
	balcony.Send(stanza.New("presence", stanza.NSClient))
	msg := stanza.New("message", stanza.NSClient, "type", "chat", "to", "tybalt@example.com/street").Append(stanza.New("body", stanza.NSClient).SetText("hi"))
	balcony.Send(msg) // the core caches juliet's block list
	if got := ty.Take(); len(got) != 0 {
		t.Fatalf("tybalt is blocked but got %v", got)
	}
	for _, c := range []*modtest.Client{balcony, chamber, ro, ty} {
		c.Take()
	}

	balcony.Send(modtest.Parse(t, `<iq xmlns='jabber:client' type='set' id='unreg1'><query xmlns='jabber:iq:register'><remove/></query></iq>`))

	got := balcony.Take()
	if len(got) < 2 || got[len(got)-1].Name != modtest.StreamClosed {
		t.Fatalf("balcony got %v, want the result then the stream closed", got)
	}
	res := got[len(got)-2]
	if res.Type() != "result" || res.ID() != "unreg1" {
		t.Errorf("last stanza before the close is %s, want the result", res)
	}
	for name, c := range map[string]*modtest.Client{"balcony": balcony, "chamber": chamber} {
		closed, err := c.Closed()
		if !closed || err == nil || err.Condition != stanza.StreamNotAuthorized {
			t.Errorf("%s: closed %v with %v, want not-authorized", name, closed, err)
		}
	}
	if _, err := env.Store.Account(env.Ctx, juliet.String()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("account still there: %v", err)
	}
	it, err := env.Store.RosterItem(env.Ctx, romeo.String(), juliet.String())
	if err != nil || it.Subscription != storage.SubNone {
		t.Errorf("romeo's item for juliet = %+v, %v; want subscription none", it, err)
	}
	var pushes, unavailable int
	for _, el := range ro.Take() {
		switch {
		case el.Name == "iq" && el.Child("query", stanza.NSRoster) != nil:
			pushes++
		case el.Name == "presence" && el.Type() == "unavailable" && strings.HasPrefix(el.From(), "juliet@example.com"):
			unavailable++
		}
	}
	if pushes == 0 || unavailable == 0 {
		t.Errorf("romeo got %d roster pushes and %d unavailable presences, want some of each", pushes, unavailable)
	}

	// The name is free again, with nothing of the old account.
	if reply := preAuth(env, "set", form("juliet", "fresh-start")); reply.Type() != "result" {
		t.Fatalf("re-register: %s", reply)
	}
	again := env.Bind("juliet@example.com/balcony")
	again.Send(msg)
	if got := ty.Take(); len(got) != 1 {
		t.Errorf("the new juliet's message to tybalt: tybalt got %v (old block list still cached?)", got)
	}
	if got := again.IQ("get", "", stanza.New("query", stanza.NSRoster)); len(got.FirstElement().Elements()) != 0 {
		t.Errorf("new roster %s, want empty", got)
	}
}
