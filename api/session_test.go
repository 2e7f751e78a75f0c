package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/parley-im/parley/api"
	"github.com/parley-im/parley/config"
)

const adminJID = "boss@" + domain

// withAdmin names the dashboard's administrator.
func withAdmin(c *config.Config) { c.Admin.Users = []string{adminJID} }

// dashLogin logs the administrator in to the dashboard and returns the
// Cookie header to send and the CSRF token.
func (e *env) dashLogin() (cookie, csrf string) {
	e.t.Helper()
	e.srv.AddUser(adminJID, password)
	r := e.request("POST", "/admin/login", map[string]string{"jid": adminJID, "password": password}, "Authorization", "")
	var s struct{ User, CSRF string }
	r.ok(http.StatusOK, &s)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "parley_admin" {
			return c.Name + "=" + c.Value, s.CSRF
		}
	}
	e.t.Fatalf("login: no cookie in %v", r.header)
	return "", ""
}

// The dashboard's session cookie stands in for a bearer token; what
// changes something also needs the session's CSRF token.
func TestSessionCookie(t *testing.T) {
	e := start(t, withAdmin)
	cookie, csrf := e.dashLogin()
	noBearer := func(hdr ...string) []string { return append([]string{"Authorization", "", "Cookie", cookie}, hdr...) }

	var users struct{ Users []string }
	e.request("GET", "/api/v1/users", nil, noBearer()...).ok(http.StatusOK, &users)
	if len(users.Users) != 1 || users.Users[0] != adminJID {
		t.Fatalf("users %v", users.Users)
	}
	e.request("GET", "/api/v1/cluster/nodes", nil, noBearer()...).ok(http.StatusOK, new(map[string]any))

	body := map[string]string{"jid": "made@" + domain, "password": "pw"}
	e.request("POST", "/api/v1/users", body, noBearer()...).fails(http.StatusForbidden, "csrf-token-required", api.CSRFHeader)
	e.request("POST", "/api/v1/users", body, noBearer(api.CSRFHeader, csrf+"x")...).fails(http.StatusForbidden, "csrf-token-required")
	e.request("POST", "/api/v1/users", body, noBearer(api.CSRFHeader, csrf)...).ok(http.StatusCreated, new(map[string]any))
	e.request("PUT", "/api/v1/users/made@"+domain+"/password", map[string]string{"password": "pw2"}, noBearer()...).fails(http.StatusForbidden, "csrf-token-required")
	e.request("DELETE", "/api/v1/users/made@"+domain, nil, noBearer()...).fails(http.StatusForbidden, "csrf-token-required")
	e.request("DELETE", "/api/v1/users/made@"+domain, nil, noBearer(api.CSRFHeader, csrf)...).ok(http.StatusNoContent, nil)

	// A bearer token counts when present: a wrong one is not rescued by
	// the cookie, a right one needs no CSRF token.
	e.request("GET", "/api/v1/users", nil, "Authorization", "Bearer wrong-token-0123456789abcdef0123", "Cookie", cookie).fails(http.StatusUnauthorized, "unauthorized")
	e.request("POST", "/api/v1/users", body, "Cookie", cookie).ok(http.StatusCreated, new(map[string]any))
	// A forged cookie is no session.
	r := e.request("GET", "/api/v1/users", nil, "Authorization", "", "Cookie", "parley_admin=Ym9zc0Bsb2NhbGhvc3Q.9999999999.AAAA")
	r.fails(http.StatusUnauthorized, "unauthorized")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}

	// After logout the browser has no cookie; a reloaded page asks.
	lo := e.request("POST", "/admin/logout", nil, noBearer()...)
	if lo.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", lo.status, lo.body)
	}
	var s struct{ User, CSRF string }
	e.request("GET", "/admin/session", nil, noBearer()...).ok(http.StatusOK, &s)
	if s.User != adminJID || s.CSRF != csrf {
		t.Fatalf("GET /admin/session: %+v", s)
	}
}

// With api.enabled off the API serves dashboard sessions only.
func TestSessionAPIDisabled(t *testing.T) {
	e := start(t, withAdmin, func(c *config.Config) { c.API.Enabled, c.API.Tokens = false, nil })
	cookie, csrf := e.dashLogin()
	e.request("GET", "/api/v1/users", nil).fails(http.StatusNotFound, "not-found")
	e.request("GET", "/api/v1/openapi.json", nil, "Authorization", "").fails(http.StatusNotFound, "not-found")
	e.request("GET", "/api/v1/users", nil, "Authorization", "", "Cookie", cookie).ok(http.StatusOK, new(map[string]any))
	e.request("POST", "/api/v1/users", map[string]string{"jid": "x@" + domain, "password": "pw"},
		"Authorization", "", "Cookie", cookie, api.CSRFHeader, csrf).ok(http.StatusCreated, new(map[string]any))
	var stats struct {
		Nodes []struct {
			Name     string            `json:"name"`
			Families []json.RawMessage `json:"families"`
		} `json:"nodes"`
	}
	e.request("GET", "/api/v1/cluster/stats", nil, "Authorization", "", "Cookie", cookie).ok(http.StatusOK, &stats)
	if len(stats.Nodes) != 1 || len(stats.Nodes[0].Families) == 0 {
		t.Fatalf("stats %+v", stats)
	}
}

// Without administrators nobody logs in, and the answer says why.
func TestSessionNoAdmins(t *testing.T) {
	e := start(t)
	e.srv.AddUser(adminJID, password)
	e.request("POST", "/admin/login", map[string]string{"jid": adminJID, "password": password}, "Authorization", "").
		fails(http.StatusForbidden, "no-admins", "admin.users")
}
