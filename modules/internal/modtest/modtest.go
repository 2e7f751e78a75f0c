// Package modtest is the test harness of the XEP modules: a real core
// (im.Server) on a real SQLite store and router, with sessions whose
// connections record what is delivered to them.
//
// It is for tests only and starts no network listener.
package modtest

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Host is the domain the test server serves.
const Host = "example.com"

// Password is the password of accounts made by Env.Account.
const Password = "correct horse"

// Env is one test server.
type Env struct {
	T      testing.TB
	Ctx    context.Context
	Store  *storage.SQL
	Router *router.Router
	Server *im.Server
	Now    time.Time // what the core's clock returns
}

// New starts a server on a fresh SQLite database, closed when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := storage.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "db"), log)
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &Env{T: t, Ctx: ctx, Store: st, Router: router.New(), Now: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	e.Server = im.New(im.Config{Hosts: []string{Host}, Log: log, Now: func() time.Time { return e.Now }}, e.Router, st)
	return e
}

// Account creates local@Host with Password and returns its bare JID.
func (e *Env) Account(local string) jid.JID {
	e.T.Helper()
	j := jid.MustParse(local + "@" + Host)
	sha1, sha256, err := sasl.Derive(Password, 4096)
	if err != nil {
		e.T.Fatalf("Derive: %v", err)
	}
	if err := e.Store.CreateAccount(e.Ctx, storage.Account{JID: j.String(), SHA1: sha1, SHA256: sha256}); err != nil {
		e.T.Fatalf("CreateAccount(%s): %v", j, err)
	}
	return j
}

// Bind binds a session for the full JID, as c2s does after authentication.
func (e *Env) Bind(full string) *Client {
	e.T.Helper()
	c := &Client{env: e}
	s, _, err := e.Router.Bind(jid.MustParse(full), c, 0)
	if err != nil {
		e.T.Fatalf("Bind(%s): %v", full, err)
	}
	c.Session = s
	return c
}

// Remote enters a session of another node of a cluster, as the cluster
// directory does: available, with the interests its node replicated. What
// is delivered to it (forwarded to its node) is recorded as for Bind's.
func (e *Env) Remote(full, node string, interests router.Interests) *Client {
	e.T.Helper()
	c := &Client{env: e}
	c.Session = router.NewRemote(jid.MustParse(full), node, "run-"+node, c, true, 0, nil, interests)
	e.Router.PutRemote(c.Session)
	return c
}

// Subscribe makes contact subscribed to user's presence (user's item
// 'from', contact's item 'to'), as if the subscription handshake had run.
func (e *Env) Subscribe(user, contact jid.JID) {
	e.T.Helper()
	e.setSub(user, contact, storage.SubFrom, storage.SubBoth)
	e.setSub(contact, user, storage.SubTo, storage.SubBoth)
}

func (e *Env) setSub(owner, contact jid.JID, add, both string) {
	it, err := e.Store.RosterItem(e.Ctx, owner.String(), contact.String())
	if err != nil {
		it = storage.RosterItem{Contact: contact.String(), Subscription: add}
	} else if it.Subscription != add && it.Subscription != both {
		it.Subscription = both
	}
	if _, err := e.Store.PutRosterItem(e.Ctx, owner.String(), it); err != nil {
		e.T.Fatalf("PutRosterItem: %v", err)
	}
}

// Client is a bound session whose connection records what it receives.
type Client struct {
	env     *Env
	Session *router.Session

	mu     sync.Mutex // guards everything below
	got    []*stanza.Element
	closed bool
	errs   *stanza.StreamError
	nextID int
}

// Deliver implements router.Conn.
func (c *Client) Deliver(el *stanza.Element) {
	c.mu.Lock()
	c.got = append(c.got, el)
	c.mu.Unlock()
}

// StreamClosed is recorded among the delivered stanzas where the stream was
// closed, so tests can check what came before.
const StreamClosed = "modtest-stream-closed"

// Close implements router.Conn: the session is unbound as c2s would (a
// remote entry leaves as when its node reports the unbind).
func (c *Client) Close(err *stanza.StreamError) {
	c.mu.Lock()
	c.closed, c.errs = true, err
	c.got = append(c.got, stanza.New(StreamClosed, ""))
	c.mu.Unlock()
	if !c.Session.IsLocal() {
		c.env.Router.RemoveRemote(c.Session.JID(), c.Session.Node())
		return
	}
	c.env.Router.Unbind(c.Session)
}

// Closed reports whether the stream was closed, and with which error.
func (c *Client) Closed() (bool, *stanza.StreamError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed, c.errs
}

// Take returns and forgets what was delivered so far.
func (c *Client) Take() []*stanza.Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.got = nil
	return got
}

// Send routes a stanza from the client.
func (c *Client) Send(st *stanza.Element) {
	c.env.Server.Route(c.env.Ctx, c.Session, st)
}

// IQ sends an iq with the payload (to may be empty) and returns the reply,
// failing the test if none was delivered. Other stanzas delivered meanwhile
// stay for Take.
func (c *Client) IQ(typ, to string, payload *stanza.Element) *stanza.Element {
	c.env.T.Helper()
	c.mu.Lock()
	c.nextID++
	id := "q" + strconv.Itoa(c.nextID)
	c.mu.Unlock()
	iq := stanza.New("iq", stanza.NSClient, "type", typ, "id", id)
	if to != "" {
		iq.SetAttr("to", to)
	}
	c.Send(iq.Append(payload))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, el := range c.got {
		if el.Name == "iq" && el.ID() == id && (el.Type() == "result" || el.Type() == "error") {
			c.got = append(c.got[:i:i], c.got[i+1:]...)
			return el
		}
	}
	c.env.T.Fatalf("no reply to %s", iq)
	return nil
}

// Condition returns the stanza error condition of reply, or "" if it is
// not an error.
func Condition(reply *stanza.Element) stanza.Condition {
	if reply.Type() != "error" {
		return ""
	}
	e := reply.Child("error", "")
	if e == nil {
		return ""
	}
	for _, c := range e.Elements() {
		if c.Space == stanza.NSStanzas && c.Name != "text" {
			return stanza.Condition(c.Name)
		}
	}
	return ""
}

// Text returns the text of the error in reply, if any.
func Text(reply *stanza.Element) string {
	if e := reply.Child("error", ""); e != nil {
		if t := e.Child("text", stanza.NSStanzas); t != nil {
			return t.Text()
		}
	}
	return ""
}

// Parse parses XML for a test, failing it on error.
func Parse(t testing.TB, s string) *stanza.Element {
	t.Helper()
	el, err := stanza.ParseBytes([]byte(s))
	if err != nil {
		t.Fatalf("ParseBytes(%q): %v", s, err)
	}
	return el
}
