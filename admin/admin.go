// Package admin is the admin dashboard at /admin on the HTTP listener:
// the login of administrators (the accounts in admin.users, with their
// XMPP password checked against the stored SCRAM keys), the stateless
// signed session cookie that the admin API (package api) accepts as well,
// and the dashboard's files: the page in <web_dir>/admin and the charting
// library, uPlot, from <web_dir>/node_modules.
//
// It holds no data of its own and does not serve any: the page gets
// everything through the admin API (/api/v1), whose cluster stats give it
// every node's metrics. Nothing about a session is stored on the server,
// so any node of a cluster sharing cluster.secret accepts any node's
// cookie.
package admin

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/storage"
)

// Accounts is what the dashboard reads of storage: an account's stored
// credentials (storage.Store has it).
type Accounts interface {
	Account(ctx context.Context, jid string) (storage.Account, error)
}

// Client is what the server knows of the browser behind a request.
type Client struct {
	// Addr is the client's IP address (from X-Forwarded-For when the
	// peer is a trusted proxy): failed logins are limited per address.
	Addr string
	// Private: nothing can read the request on its way (TLS, here or at
	// a trusted proxy, or a client on this machine).
	Private bool
	// Encrypted: it came over https, so the cookie may be Secure.
	Encrypted bool
	// Host is how the browser names the listener (host[:port]), to check
	// a login's Origin against.
	Host string
}

// Config is everything the dashboard needs.
type Config struct {
	// Users are the administrators' bare JIDs (admin.users); empty:
	// every login is refused, saying so.
	Users    []string
	Accounts Accounts
	// Secret is cluster.secret: the cookies' signing key is derived from
	// it, so every node accepts every node's cookies. Empty: a random
	// key, good until the process ends.
	Secret string
	// WebDir is listeners.http.web_dir: the page is in WebDir/admin,
	// uPlot in WebDir/node_modules/uplot/dist.
	WebDir string
	// Client describes the client of a request (server/web.go).
	Client func(r *http.Request) Client
	// RequirePrivate refuses logins over connections that are not
	// private (listeners.c2s.starttls_required): a password must not
	// cross a network in the clear.
	RequirePrivate bool
	// FailedLogins failed logins from one address are let through at
	// once, then one per FailedLoginEvery (defaults 5 and 12s).
	FailedLogins     int
	FailedLoginEvery time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log *slog.Logger
}

// SessionTTL is how long a login lasts.
const SessionTTL = 12 * time.Hour

// CookieName is the session cookie's name.
const CookieName = "parley_admin"

// Dashboard serves the dashboard and checks its sessions. It is safe for
// concurrent use.
type Dashboard struct {
	cfg   Config
	users map[string]bool // canonical bare JIDs
	key   []byte          // HMAC-SHA256 key of cookies and CSRF tokens
	fails *limiter
}

// New builds the dashboard.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FailedLogins <= 0 {
		cfg.FailedLogins = 5
	}
	if cfg.FailedLoginEvery <= 0 {
		cfg.FailedLoginEvery = 12 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = func(r *http.Request) Client {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			return Client{Addr: host, Private: r.TLS != nil, Encrypted: r.TLS != nil, Host: r.Host}
		}
	}
	if cfg.Accounts == nil {
		return nil, errors.New("admin: no accounts")
	}
	d := &Dashboard{cfg: cfg, users: make(map[string]bool), fails: newLimiter(cfg.FailedLogins, cfg.FailedLoginEvery)}
	for _, u := range cfg.Users {
		j, err := jid.Parse(u)
		if err != nil || j.Local() == "" || j.Resource() != "" {
			return nil, fmt.Errorf("admin: %q is not an account's bare JID", u)
		}
		d.users[j.String()] = true
	}
	var err error
	if cfg.Secret != "" {
		d.key, err = hkdf.Key(sha256.New, []byte(cfg.Secret), nil, "parley admin session v1", sha256.Size)
	} else {
		d.key = make([]byte, sha256.Size)
		_, err = rand.Read(d.key)
	}
	if err != nil {
		return nil, fmt.Errorf("admin: session key: %w", err)
	}
	return d, nil
}

// Mount adds the dashboard's routes to mux: the page under /admin/, its
// login endpoints, and uPlot under /web/uplot/.
func (d *Dashboard) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusFound)
	})
	mux.HandleFunc("GET /admin/", d.page)
	mux.HandleFunc("POST /admin/login", d.login)
	mux.HandleFunc("POST /admin/logout", d.logout)
	mux.HandleFunc("GET /admin/session", d.session)
	mux.HandleFunc("GET /web/uplot/", d.uplot)
}
