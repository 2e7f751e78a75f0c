package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley/storage"
)

// A session is a cookie, nothing on the server:
//
//	base64url(user) "." expiry (Unix seconds) "." base64url(MAC)
//
// with MAC = HMAC-SHA256(key, "session", user, expiry, the account's
// SCRAM-SHA-256 StoredKey). The StoredKey ends every session of an
// account when its password changes; the expiry bounds a stolen cookie's
// use to SessionTTL; removing the user from admin.users ends it at once.
// The CSRF token is HMAC-SHA256(key, "csrf", cookie): a page can only
// learn it from the login's answer or from GET /admin/session, which
// other origins cannot read.

var b64 = base64.RawURLEncoding

// mac computes the MAC of the parts, each prefixed by its length so that
// no two lists of parts sign the same bytes.
func (d *Dashboard) mac(parts ...[]byte) []byte {
	h := hmac.New(sha256.New, d.key)
	for _, p := range parts {
		h.Write(strconv.AppendInt(nil, int64(len(p)), 10))
		h.Write([]byte{':'})
		h.Write(p)
	}
	return h.Sum(nil)
}

// cookieValue signs a session of user until expiry.
func (d *Dashboard) cookieValue(user string, expiry time.Time, acc storage.Account) string {
	exp := strconv.FormatInt(expiry.Unix(), 10)
	sig := d.mac([]byte("session"), []byte(user), []byte(exp), acc.SHA256.StoredKey)
	return b64.EncodeToString([]byte(user)) + "." + exp + "." + b64.EncodeToString(sig)
}

// csrf is the CSRF token of a session cookie's value.
func (d *Dashboard) csrf(value string) string {
	return b64.EncodeToString(d.mac([]byte("csrf"), []byte(value)))
}

// sessionInfo is what the login and GET /admin/session answer.
type sessionInfo struct {
	User    string    `json:"user"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
}

// Check reports the administrator whose valid session cookie r carries,
// and the session's CSRF token. It implements api.Sessions.
func (d *Dashboard) Check(r *http.Request) (user, csrf string, ok bool) {
	info, ok := d.check(r.Context(), r)
	return info.User, info.CSRF, ok
}

func (d *Dashboard) check(ctx context.Context, r *http.Request) (sessionInfo, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return sessionInfo{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return sessionInfo{}, false
	}
	u, err1 := b64.DecodeString(parts[0])
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	sig, err3 := b64.DecodeString(parts[2])
	user := string(u)
	if err1 != nil || err2 != nil || err3 != nil || !d.users[user] {
		return sessionInfo{}, false
	}
	expiry := time.Unix(exp, 0)
	if !d.cfg.Now().Before(expiry) {
		return sessionInfo{}, false
	}
	// Only an administrator's JID gets this far: the look-up is not
	// something any request can cause.
	acc, err := d.cfg.Accounts.Account(ctx, user)
	if err != nil {
		return sessionInfo{}, false
	}
	want := d.mac([]byte("session"), []byte(user), []byte(parts[1]), acc.SHA256.StoredKey)
	if !hmac.Equal(sig, want) {
		return sessionInfo{}, false
	}
	return sessionInfo{User: user, CSRF: d.csrf(c.Value), Expires: expiry}, true
}

// setCookie gives the browser the session cookie (value "" and maxAge
// -1: deletes it).
func (d *Dashboard) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     "/", // the page under /admin, the API under /api
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		// A Secure cookie over plain http (a browser on this machine) is
		// not kept by every browser; over https it must be Secure.
		Secure: d.cfg.Client(r).Encrypted,
	})
}
