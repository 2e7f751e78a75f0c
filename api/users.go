package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley/accounts"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Paging of GET /api/v1/users.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// userList is the body of GET /api/v1/users.
type userList struct {
	Users []string `json:"users"`
	// Next, when there are more, is the after= of the next page.
	Next string `json:"next,omitempty"`
}

// listUsers pages through the accounts in byte order of their JIDs.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	domain := q.Get("domain")
	if domain != "" && !slices.Contains(a.cfg.Hosts, domain) {
		return a.notServed(domain)
	}
	limit := defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return errorf(http.StatusBadRequest, "invalid-parameter", "limit must be a whole number from 1 to %d, got %q", maxLimit, s)
		}
		limit = n
	}
	// One more than the page, to know whether another follows.
	jids, err := a.cfg.Core.Store().AccountsPage(r.Context(), domain, q.Get("after"), limit+1)
	if err != nil {
		return err
	}
	page := userList{Users: append([]string{}, jids[:min(limit, len(jids))]...)}
	if len(jids) > limit {
		page.Next = page.Users[len(page.Users)-1]
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// userRequest is the body of POST /api/v1/users.
type userRequest struct {
	JID      string `json:"jid"`
	Password string `json:"password"`
}

// userCreated is the answer to POST /api/v1/users.
type userCreated struct {
	JID string `json:"jid"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.JID == "" {
		return missing("jid")
	}
	if req.Password == "" {
		return missing("password")
	}
	user, err := a.account(req.JID, "jid")
	if err != nil {
		return err
	}
	err = accounts.Create(r.Context(), a.cfg.Core.Store(), user, req.Password, a.cfg.SCRAMIterations)
	switch {
	case errors.Is(err, storage.ErrExists):
		return errorf(http.StatusConflict, "user-exists", "the account %s already exists", user)
	case errors.Is(err, accounts.ErrBadPassword):
		return errorf(http.StatusBadRequest, "invalid-password", "the password is not usable: %v", err)
	case err != nil:
		return err
	}
	a.cfg.Log.Info("admin api: account created", "jid", user)
	w.Header().Set("Location", "/api/v1/users/"+url.PathEscape(user.String()))
	writeJSON(w, http.StatusCreated, userCreated{JID: user.String()})
	return nil
}

// passwordRequest is the body of PUT /api/v1/users/{jid}/password.
type passwordRequest struct {
	Password string `json:"password"`
}

// setPassword replaces the account's credentials. Sessions stay: they
// authenticated with the old password, as they would after a change
// over XMPP.
func (a *API) setPassword(w http.ResponseWriter, r *http.Request) error {
	user, err := a.account(r.PathValue("jid"), "jid")
	if err != nil {
		return err
	}
	var req passwordRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Password == "" {
		return missing("password")
	}
	err = accounts.SetPassword(r.Context(), a.cfg.Core.Store(), user, req.Password, a.cfg.SCRAMIterations)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return noAccount(user)
	case errors.Is(err, accounts.ErrBadPassword):
		return errorf(http.StatusBadRequest, "invalid-password", "the password is not usable: %v", err)
	case err != nil:
		return err
	}
	a.cfg.Log.Info("admin api: password set", "jid", user)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionsGoneWait bounds how long closing sessions waits for them to
// leave the directory (those on other nodes leave when those nodes say so).
const sessionsGoneWait = 5 * time.Second

// deleteUser ends the account's sessions on every node, then deletes the
// account and everything it owns. The sessions close first, while the
// roster still exists, so their contacts get unavailable presence; any
// session bound in the meantime is closed after the deletion.
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	user, err := a.account(r.PathValue("jid"), "jid")
	if err != nil {
		return err
	}
	ctx, store := r.Context(), a.cfg.Core.Store()
	if _, err := store.Account(ctx, user.String()); errors.Is(err, storage.ErrNotFound) {
		return noAccount(user)
	} else if err != nil {
		return err
	}
	removed := func() *stanza.StreamError {
		return stanza.NewStreamError(stanza.StreamNotAuthorized, "the account was removed by an administrator")
	}
	a.closeAll(ctx, user, removed())
	err = store.DeleteAccount(ctx, user.String())
	if errors.Is(err, storage.ErrNotFound) {
		return noAccount(user) // deleted meanwhile by someone else
	}
	if err != nil {
		return err
	}
	a.cfg.Core.BlocksChanged(user.String())
	for _, ss := range a.cfg.Core.Router().Sessions(user) {
		ss.Close(removed())
	}
	a.cfg.Log.Info("admin api: account deleted", "jid", user)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// closeAll closes every session of bare, wherever it is, and waits (up to
// sessionsGoneWait) until none is left in the directory.
func (a *API) closeAll(ctx context.Context, bare jid.JID, err *stanza.StreamError) {
	rt := a.cfg.Core.Router()
	for _, ss := range rt.Sessions(bare) {
		ss.Close(err)
	}
	waitFor(ctx, func() bool { return len(rt.Sessions(bare)) == 0 })
}

// waitFor polls done until it is true, ctx ends or sessionsGoneWait
// passes.
func waitFor(ctx context.Context, done func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, sessionsGoneWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// account parses an account JID given in field (a body field or a path
// parameter) and checks that it is served here.
func (a *API) account(s, field string) (jid.JID, error) {
	if s == "" {
		return jid.JID{}, missing(field)
	}
	j, err := accounts.ParseJID(s, a.cfg.Hosts)
	if errors.Is(err, accounts.ErrNotServed) {
		return j, a.notServed(j.Domain())
	}
	if err != nil {
		return j, errorf(http.StatusBadRequest, "invalid-jid", "%s: %v", field, err)
	}
	return j, nil
}

func (a *API) notServed(domain string) *Error {
	return errorf(http.StatusBadRequest, "domain-not-served", "%s is not served here (hosts: %s)", domain, strings.Join(a.cfg.Hosts, ", "))
}

func noAccount(user jid.JID) *Error {
	return errorf(http.StatusNotFound, "user-not-found", "no account %s", user)
}
