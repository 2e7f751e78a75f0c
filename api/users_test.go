package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

type userList struct {
	Users []string `json:"users"`
	Next  string   `json:"next"`
}

func TestCreateUser(t *testing.T) {
	e := start(t)
	var created struct{ JID string }
	r := e.request("POST", "/api/v1/users", map[string]string{"jid": "Alice@LocalHost", "password": "correct horse"})
	r.ok(http.StatusCreated, &created)
	if created.JID != "alice@localhost" {
		t.Fatalf("created %q, want the canonical alice@localhost", created.JID)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/users/alice@localhost" {
		t.Fatalf("Location %q", loc)
	}
	// The account works with the password, over SCRAM-SHA-256 and -SHA-1.
	e.login("alice", "r1", "correct horse")
	c, err := xmppclient.Dial(context.Background(), xmppclient.Config{Addr: e.srv.C2S(), Domain: domain, Username: "alice", Password: "correct horse", Mechanism: xmppclient.ScramSHA1})
	if err != nil {
		t.Fatalf("SCRAM-SHA-1 login: %v", err)
	}
	_ = c.Close()
	if _, err := e.dial("alice", "r2", "wrong"); err == nil {
		t.Fatal("logged in with a wrong password")
	}

	e.request("POST", "/api/v1/users", map[string]string{"jid": "alice@localhost", "password": "other"}).
		fails(http.StatusConflict, "user-exists", "alice@localhost")
	// The existing account kept its password.
	e.login("alice", "r3", "correct horse")
}

func TestCreateUserErrors(t *testing.T) {
	e := start(t)
	big := fmt.Sprintf(`{"jid":"big@localhost","password":%q}`, strings.Repeat("x", 70<<10))
	for _, tc := range []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
		msg    string
	}{
		{"no jid", map[string]string{"password": "x"}, nil, 400, "missing-field", `"jid"`},
		{"empty jid", map[string]string{"jid": "", "password": "x"}, nil, 400, "missing-field", `"jid"`},
		{"no password", map[string]string{"jid": "bob@localhost"}, nil, 400, "missing-field", `"password"`},
		{"invalid jid", map[string]string{"jid": "bob@@localhost", "password": "x"}, nil, 400, "invalid-jid", "not a valid JID"},
		{"domain only", map[string]string{"jid": "localhost", "password": "x"}, nil, 400, "invalid-jid", "want user@domain"},
		{"with resource", map[string]string{"jid": "bob@localhost/phone", "password": "x"}, nil, 400, "invalid-jid", "want user@domain"},
		{"other domain", map[string]string{"jid": "bob@example.org", "password": "x"}, nil, 400, "domain-not-served", "example.org is not served here"},
		{"unusable password", map[string]string{"jid": "bob@localhost", "password": "a\u0007b"}, nil, 400, "invalid-password", "not usable"},
		{"not JSON", "{jid:", nil, 400, "bad-json", "not valid JSON"},
		{"truncated", `{"jid":"bob@localhost"`, nil, 400, "bad-json", "not valid JSON"},
		{"empty body", "", nil, 400, "bad-json", "empty"},
		{"an array", `[1]`, nil, 400, "bad-json", "must be a JSON object"},
		{"two objects", `{"jid":"bob@localhost","password":"x"}{}`, nil, 400, "bad-json", "nothing after it"},
		{"unknown field", map[string]string{"jid": "bob@localhost", "password": "x", "admin": "yes"}, nil, 400, "unknown-field", `"admin"`},
		{"wrong type", `{"jid":"bob@localhost","password":7}`, nil, 400, "invalid-field", `"password" must be a string`},
		{"no content type", map[string]string{"jid": "bob@localhost", "password": "x"}, []string{"Content-Type", ""}, 415, "unsupported-media-type", "application/json"},
		{"form", "jid=bob@localhost", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported-media-type", "x-www-form-urlencoded"},
		{"too large", big, nil, 413, "body-too-large", "65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			e.request("POST", "/api/v1/users", tc.body, tc.hdr...).fails(tc.status, tc.code, tc.msg)
		})
	}
	// JSON with a charset parameter is JSON.
	e.request("POST", "/api/v1/users", `{"jid":"carol@localhost","password":"x"}`, "Content-Type", "application/json; charset=utf-8").ok(http.StatusCreated, new(map[string]any))
	var list userList
	e.request("GET", "/api/v1/users", nil).ok(http.StatusOK, &list)
	if !slices.Equal(list.Users, []string{"carol@localhost"}) {
		t.Fatalf("after the failures the accounts are %q, want only carol", list.Users)
	}
}

