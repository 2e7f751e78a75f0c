package api_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-im/parley/api"
	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Off by default: everything under /api/ is 404, with or without a token.
func TestDisabled(t *testing.T) {
	e := start(t, func(c *config.Config) { c.API = config.Default().API })
	for _, path := range []string{"/api/v1/users", "/api/v1/openapi.json", "/api/v1/cluster/nodes", "/api/", "/api/v2/x"} {
		e.request("GET", path, nil).fails(http.StatusNotFound, "not-found")
		e.request("GET", path, nil, "Authorization", "").fails(http.StatusNotFound, "not-found")
	}
	e.request("POST", "/api/v1/users", map[string]string{"jid": "a@localhost", "password": "x"}).fails(http.StatusNotFound, "not-found")
	if accts, err := e.srv.Store().Accounts(context.Background(), ""); err != nil || len(accts) != 0 {
		t.Fatalf("a disabled API created an account: %v %v", accts, err)
	}
}

func TestAuthentication(t *testing.T) {
	e := start(t)
	for _, tc := range []struct {
		name, auth, msg, challenge string
	}{
		{"no header", "", "Authorization: Bearer <token> header is required", `Bearer realm="parley"`},
		{"basic", "Basic dXNlcjpwYXNz", "Authorization: Bearer <token> header is required", `Bearer realm="parley"`},
		{"empty bearer", "Bearer ", "Authorization: Bearer <token> header is required", `Bearer realm="parley"`},
		{"wrong token", "Bearer " + strings.Repeat("x", len(token)), "not valid", `Bearer realm="parley", error="invalid_token"`},
		{"prefix of a token", "Bearer " + token[:len(token)-1], "not valid", `Bearer realm="parley", error="invalid_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			for _, path := range []string{"/api/v1/users", "/api/v1/sessions", "/api/v1/no-such-thing"} {
				r := e.request("GET", path, nil, "Authorization", tc.auth)
				r.fails(http.StatusUnauthorized, "unauthorized", tc.msg)
				if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("GET %s: WWW-Authenticate %q, want %q", path, got, tc.challenge)
				}
			}
			// Nothing changes without a valid token.
			e.request("POST", "/api/v1/users", map[string]string{"jid": "mallory@localhost", "password": "x"}, "Authorization", tc.auth).
				fails(http.StatusUnauthorized, "unauthorized")
		})
	}
	if _, err := e.srv.Store().Account(context.Background(), "mallory@localhost"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an unauthenticated request created an account: %v", err)
	}
	// Either token works, and the scheme is case-insensitive (RFC 7235).
	var list struct{ Users []string }
	e.request("GET", "/api/v1/users", nil, "Authorization", "Bearer "+token2).ok(http.StatusOK, &list)
	e.request("GET", "/api/v1/users", nil, "Authorization", "bearer "+token).ok(http.StatusOK, &list)
	// The document needs none.
	e.request("GET", "/api/v1/openapi.json", nil, "Authorization", "").ok(http.StatusOK, new(map[string]any))
}

// The ServeMux's own 404 and 405 are JSON errors too.
func TestUnknownEndpointAndMethod(t *testing.T) {
	e := start(t)
	e.request("GET", "/api/v1/nothing", nil).fails(http.StatusNotFound, "not-found", "openapi.json")
	e.request("GET", "/api/v2/users", nil).fails(http.StatusNotFound, "not-found")
	e.request("GET", "/api/v1/users/alice@localhost/password/x", nil).fails(http.StatusNotFound, "not-found")
	for _, tc := range []struct{ method, path, allow string }{
		{"PATCH", "/api/v1/users", "GET, HEAD, POST"},
		{"DELETE", "/api/v1/users", "GET, HEAD, POST"},
		{"GET", "/api/v1/users/alice@localhost", "DELETE"},
		{"POST", "/api/v1/users/alice@localhost/password", "PUT"},
		// The ServeMux counts DELETE /api/v1/sessions/{jid...}, which it
		// reaches by a redirect to /api/v1/sessions/.
		{"POST", "/api/v1/sessions", "DELETE, GET, HEAD"},
		{"GET", "/api/v1/sessions/alice@localhost/r", "DELETE"},
		{"GET", "/api/v1/messages", "POST"},
		{"POST", "/api/v1/cluster/nodes", "GET, HEAD"},
		{"DELETE", "/api/v1/openapi.json", "GET, HEAD"},
	} {
		r := e.request(tc.method, tc.path, nil)
		r.fails(http.StatusMethodNotAllowed, "method-not-allowed", tc.method, tc.allow)
		if got := r.header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	// Without a token, an unknown endpoint is 401 like any other: the API
	// shows nothing of itself to strangers.
	e.request("GET", "/api/v1/nothing", nil, "Authorization", "").fails(http.StatusUnauthorized, "unauthorized")
	e.request("PATCH", "/api/v1/users", nil, "Authorization", "").fails(http.StatusUnauthorized, "unauthorized")
}

// brokenStore fails every account listing; nothing else is called.
type brokenStore struct{ storage.Store }

func (brokenStore) AccountsPage(context.Context, string, string, int) ([]string, error) {
	return nil, errors.New("disk on fire")
}

type fakeCore struct{ store storage.Store }

func (c fakeCore) Router() *router.Router                              { return router.New() }
func (c fakeCore) Store() storage.Store                                { return c.store }
func (c fakeCore) SendAsServer(context.Context, *stanza.Element) error { return nil }
func (c fakeCore) BlocksChanged(string)                                {}

// A failure inside the server is a 500 with a generic message; the cause
// goes to the log only.
func TestInternalError(t *testing.T) {
	var logBuf bytes.Buffer
	h := api.New(api.Config{
		Enabled: true, Tokens: []string{token}, Hosts: []string{domain},
		Core: fakeCore{brokenStore{}},
		Log:  slog.New(slog.NewTextHandler(&logBuf, nil)),
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &env{t: t, base: srv.URL, client: srv.Client()}
	r := e.request("GET", "/api/v1/users", nil)
	r.fails(http.StatusInternalServerError, "internal-error", "the cause is in its log")
	if strings.Contains(string(r.body), "disk on fire") {
		t.Fatalf("the 500 shows the cause: %s", r.body)
	}
	if !strings.Contains(logBuf.String(), "disk on fire") || !strings.Contains(logBuf.String(), "/api/v1/users") {
		t.Fatalf("the cause is not logged: %q", logBuf.String())
	}
}
