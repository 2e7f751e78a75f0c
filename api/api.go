// Package api is the admin REST API, served under /api/v1 on the HTTP
// listener: accounts (list, create, delete, set password), sessions in the
// whole cluster (list, kick), messages sent as the server, the cluster's
// nodes with their load, and the API's own OpenAPI document
// (/api/v1/openapi.json, embedded from openapi.json).
//
// Every request but the document's needs a bearer token from api.tokens,
// or the admin dashboard's session cookie (Config.Sessions; then a CSRF
// token too on requests that change something).
// Bodies are JSON both ways, and every error, the ServeMux's own 404 and
// 405 included, is {"error": {"status", "code", "message"}}.
//
// The package holds no state of its own: it works through the routing
// core (storage, the session directory, SendAsServer) and the node list
// the server hands it in Config. It does not route stanzas or touch
// connections itself: closing a session goes through its router entry,
// which reaches the node holding it.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Prefix is where the server mounts the API: everything under it, so that
// a disabled API answers 404 for all of it.
const Prefix = "/api/"

// Core is what the API uses of the routing core (*im.Server).
type Core interface {
	Router() *router.Router
	Store() storage.Store
	// SendAsServer routes a message from the server's domain to a local
	// user, through offline storage when the user has no session.
	SendAsServer(ctx context.Context, st *stanza.Element) error
	// BlocksChanged drops what every node caches of an account's
	// settings (block list, archive preferences).
	BlocksChanged(owner string)
}

// Config is everything the API needs.
type Config struct {
	// Enabled serves the API; off, everything under Prefix is 404.
	Enabled bool
	// Tokens are the accepted bearer tokens (api.tokens).
	Tokens []string
	// Hosts are the domains served; accounts and sessions elsewhere are
	// refused.
	Hosts []string
	// SCRAMIterations is auth.scram_iterations, for new passwords.
	SCRAMIterations int
	Core            Core
	// Nodes reports the cluster's live nodes (this one alone when not
	// clustered), this one with Self set.
	Nodes func() []Node
	// Stats reports every live node's metrics (GET
	// /api/v1/cluster/stats), a node that did not answer with its error.
	Stats func(ctx context.Context) []NodeStats
	// Sessions, when set, lets an admin dashboard login (package admin)
	// in by its cookie instead of a bearer token, even with Enabled off;
	// a request that changes something must then also carry the
	// session's CSRF token in CSRFHeader.
	Sessions Sessions
	Log      *slog.Logger
}

// Sessions checks the admin dashboard's session cookie of a request: the
// user logged in and the session's CSRF token, ok false without a valid
// session.
type Sessions interface {
	Check(r *http.Request) (user, csrf string, ok bool)
}

// CSRFHeader carries a dashboard session's CSRF token on requests that
// change something; a page of another site cannot set it.
const CSRFHeader = "X-Parley-CSRF"

// API is the admin REST API's handler.
type API struct {
	cfg    Config
	tokens [][sha256.Size]byte // SHA-256 of each token: compared in constant time
	mux    *http.ServeMux
	routes map[string]route // by ServeMux pattern
}

// handler serves one route; an error that is not an *Error is logged and
// answered 500.
type handler func(w http.ResponseWriter, r *http.Request) error

// route is one endpoint.
type route struct {
	method, path string
	serve        handler
	public       bool // served without a token
}

// New returns the API's handler; mount it at Prefix.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	a := &API{cfg: cfg, mux: http.NewServeMux(), routes: make(map[string]route)}
	for _, t := range cfg.Tokens {
		if t != "" {
			a.tokens = append(a.tokens, sha256.Sum256([]byte(t)))
		}
	}
	for _, rt := range a.table() {
		pattern := rt.method + " " + rt.path
		a.routes[pattern] = rt
		a.mux.Handle(pattern, a.wrap(rt.serve))
	}
	return a
}

// table lists the endpoints; openapi.json documents exactly these (a test
// keeps the two in step).
func (a *API) table() []route {
	return []route{
		{"GET", "/api/v1/users", a.listUsers, false},
		{"POST", "/api/v1/users", a.createUser, false},
		{"DELETE", "/api/v1/users/{jid}", a.deleteUser, false},
		{"PUT", "/api/v1/users/{jid}/password", a.setPassword, false},
		{"GET", "/api/v1/sessions", a.listSessions, false},
		// {jid...}: a resource may hold '/'.
		{"DELETE", "/api/v1/sessions/{jid...}", a.kickSession, false},
		{"POST", "/api/v1/messages", a.sendMessage, false},
		{"GET", "/api/v1/cluster/nodes", a.clusterNodes, false},
		{"GET", "/api/v1/cluster/stats", a.clusterStats, false},
		{"GET", "/api/v1/openapi.json", a.openAPI, true},
	}
}

// ServeHTTP checks the token, then serves the route, or answers the
// ServeMux's 404 and 405 in JSON.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	csrf, session := a.session(r)
	if !a.cfg.Enabled && !session {
		writeError(w, errNoEndpoint)
		return
	}
	h, pattern := a.mux.Handler(r)
	if rt, ok := a.routes[pattern]; !ok || !rt.public {
		err := a.authorize(r)
		if session {
			err = checkCSRF(r, csrf)
		}
		if err != nil {
			if err.challenge != "" {
				w.Header().Set("WWW-Authenticate", err.challenge)
			}
			writeError(w, err.Error)
			return
		}
	}
	if pattern == "" {
		// No route: find out whether the ServeMux says 404 or 405 (with
		// its Allow header), and say it in JSON.
		var c capture
		h.ServeHTTP(&c, r)
		if c.code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", c.header.Get("Allow"))
			writeError(w, errorf(http.StatusMethodNotAllowed, "method-not-allowed", "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, c.header.Get("Allow")))
			return
		}
		writeError(w, errNoEndpoint)
		return
	}
	// Handler found the route but ServeHTTP sets the path values.
	a.mux.ServeHTTP(w, r)
}

// wrap answers a handler's error.
func (a *API) wrap(serve handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := serve(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// authError is a refused token and its WWW-Authenticate challenge
// (RFC 6750 §3).
type authError struct {
	*Error
	challenge string
}

const realm = `Bearer realm="parley"`

// authorize checks the bearer token against every configured one, in
// constant time (hashes of equal length; no early exit).
func (a *API) authorize(r *http.Request) *authError {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return &authError{errorf(http.StatusUnauthorized, "unauthorized", "an Authorization: Bearer <token> header is required"), realm}
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := 0
	for _, t := range a.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	if match != 1 {
		return &authError{errorf(http.StatusUnauthorized, "unauthorized", "the bearer token is not valid"), realm + `, error="invalid_token"`}
	}
	return nil
}

// capture records what the ServeMux's fallback handler answers.
type capture struct {
	header http.Header
	code   int
}

func (c *capture) Header() http.Header {
	if c.header == nil {
		c.header = make(http.Header)
	}
	return c.header
}

func (c *capture) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *capture) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return len(b), nil
}
