package im_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
)

// The integration tests below talk to a real server over real connections.
// Every account has the same password; every client reads only on the test's
// goroutine.

const (
	domain   = "localhost"
	password = "secret"

	waitFor = 5 * time.Second        // bound on anything that should arrive
	quiet   = 300 * time.Millisecond // how long "nothing arrives" is watched
)

type env struct {
	t   *testing.T
	srv *testserver.Server
}

// start runs a server without STARTTLS, with accounts for the localparts.
func start(t *testing.T, locals []string, opts ...testserver.Option) *env {
	t.Helper()
	e := &env{t: t, srv: testserver.Start(t, append([]testserver.Option{testserver.PlainTCP}, opts...)...)}
	for _, l := range locals {
		e.srv.AddUser(l+"@"+domain, password)
	}
	return e
}

// client is one logged-in resource.
type client struct {
	t    *testing.T
	name string // local/resource, for messages
	c    *xmppclient.Client
}

// login binds local@localhost/resource; the connection is closed when the
// test ends.
func (e *env) login(local, resource string) *client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{
		Addr: e.srv.C2S(), Domain: domain, Username: local, Password: password, Resource: resource,
	})
	if err != nil {
		e.t.Fatalf("login %s/%s: %v", local, resource, err)
	}
	cl := &client{t: e.t, name: local + "/" + resource, c: c}
	e.t.Cleanup(func() { _ = c.Close() })
	return cl
}

// online logs in and sends initial presence with the priority, waiting for
// its echo so that the server has recorded it.
func (e *env) online(local, resource string, prio int) *client {
	e.t.Helper()
	c := e.login(local, resource)
	c.available(prio)
	return c
}

// sessions is how many resources of local are bound on the server.
func (e *env) sessions(local string) int {
	return len(e.srv.Router().Sessions(jid.MustParse(local + "@" + domain)))
}

// waitGone waits until the server has dropped every session of local.
func (e *env) waitGone(local string) {
	e.t.Helper()
	testutil.Eventually(e.t, waitFor, func() bool { return e.sessions(local) == 0 })
}

func (c *client) jid() string  { return c.c.JID().String() }
func (c *client) bare() string { return c.c.JID().Bare().String() }

// send parses XML (in jabber:client) built from format and args and sends it.
func (c *client) send(format string, args ...any) {
	c.t.Helper()
	el := parse(c.t, fmt.Sprintf(format, args...))
	if err := c.c.Send(el); err != nil {
		c.t.Fatalf("%s: send %s: %v", c.name, el, err)
	}
}

// available sends presence with the priority and waits for the echo.
func (c *client) available(prio int) {
	c.t.Helper()
	c.send("<presence><priority>%d</priority></presence>", prio)
	c.expect("own presence echo", presence(c.jid(), ""))
}

// request sends an iq and waits for its answer; for errors it returns the
// stanza error too.
func (c *client) request(format string, args ...any) (*stanza.Element, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	reply, err := c.c.Request(ctx, parse(c.t, fmt.Sprintf(format, args...)))
	var se *stanza.Error
	if err != nil && !errors.As(err, &se) {
		c.t.Fatalf("%s: request: %v", c.name, err)
	}
	return reply, err
}

// sync pings the server and waits for the answer. The server handles a
// connection's stanzas in order, so once it answers, everything sent
// before has been routed (delivery to other connections is then queued).
func (c *client) sync() {
	c.t.Helper()
	if _, err := c.request("<iq type='get' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", domain); err != nil {
		c.t.Fatalf("%s: ping: %v", c.name, err)
	}
}

// offline is how many messages the server keeps for local.
func (e *env) offline(local string) int {
	e.t.Helper()
	n, err := e.srv.Store().CountOffline(context.Background(), local+"@"+domain)
	if err != nil {
		e.t.Fatalf("CountOffline(%s): %v", local, err)
	}
	return n
}

// roster fetches the roster, which also makes the resource interested in
// pushes.
func (c *client) roster() *stanza.Element {
	c.t.Helper()
	reply, err := c.request("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
	if err != nil {
		c.t.Fatalf("%s: roster get: %v", c.name, err)
	}
	return reply
}

// item returns the roster's item for contact, or nil.
func (c *client) item(contact string) *stanza.Element {
	c.t.Helper()
	q := c.roster().Child("query", stanza.NSRoster)
	if q == nil {
		c.t.Fatalf("%s: roster result without a query", c.name)
	}
	for _, it := range q.Elements() {
		if it.Attr("jid") == contact {
			return it
		}
	}
	return nil
}

// expect waits for an element that match accepts; others are kept for
// later expectations.
func (c *client) expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	el, err := c.c.Expect(ctx, match)
	if err != nil {
		c.t.Fatalf("%s: waiting for %s: %v", c.name, what, err)
	}
	return el
}

