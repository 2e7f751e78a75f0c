package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// session is one bound resource in GET /api/v1/sessions.
type session struct {
	JID       string `json:"jid"`
	Node      string `json:"node"`
	Local     bool   `json:"local"` // on the node that answered
	Available bool   `json:"available"`
	Priority  int    `json:"priority"`
	Show      string `json:"show,omitempty"`
	Status    string `json:"status,omitempty"`
	// Bound is when the session was bound, by its node's clock.
	Bound *time.Time `json:"bound,omitempty"`
}

// sessionList is the body of GET /api/v1/sessions.
type sessionList struct {
	Sessions []session `json:"sessions"`
}

// listSessions reports every client session in the cluster as this node's
// directory sees it (other nodes' sessions arrive within moments of their
// binding), ordered by JID. Components' entries are not sessions of ours.
func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	self := a.self()
	out := sessionList{Sessions: []session{}}
	for _, ss := range a.cfg.Core.Router().All() {
		if !slices.Contains(a.cfg.Hosts, ss.JID().Domain()) {
			continue
		}
		out.Sessions = append(out.Sessions, describe(ss, self))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func describe(ss *router.Session, self string) session {
	available, priority, presence, _ := ss.State()
	s := session{JID: ss.JID().String(), Node: ss.Node(), Local: ss.IsLocal(), Available: available, Priority: priority}
	if s.Local {
		s.Node = self
	}
	if presence != nil {
		if el := presence.Child("show", stanza.NSClient); el != nil {
			s.Show = el.Text()
		}
		if el := presence.Child("status", stanza.NSClient); el != nil {
			s.Status = el.Text()
		}
	}
	if b := ss.Bound(); !b.IsZero() {
		b = b.UTC()
		s.Bound = &b
	}
	return s
}

// kickSession closes a session's stream with <policy-violation/> (RFC 6120
// §4.9.3.14: the server's local policy, here an administrator's decision)
// on whichever node holds it, and waits (briefly) until it has left the
// directory.
func (a *API) kickSession(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("jid")
	if raw == "" {
		return errorf(http.StatusBadRequest, "invalid-jid", "the path must end with the session's full JID: /api/v1/sessions/user@domain/resource")
	}
	full, err := jid.Parse(raw)
	if err != nil {
		return errorf(http.StatusBadRequest, "invalid-jid", "jid: %q is not a valid JID: %v", raw, err)
	}
	if full.Local() == "" || full.Resource() == "" {
		return errorf(http.StatusBadRequest, "invalid-jid", "jid: %q is not a session's full JID: want user@domain/resource", raw)
	}
	if !slices.Contains(a.cfg.Hosts, full.Domain()) {
		return a.notServed(full.Domain())
	}
	rt := a.cfg.Core.Router()
	ss := rt.Session(full)
	if ss == nil {
		return errorf(http.StatusNotFound, "session-not-found", "no session %s", full)
	}
	ss.Close(stanza.NewStreamError(stanza.StreamPolicyViolation, "kicked by an administrator"))
	waitFor(r.Context(), func() bool { return rt.Session(full) != ss })
	a.cfg.Log.Info("admin api: session kicked", "jid", full, "node", ss.Node())
	w.WriteHeader(http.StatusNoContent)
	return nil
}
