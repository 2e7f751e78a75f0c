package admin

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	resp := e.login(admin, password)
	info, c := session(t, resp)
	if info.User != admin || info.CSRF == "" || !info.Expires.Equal(e.clock.Now().Add(SessionTTL)) {
		t.Fatalf("session %+v", info)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != int(SessionTTL/time.Second) || c.Secure {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, Max-Age 12h, not Secure over plain http", c)
	}
	if user, csrf, ok := e.check(c); !ok || user != admin || csrf != info.CSRF {
		t.Fatalf("Check: %q %q %v, want %s with the login's CSRF token", user, csrf, ok, admin)
	}
	if _, _, ok := e.check(nil); ok {
		t.Fatal("Check accepted a request without a cookie")
	}

	// GET /admin/session gives a reloaded page the same session.
	resp = e.do("GET", "/admin/session", "", "Cookie", c.Name+"="+c.Value)
	if again, _ := sessionBody(t, resp); again.CSRF != info.CSRF || again.User != admin {
		t.Fatalf("GET /admin/session: %+v, want %+v", again, info)
	}
	if code := errorCode(t, e.do("GET", "/admin/session", ""), http.StatusUnauthorized); code != "unauthorized" {
		t.Fatalf("GET /admin/session without a cookie: %s", code)
	}

	// A JID in another form names the same account.
	if info, _ := session(t, e.login(" Admin@LOCALHOST ", password)); info.User != admin {
		t.Fatalf("login as Admin@LOCALHOST: user %q", info.User)
	}
	// A form works as JSON does.
	resp = e.do("POST", "/admin/login", "jid=admin%40localhost&password=correct+horse", "Content-Type", "application/x-www-form-urlencoded")
	session(t, resp)
}

func sessionBody(t *testing.T, resp *http.Response) (sessionInfo, *http.Cookie) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp.Header.Set("Set-Cookie", CookieName+"=x")
	return session(t, resp)
}

func TestLoginSecureCookie(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Client = func(r *http.Request) Client {
			return Client{Addr: "192.0.2.1", Private: true, Encrypted: true, Host: r.Host}
		}
	})
	if _, c := session(t, e.login(admin, password)); !c.Secure {
		t.Fatalf("cookie %+v: want Secure over https", c)
	}
}

func TestLoginRefused(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		resp   func() *http.Response
		status int
		code   string
	}{
		{"wrong password", func() *http.Response { return e.login(admin, "wrong") }, 401, "bad-credentials"},
		{"no such account", func() *http.Response { return e.login("nobody@localhost", password) }, 401, "bad-credentials"},
		{"not a JID", func() *http.Response { return e.login("@@", password) }, 401, "bad-credentials"},
		{"not an admin, wrong password", func() *http.Response { return e.login(plain, "wrong") }, 401, "bad-credentials"},
		{"not an admin", func() *http.Response { return e.login(plain, password) }, 403, "not-admin"},
		{"no password", func() *http.Response { return e.login(admin, "") }, 400, "missing-field"},
		{"not JSON", func() *http.Response { return e.do("POST", "/admin/login", "{", "Content-Type", "application/json") }, 400, "bad-json"},
		{"text", func() *http.Response { return e.do("POST", "/admin/login", "x", "Content-Type", "text/plain") }, 415, "unsupported-media-type"},
		{"over the network in the clear", func() *http.Response { return e.login(admin, password, "X-Test-Insecure", "1") }, 403, "insecure"},
		{"from another site", func() *http.Response { return e.login(admin, password, "Origin", "https://evil.example") }, 403, "cross-origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.resp()
			if code := errorCode(t, resp, tc.status); code != tc.code {
				t.Fatalf("code %q, want %q", code, tc.code)
			}
			for _, c := range resp.Cookies() {
				if c.Name == CookieName {
					t.Fatalf("a refused login set the cookie: %v", c)
				}
			}
		})
	}
	// The page's own origin is fine.
	session(t, e.login(admin, password, "Origin", "http://dash.test"))
}

