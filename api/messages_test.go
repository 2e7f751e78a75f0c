package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/stanza"
)

type sent struct {
	ID string `json:"id"`
}

func (e *env) send(body any) string {
	e.t.Helper()
	var s sent
	e.request("POST", "/api/v1/messages", body).ok(http.StatusAccepted, &s)
	if s.ID == "" {
		e.t.Fatal("no id in the answer")
	}
	return s.ID
}

// checkMessage checks a received message's sender, type, subject and body.
func checkMessage(t *testing.T, el *stanza.Element, to, typ, subject, body string) {
	t.Helper()
	gotSubject := ""
	if s := el.Child("subject", stanza.NSClient); s != nil {
		gotSubject = s.Text()
	}
	b := el.Child("body", stanza.NSClient)
	if el.From() != domain || el.To() != to || el.Type() != typ || gotSubject != subject || b == nil || b.Text() != body {
		t.Fatalf("got %s, want from %s to %s type %s subject %q body %q", el, domain, to, typ, subject, body)
	}
}

func TestSendMessage(t *testing.T) {
	e := start(t)
	e.addUser("alice")
	e.addUser("bob")
	phone, laptop := e.login("alice", "phone", ""), e.login("alice", "laptop", "")
	phone.available("<priority>5</priority>")
	laptop.available("<priority>1</priority>")

	// To a full JID: that resource, even with the lower priority.
	id := e.send(map[string]string{"to": "alice@localhost/laptop", "body": "to the laptop <&>", "type": "chat"})
	checkMessage(t, laptop.expect("the message", message(id)), "alice@localhost/laptop", "chat", "", "to the laptop <&>")
	phone.none("the laptop's message", message(id))

	// To the bare JID: the resource of highest priority (RFC 6121 §8.5.2.1.1).
	id = e.send(map[string]string{"to": "alice@localhost", "body": "hello", "subject": "maintenance"})
	checkMessage(t, phone.expect("the message", message(id)), "alice@localhost", "normal", "maintenance", "hello")
	laptop.none("the phone's message", message(id))

	// A headline to the bare JID: every available resource.
	id = e.send(map[string]string{"to": "alice@localhost", "body": "restart at 22:00", "type": "headline"})
	for _, c := range []*client{phone, laptop} {
		checkMessage(t, c.expect("the headline", message(id)), "alice@localhost", "headline", "", "restart at 22:00")
	}

	// Bob has no session: a chat message is stored offline, a headline is
	// not (§8.5.2.2), and he gets the message at his next login.
	ctx := context.Background()
	e.send(map[string]string{"to": "bob@localhost", "body": "news", "type": "headline"})
	if n, err := e.srv.Store().CountOffline(ctx, "bob@localhost"); err != nil || n != 0 {
		t.Fatalf("offline after a headline: %d %v, want 0", n, err)
	}
	id = e.send(map[string]string{"to": "bob@localhost", "body": "while you were away", "type": "chat"})
	if n, err := e.srv.Store().CountOffline(ctx, "bob@localhost"); err != nil || n != 1 {
		t.Fatalf("offline after a chat message: %d %v, want 1", n, err)
	}
	bob := e.login("bob", "pc", "")
	bob.send("<presence/>")
	el := bob.expect("the offline message", message(id))
	checkMessage(t, el, "bob@localhost", "chat", "", "while you were away")
	if el.Child("delay", stanza.NSDelay) == nil {
		t.Errorf("an offline message without <delay/>: %s", el)
	}
	// A full JID with no such resource is treated as the bare JID.
	id = e.send(map[string]string{"to": "bob@localhost/gone", "body": "rerouted", "type": "chat"})
	checkMessage(t, bob.expect("the message to a gone resource", message(id)), "bob@localhost/gone", "chat", "", "rerouted")
}

// With offline storage off the message is accepted and dropped like any
// other (the sender, the server, hears nothing back).
func TestSendMessageNoOfflineStorage(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Limits.MaxOfflineMessages = 0 })
	e.addUser("bob")
	e.send(map[string]string{"to": "bob@localhost", "body": "x"})
	if n, err := e.srv.Store().CountOffline(context.Background(), "bob@localhost"); err != nil || n != 0 {
		t.Fatalf("offline: %d %v", n, err)
	}
}

func TestSendMessageErrors(t *testing.T) {
	e := start(t)
	e.addUser("alice")
	alice := e.login("alice", "phone", "")
	alice.available("")
	for _, tc := range []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
		msg    string
	}{
		{"no to", map[string]string{"body": "x"}, nil, 400, "missing-field", `"to"`},
		{"no body", map[string]string{"to": "alice@localhost"}, nil, 400, "missing-field", `"body"`},
		{"empty body", map[string]string{"to": "alice@localhost", "body": ""}, nil, 400, "missing-field", `"body"`},
		{"bad type", map[string]string{"to": "alice@localhost", "body": "x", "type": "groupchat"}, nil, 400, "invalid-field", `"type" must be one of chat, normal, headline`},
		{"error type", map[string]string{"to": "alice@localhost", "body": "x", "type": "error"}, nil, 400, "invalid-field", `"type"`},
		{"control character", map[string]string{"to": "alice@localhost", "body": "a\u0001b"}, nil, 400, "invalid-field", `"body" holds U+0001`},
		{"control character in subject", map[string]string{"to": "alice@localhost", "body": "x", "subject": "\u001b[1m"}, nil, 400, "invalid-field", `"subject" holds U+001B`},
		{"invalid jid", map[string]string{"to": "a@@localhost", "body": "x"}, nil, 400, "invalid-jid", "not a valid JID"},
		{"the server", map[string]string{"to": "localhost", "body": "x"}, nil, 400, "invalid-jid", "not a user's JID"},
		{"other domain", map[string]string{"to": "bob@example.org", "body": "x"}, nil, 400, "domain-not-served", "example.org"},
		{"no account", map[string]string{"to": "nobody@localhost", "body": "x"}, nil, 404, "user-not-found", "no account nobody@localhost"},
		{"no account, full JID", map[string]string{"to": "nobody@localhost/r", "body": "x"}, nil, 404, "user-not-found", "nobody@localhost"},
		{"unknown field", map[string]string{"to": "alice@localhost", "body": "x", "from": "bob@localhost"}, nil, 400, "unknown-field", `"from"`},
		{"not JSON", `{"to":`, nil, 400, "bad-json", ""},
		{"wrong type", `{"to":"alice@localhost","body":["x"]}`, nil, 400, "invalid-field", `"body" must be a string`},
		{"text/plain", "hello", []string{"Content-Type", "text/plain"}, 415, "unsupported-media-type", ""},
		{"too large", fmt.Sprintf(`{"to":"alice@localhost","body":%q}`, strings.Repeat("x", 64<<10)), nil, 413, "body-too-large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			e.request("POST", "/api/v1/messages", tc.body, tc.hdr...).fails(tc.status, tc.code, tc.msg)
		})
	}
	alice.none("a message from a refused request", func(el *stanza.Element) bool { return el.Name == "message" })
}
