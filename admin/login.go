package admin

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/sasl"
	"github.com/parley-im/parley/storage"
	"github.com/xdg-go/scram"
	"golang.org/x/time/rate"
)

// Answers of the login endpoints are JSON, errors as the admin API's:
// {"error": {"status", "code", "message"}}.

type apiError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, struct {
		Error apiError `json:"error"`
	}{apiError{status, code, fmt.Sprintf(format, args...)}})
}

// maxLoginBody bounds a login's body.
const maxLoginBody = 4 << 10

// credentials is a login's body: JSON or a form with the same fields.
type credentials struct {
	JID      string `json:"jid"`
	Password string `json:"password"`
}

// login checks an administrator's JID and password and starts a session.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	client := d.cfg.Client(r)
	switch {
	case !sameOrigin(r.Header.Get("Origin"), client.Host):
		// A page elsewhere posting a form: it must not log the browser
		// in to an account of its choosing.
		writeError(w, http.StatusForbidden, "cross-origin", "logins come from the dashboard's own page")
		return
	case len(d.users) == 0:
		writeError(w, http.StatusForbidden, "no-admins", "nobody may log in to the dashboard: list administrators' JIDs in admin.users in the server's configuration")
		return
	case d.cfg.RequirePrivate && !client.Private:
		writeError(w, http.StatusForbidden, "insecure", "log in over https: a password must not cross the network in the clear")
		return
	}
	if wait := d.fails.wait(client.Addr, d.cfg.Now()); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "too-many-attempts", "too many failed logins from %s; try again in %s", client.Addr, wait.Round(time.Second))
		return
	}
	creds, ok := readCredentials(w, r)
	if !ok {
		return
	}
	user, err := d.verify(r.Context(), creds)
	if err != nil {
		if errors.Is(err, errTemporary) {
			d.cfg.Log.Error("admin: checking a dashboard login", "err", err)
			writeError(w, http.StatusInternalServerError, "internal-error", "the server could not check the password; the cause is in its log")
			return
		}
		d.fails.fail(client.Addr, d.cfg.Now())
		d.cfg.Log.Warn("admin: failed dashboard login", "jid", creds.JID, "client", client.Addr)
		writeError(w, http.StatusUnauthorized, "bad-credentials", "wrong JID or password")
		return
	}
	if !d.users[user] {
		// Said only to someone who knows the password.
		writeError(w, http.StatusForbidden, "not-admin", "%s is not an administrator: it is not in admin.users", user)
		return
	}
	acc, err := d.cfg.Accounts.Account(r.Context(), user)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal-error", "the server could not read the account")
		return
	}
	expiry := d.cfg.Now().Add(SessionTTL).Truncate(time.Second)
	value := d.cookieValue(user, expiry, acc)
	d.setCookie(w, r, value, int(SessionTTL/time.Second))
	d.cfg.Log.Info("admin: dashboard login", "jid", user, "client", client.Addr)
	writeJSON(w, http.StatusOK, sessionInfo{User: user, CSRF: d.csrf(value), Expires: expiry})
}

// readCredentials reads a login's JSON or form body, answering bad ones.
func readCredentials(w http.ResponseWriter, r *http.Request) (credentials, bool) {
	var c credentials
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			writeError(w, http.StatusBadRequest, "bad-json", "the body must be a JSON object {\"jid\", \"password\"}: %v", err)
			return c, false
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "bad-form", "the form could not be read: %v", err)
			return c, false
		}
		c.JID, c.Password = r.PostForm.Get("jid"), r.PostForm.Get("password")
	default:
		writeError(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "send the JID and password as JSON or as a form, got %q", r.Header.Get("Content-Type"))
		return c, false
	}
	if c.JID == "" || c.Password == "" {
		writeError(w, http.StatusBadRequest, "missing-field", "both jid and password are required")
		return c, false
	}
	return c, true
}

var (
	errBadLogin  = errors.New("admin: wrong JID or password")
	errTemporary = errors.New("admin: storage failed")
)

// dummy stands in for a missing account, so that an unknown JID costs
// the same key derivation as a wrong password.
var dummy = storage.Credentials{Salt: []byte("parley-dummy-salt"), Iterations: 4096, StoredKey: make([]byte, sha256.Size)}

// verify checks the password against the account's stored SCRAM keys
// (the same check SASL PLAIN makes) and returns the account's JID.
func (d *Dashboard) verify(ctx context.Context, c credentials) (string, error) {
	j, err := jid.Parse(strings.TrimSpace(c.JID))
	if err != nil || j.Local() == "" || j.Resource() != "" {
		sasl.Verify(dummy, scram.SHA256, c.Password)
		return "", errBadLogin
	}
	user := j.String()
	acc, err := d.cfg.Accounts.Account(ctx, user)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		sasl.Verify(dummy, scram.SHA256, c.Password)
		return "", errBadLogin
	case err != nil:
		return "", fmt.Errorf("%w: %v", errTemporary, err)
	}
	ok := false
	if len(acc.SHA256.StoredKey) > 0 {
		ok = sasl.Verify(acc.SHA256, scram.SHA256, c.Password)
	} else {
		ok = sasl.Verify(acc.SHA1, scram.SHA1, c.Password)
	}
	if !ok {
		return "", errBadLogin
	}
	return user, nil
}

// logout ends the browser's session by deleting its cookie. (The cookie
// itself stays valid until it expires: a copy taken before still works.
// Changing the password ends every session.)
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	d.setCookie(w, r, "", -1)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// session answers who is logged in, with the session's CSRF token, for a
// page loaded again.
func (d *Dashboard) session(w http.ResponseWriter, r *http.Request) {
	info, ok := d.check(r.Context(), r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "not logged in, or the session has ended")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// sameOrigin reports whether a request's Origin header is absent (not a
// browser, or a same-origin request some browsers send without it) or
// names host.
func sameOrigin(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// limiter limits failed logins per client address. An address is
// forgotten once its bucket is full again, so the map holds only
// addresses that failed recently.
type limiter struct {
	burst int
	every time.Duration

	mu    sync.Mutex // guards addrs
	addrs map[string]*rate.Limiter
}

func newLimiter(burst int, every time.Duration) *limiter {
	return &limiter{burst: burst, every: every, addrs: make(map[string]*rate.Limiter)}
}

// wait is how long addr must wait at now before its next attempt; 0: it
// may try now.
func (l *limiter) wait(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.addrs[addr]
	if !ok {
		return 0
	}
	if t := lim.TokensAt(now); t < 1 {
		return time.Duration((1 - t) * float64(l.every))
	}
	return 0
}

// fail counts a failed login from addr at now.
func (l *limiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.addrs[addr]
	if !ok {
		if len(l.addrs) >= 4096 {
			for k, v := range l.addrs {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.addrs, k)
				}
			}
		}
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.addrs[addr] = lim
	}
	lim.AllowN(now, 1)
}