func TestLoginWithoutAdmins(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Users = nil })
	resp := e.login(admin, password)
	if code := errorCode(t, resp, http.StatusForbidden); code != "no-admins" {
		t.Fatalf("code %q, want no-admins", code)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FailedLogins, c.FailedLoginEvery = 3, time.Minute })
	for i := range 3 {
		if code := errorCode(t, e.login(admin, "wrong"), 401); code != "bad-credentials" {
			t.Fatalf("failure %d: %s", i+1, code)
		}
	}
	// Now even the right password waits.
	resp := e.login(admin, password)
	if code := errorCode(t, resp, http.StatusTooManyRequests); code != "too-many-attempts" {
		t.Fatalf("code %q", code)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	// Another address is not held up.
	session(t, e.login(admin, password, "X-Forwarded-For", "192.0.2.2"))
	// Successful logins do not count; after a while one more try is let
	// through.
	e.clock.add(time.Minute)
	session(t, e.login(admin, password))
	session(t, e.login(admin, password))
	if code := errorCode(t, e.login(admin, "wrong"), 401); code != "bad-credentials" {
		t.Fatalf("after the wait: %s", code)
	}
	if code := errorCode(t, e.login(admin, password), 429); code != "too-many-attempts" {
		t.Fatalf("after another failure: %s", code)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	_, c := session(t, e.login(admin, password))
	resp := e.do("POST", "/admin/logout", "", "Cookie", c.Name+"="+c.Value)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	var cleared bool
	for _, k := range resp.Cookies() {
		if k.Name == CookieName && k.Value == "" && k.MaxAge < 0 && k.HttpOnly {
			cleared = true
		}
	}
	if !cleared {
		t.Fatalf("logout did not clear the cookie: %v", resp.Header["Set-Cookie"])
	}
}

// The cookie is checked: its signature, its expiry, the account's
// current password and the list of administrators.
func TestSessionTampering(t *testing.T) {
	e := newEnv(t)
	_, c := session(t, e.login(admin, password))
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("cookie value %q", c.Value)
	}
	exp, _ := strconv.ParseInt(parts[1], 10, 64)
	forged := func(value string) *http.Cookie { return &http.Cookie{Name: CookieName, Value: value} }
	for name, value := range map[string]string{
		"another admin":     b64.EncodeToString([]byte(admin2)) + "." + parts[1] + "." + parts[2],
		"later expiry":      parts[0] + "." + strconv.FormatInt(exp+3600, 10) + "." + parts[2],
		"signature changed": parts[0] + "." + parts[1] + "." + b64.EncodeToString(make([]byte, 32)),
		"no signature":      parts[0] + "." + parts[1] + ".",
		"two parts":         parts[0] + "." + parts[1],
		"garbage":           "%%%.1.x",
		"empty":             "",
	} {
		if _, _, ok := e.check(forged(value)); ok {
			t.Errorf("%s: Check accepted %q", name, value)
		}
	}
	if _, _, ok := e.check(c); !ok {
		t.Fatal("the genuine cookie was refused")
	}

	// Another process without the shared secret: another key.
	other := newEnv(t)
	other.accts = e.accts
	other.d.cfg.Accounts = e.accts
	if _, _, ok := other.check(c); ok {
		t.Fatal("a dashboard with another random key accepted the cookie")
	}

	// Expiry.
	e.clock.add(SessionTTL - time.Second)
	if _, _, ok := e.check(c); !ok {
		t.Fatal("refused a second before it expires")
	}
	e.clock.add(time.Second)
	if _, _, ok := e.check(c); ok {
		t.Fatal("accepted once expired")
	}
}

func TestSessionEndsWithPasswordOrAdminList(t *testing.T) {
	e := newEnv(t)
	_, c := session(t, e.login(admin, password))
	e.accts.set(t, admin, "a new password")
	if _, _, ok := e.check(c); ok {
		t.Fatal("the cookie outlived a password change")
	}
	_, c = session(t, e.login(admin2, password))
	delete(e.d.users, admin2)
	if _, _, ok := e.check(c); ok {
		t.Fatal("the cookie outlived its user's removal from admin.users")
	}
}

// Nodes sharing cluster.secret accept each other's cookies.
func TestSessionSharedSecret(t *testing.T) {
	secret := func(c *Config) { c.Secret = "cluster-secret-0123456789" }
	a, b := newEnv(t, secret), newEnv(t, secret)
	b.d.cfg.Accounts = a.accts
	info, c := session(t, a.login(admin, password))
	if user, csrf, ok := b.check(c); !ok || user != admin || csrf != info.CSRF {
		t.Fatalf("the other node: %q %q %v", user, csrf, ok)
	}
	other := newEnv(t, func(c *Config) { c.Secret = "another-secret-0123456789" })
	other.d.cfg.Accounts = a.accts
	if _, _, ok := other.check(c); ok {
		t.Fatal("a node with another secret accepted the cookie")
	}
}
