package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/storage"
)

const (
	admin    = "admin@localhost"
	admin2   = "second@localhost"
	plain    = "user@localhost" // an account, not an administrator
	password = "correct horse"
)

// accounts is an in-memory Accounts.
type accounts struct {
	mu sync.Mutex // guards m
	m  map[string]storage.Account
}

func (a *accounts) Account(_ context.Context, jid string) (storage.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.m[jid]
	if !ok {
		return acc, storage.ErrNotFound
	}
	return acc, nil
}

func (a *accounts) set(t *testing.T, jid, pw string) {
	t.Helper()
	s1, s256, err := sasl.Derive(pw, 4096)
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[jid] = storage.Account{JID: jid, SHA1: s1, SHA256: s256}
}

func newAccounts(t *testing.T) *accounts {
	a := &accounts{m: make(map[string]storage.Account)}
	for _, j := range []string{admin, admin2, plain} {
		a.set(t, j, password)
	}
	return a
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a dashboard and a mux serving it.
type env struct {
	t     *testing.T
	d     *Dashboard
	mux   *http.ServeMux
	accts *accounts
	clock *clock
}

// newEnv builds a dashboard over fresh accounts; change the Config with
// opts before it is built.
func newEnv(t *testing.T, opts ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, accts: newAccounts(t), clock: &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}}
	cfg := Config{
		Users:    []string{admin, admin2},
		Accounts: e.accts,
		WebDir:   t.TempDir(),
		Client: func(r *http.Request) Client {
			addr, _, _ := strings.Cut(r.RemoteAddr, ":")
			if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
				addr = fwd // as from a trusted proxy
			}
			return Client{Addr: addr, Private: r.Header.Get("X-Test-Insecure") == "", Encrypted: r.TLS != nil, Host: r.Host}
		},
		RequirePrivate: true,
		Now:            e.clock.Now,
		Log:            slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.d, e.mux = d, http.NewServeMux()
	d.Mount(e.mux)
	return e
}

// do serves one request; hdr are name, value pairs.
func (e *env) do(method, path, body string, hdr ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://dash.test"+path, rd)
	r.RemoteAddr = "192.0.2.1:40000"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w.Result()
}

// login logs jid in with pw and returns the answer.
func (e *env) login(jid, pw string, hdr ...string) *http.Response {
	e.t.Helper()
	b, _ := json.Marshal(credentials{JID: jid, Password: pw})
	return e.do("POST", "/admin/login", string(b), hdr...)
}

// errorCode checks the status and returns the JSON error's code.
func errorCode(t *testing.T, resp *http.Response, status int) string {
	t.Helper()
	var body struct {
		Error apiError `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Status != status {
		t.Fatalf("body %s: want a JSON error with status %d (%v)", b, status, err)
	}
	return body.Error.Code
}

// session returns the login answer's session and cookie, failing unless
// it succeeded.
func session(t *testing.T, resp *http.Response) (sessionInfo, *http.Cookie) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: status %d: %s", resp.StatusCode, b)
	}
	var info sessionInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("login answer %s: %v", b, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return info, c
		}
	}
	t.Fatalf("login: no %s cookie in %v", CookieName, resp.Header["Set-Cookie"])
	return info, nil
}

// check runs Check on a request with the cookie.
func (e *env) check(c *http.Cookie) (user, csrf string, ok bool) {
	r := httptest.NewRequest("GET", "http://dash.test/api/v1/users", nil)
	if c != nil {
		r.AddCookie(c)
	}
	return e.d.Check(r)
}