// expectNone checks that nothing match accepts arrives within quiet (or
// is already waiting).
func (c *client) expectNone(what string, match func(*stanza.Element) bool) {
	c.t.Helper()
	if msg := c.none(what, match); msg != "" {
		c.t.Error(msg)
	}
}

// none is expectNone's check; it returns what went wrong, or "". It only
// reads from c, so checks of several clients may run at once.
func (c *client) none(what string, match func(*stanza.Element) bool) string {
	ctx, cancel := context.WithTimeout(context.Background(), quiet)
	defer cancel()
	el, err := c.c.Expect(ctx, match)
	switch {
	case err == nil:
		return fmt.Sprintf("%s: got %s, want no %s", c.name, el, what)
	case !errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("%s: while checking for no %s: %v", c.name, what, err)
	}
	return ""
}

// absence is one "nothing like this arrives" check.
type absence struct {
	c     *client
	what  string
	match func(*stanza.Element) bool
}

// expectAbsent runs the checks at the same time, so that they share one
// quiet period. Checks of the same client are merged: a client has one
// reader.
func expectAbsent(t *testing.T, checks ...absence) {
	t.Helper()
	var order []*client
	merged := map[*client][]absence{}
	for _, ch := range checks {
		if merged[ch.c] == nil {
			order = append(order, ch.c)
		}
		merged[ch.c] = append(merged[ch.c], ch)
	}
	msgs := make([]string, len(order))
	var wg sync.WaitGroup
	for i, c := range order {
		list := merged[c]
		whats := make([]string, len(list))
		for j, ch := range list {
			whats[j] = ch.what
		}
		wg.Go(func() {
			msgs[i] = c.none(strings.Join(whats, " or "), func(el *stanza.Element) bool {
				for _, ch := range list {
					if ch.match(el) {
						return true
					}
				}
				return false
			})
		})
	}
	wg.Wait()
	for _, m := range msgs {
		if m != "" {
			t.Error(m)
		}
	}
}

// expectStreamError reads until the stream fails and returns the stream
// error condition ("" when the stream ended otherwise).
func (c *client) expectStreamError() stanza.StreamCondition {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := c.c.Expect(ctx, func(*stanza.Element) bool { return false })
	var se *stanza.StreamError
	if errors.As(err, &se) {
		return se.Condition
	}
	if errors.Is(err, context.DeadlineExceeded) {
		c.t.Fatalf("%s: the stream did not end", c.name)
	}
	return ""
}

// drain forgets everything received so far and whatever arrives until
// the connection has been quiet for a moment, so that later checks see
// only new traffic.
func (c *client) drain() {
	c.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := c.c.Expect(ctx, func(*stanza.Element) bool { return true })
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded):
			return
		default:
			c.t.Fatalf("%s: drain: %v", c.name, err)
		}
	}
}

func parse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := stanza.ParseBytes([]byte(s))
	if err != nil {
		t.Fatalf("bad test XML %q: %v", s, err)
	}
	return el
}

// Matchers.

// messageBody matches any message with the body.
func messageBody(body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Name == "message" && bodyOf(el) == body }
}

func bodyOf(el *stanza.Element) string {
	if b := el.Child("body", ""); b != nil {
		return b.Text()
	}
	return ""
}

// presence matches a presence from the JID of the type ("" is available).
func presence(from, typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name == "presence" && el.From() == from && el.Type() == typ
	}
}

// anyPresenceFrom matches any presence whose from is the JID or one of
// its resources.
func anyPresenceFrom(j string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name == "presence" && (el.From() == j || strings.HasPrefix(el.From(), j+"/"))
	}
}

// stanzaError matches an error stanza of the kind with the condition.
func stanzaError(name string, cond stanza.Condition) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name == name && el.Type() == "error" && condition(el) == cond
	}
}

// errorWithBody matches a message error bouncing the body.
func errorWithBody(body string, cond stanza.Condition) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name == "message" && el.Type() == "error" && condition(el) == cond && bodyOf(el) == body
	}
}

func condition(el *stanza.Element) stanza.Condition {
	e := el.Child("error", "")
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

// push matches a roster push about contact.
func push(contact string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return pushItem(el) != nil && pushItem(el).Attr("jid") == contact
	}
}

// pushItem returns the item of a roster push, or nil when el is not one.
func pushItem(el *stanza.Element) *stanza.Element {
	if el.Name != "iq" || el.Type() != "set" {
		return nil
	}
	q := el.Child("query", stanza.NSRoster)
	if q == nil {
		return nil
	}
	return q.Child("item", stanza.NSRoster)
}

// anyPush matches any roster push.
func anyPush(el *stanza.Element) bool { return pushItem(el) != nil }

// subState is an item's subscription and ask, as "both" or "none+ask".
func subState(it *stanza.Element) string {
	if it == nil {
		return "(absent)"
	}
	s := it.Attr("subscription")
	if it.Attr("ask") == "subscribe" {
		s += "+ask"
	}
	return s
}