func TestListUsers(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Hosts = []string{"localhost", "other.example"} })
	var list userList
	e.request("GET", "/api/v1/users", nil).ok(http.StatusOK, &list)
	if list.Users == nil || len(list.Users) != 0 || list.Next != "" {
		t.Fatalf("no accounts: got %+v (want users: [])", list)
	}
	want := []string{"Zed@localhost", "amy@localhost", "bob@localhost", "bob@other.example", "cat@localhost", "dan@localhost"}
	for _, j := range want {
		e.srv.AddUser(strings.ToLower(j), password)
	}
	want = []string{"amy@localhost", "bob@localhost", "bob@other.example", "cat@localhost", "dan@localhost", "zed@localhost"}
	slices.Sort(want)
	e.request("GET", "/api/v1/users", nil).ok(http.StatusOK, &list)
	if !slices.Equal(list.Users, want) || list.Next != "" {
		t.Fatalf("all: %+v, want %q", list, want)
	}
	// Pages of two, in order, ending without a next.
	var got []string
	after, pages := "", 0
	for {
		var page userList
		e.request("GET", "/api/v1/users?limit=2&after="+after, nil).ok(http.StatusOK, &page)
		pages++
		got = append(got, page.Users...)
		if page.Next == "" {
			break
		}
		if page.Next != page.Users[len(page.Users)-1] || len(page.Users) != 2 {
			t.Fatalf("page %d: %+v", pages, page)
		}
		after = page.Next
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("paged: %q in %d pages, want %q in 3", got, pages, want)
	}
	// after need not be an account.
	e.request("GET", "/api/v1/users?after=bob@p", nil).ok(http.StatusOK, &list)
	if !slices.Equal(list.Users, want[3:]) {
		t.Fatalf("after=bob@p: %q, want %q", list.Users, want[3:])
	}
	e.request("GET", "/api/v1/users?domain=other.example", nil).ok(http.StatusOK, &list)
	if !slices.Equal(list.Users, []string{"bob@other.example"}) {
		t.Fatalf("domain=other.example: %q", list.Users)
	}
	e.request("GET", "/api/v1/users?domain=localhost&limit=1", nil).ok(http.StatusOK, &list)
	if !slices.Equal(list.Users, []string{"amy@localhost"}) || list.Next != "amy@localhost" {
		t.Fatalf("domain=localhost&limit=1: %+v", list)
	}

	e.request("GET", "/api/v1/users?domain=example.org", nil).fails(400, "domain-not-served", "example.org")
	for _, l := range []string{"0", "-1", "1001", "ten", "1.5"} {
		e.request("GET", "/api/v1/users?limit="+l, nil).fails(400, "invalid-parameter", "limit", l)
	}
	e.request("GET", "/api/v1/users?limit=1000", nil).ok(http.StatusOK, &list)
}

func TestSetPassword(t *testing.T) {
	e := start(t)
	e.addUser("alice")
	old := e.login("alice", "before", "")
	e.request("PUT", "/api/v1/users/alice@localhost/password", map[string]string{"password": "new password"}).ok(http.StatusNoContent, nil)
	e.login("alice", "after", "new password")
	if _, err := e.dial("alice", "old", password); err == nil {
		t.Fatal("the old password still works")
	}
	// The session opened with the old password stays.
	if _, err := old.c.Request(context.Background(), stanza.New("iq", stanza.NSClient, "type", "get", "id", "p1", "to", domain).Append(stanza.New("ping", "urn:xmpp:ping"))); err != nil {
		t.Fatalf("the older session: %v", err)
	}

	e.request("PUT", "/api/v1/users/nobody@localhost/password", map[string]string{"password": "x"}).fails(404, "user-not-found", "no account nobody@localhost")
	e.request("PUT", "/api/v1/users/alice@localhost/password", map[string]string{}).fails(400, "missing-field", `"password"`)
	e.request("PUT", "/api/v1/users/alice@localhost/password", map[string]string{"password": "x", "jid": "y"}).fails(400, "unknown-field", `"jid"`)
	e.request("PUT", "/api/v1/users/alice@localhost/password", `{"password":`).fails(400, "bad-json")
	e.request("PUT", "/api/v1/users/alice@localhost/password", "password=x", "Content-Type", "text/plain").fails(415, "unsupported-media-type")
	e.request("PUT", "/api/v1/users/alice@localhost/password", fmt.Sprintf(`{"password":%q}`, strings.Repeat("p", 65<<10))).fails(413, "body-too-large")
	e.request("PUT", "/api/v1/users/alice@localhost/password", map[string]string{"password": "\u0000"}).fails(400, "invalid-password")
	e.request("PUT", "/api/v1/users/bad@@jid/password", map[string]string{"password": "x"}).fails(400, "invalid-jid", "jid")
	e.request("PUT", "/api/v1/users/alice@example.org/password", map[string]string{"password": "x"}).fails(400, "domain-not-served")
	// None of the failures changed it.
	e.login("alice", "still", "new password")
}

func TestDeleteUser(t *testing.T) {
	e := start(t)
	e.addUser("alice")
	e.addUser("bob")
	ctx := context.Background()
	if _, err := e.srv.Store().PutRosterItem(ctx, "bob@localhost", storage.RosterItem{Contact: "alice@localhost", Subscription: storage.SubTo}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Store().PutRosterItem(ctx, "alice@localhost", storage.RosterItem{Contact: "bob@localhost", Subscription: storage.SubFrom}); err != nil {
		t.Fatal(err)
	}
	bob := e.login("bob", "pc", "")
	bob.available("")
	phone, laptop := e.login("alice", "phone", ""), e.login("alice", "laptop", "")
	phone.available("")
	bob.expect("alice's presence", func(el *stanza.Element) bool {
		return el.Name == "presence" && el.From() == "alice@localhost/phone" && el.Type() == ""
	})

	e.request("DELETE", "/api/v1/users/alice@localhost", nil).ok(http.StatusNoContent, nil)
	for _, c := range []*client{phone, laptop} {
		if se := c.streamError(); se.Condition != stanza.StreamNotAuthorized || !strings.Contains(se.Text, "removed") {
			t.Errorf("alice's session ended with %v, want not-authorized", se)
		}
	}
	// Her contact heard that she went offline (the roster still existed).
	bob.expect("alice's unavailable presence", func(el *stanza.Element) bool {
		return el.Name == "presence" && el.From() == "alice@localhost/phone" && el.Type() == "unavailable"
	})
	if _, err := e.srv.Store().Account(ctx, "alice@localhost"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the account is still there: %v", err)
	}
	if n := len(e.srv.Router().Sessions(phone.c.JID().Bare())); n != 0 {
		t.Fatalf("%d sessions of alice are left", n)
	}
	if _, err := e.dial("alice", "again", ""); err == nil {
		t.Fatal("logged in to a deleted account")
	}
	var list userList
	e.request("GET", "/api/v1/users", nil).ok(http.StatusOK, &list)
	if !slices.Equal(list.Users, []string{"bob@localhost"}) {
		t.Fatalf("accounts after the deletion: %q", list.Users)
	}

	e.request("DELETE", "/api/v1/users/alice@localhost", nil).fails(404, "user-not-found", "no account alice@localhost")
	e.request("DELETE", "/api/v1/users/bob@@localhost", nil).fails(400, "invalid-jid")
	e.request("DELETE", "/api/v1/users/bob@localhost%2Fpc", nil).fails(400, "invalid-jid", "user@domain")
	e.request("DELETE", "/api/v1/users/bob@example.org", nil).fails(400, "domain-not-served")
	// Bob is untouched.
	if _, err := bob.c.Request(context.Background(), stanza.New("iq", stanza.NSClient, "type", "get", "id", "p2", "to", domain).Append(stanza.New("ping", "urn:xmpp:ping"))); err != nil {
		t.Fatalf("bob's session: %v", err)
	}
}
