package api

import (
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// messageRequest is the body of POST /api/v1/messages.
type messageRequest struct {
	To      string `json:"to"`
	Body    string `json:"body"`
	Type    string `json:"type"` // chat, normal (the default) or headline
	Subject string `json:"subject"`
}

// messageSent is the answer: the id of the stanza sent.
type messageSent struct {
	ID string `json:"id"`
}

var messageTypes = []string{"chat", "normal", "headline"}

// sendMessage sends a message from the server's domain (the recipient's)
// to a local user's bare or full JID through the routing core: to the
// session(s) RFC 6121 §8.5 picks, or to offline storage for a chat or
// normal message to a user with no session. 202: it has been delivered
// to the sessions' queues or stored; whether a client reads it is not
// known.
func (a *API) sendMessage(w http.ResponseWriter, r *http.Request) error {
	var req messageRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.To == "":
		return missing("to")
	case req.Body == "":
		return missing("body")
	}
	if req.Type == "" {
		req.Type = "normal"
	}
	if !slices.Contains(messageTypes, req.Type) {
		return errorf(http.StatusBadRequest, "invalid-field", "the field \"type\" must be one of %s, got %q", strings.Join(messageTypes, ", "), req.Type)
	}
	for _, f := range []struct{ name, value string }{{"body", req.Body}, {"subject", req.Subject}} {
		if i := strings.IndexFunc(f.value, func(c rune) bool { return !xmlChar(c) }); i >= 0 {
			return errorf(http.StatusBadRequest, "invalid-field", "the field %q holds U+%04X, which XML cannot carry", f.name, []rune(f.value[i:])[0])
		}
	}
	to, err := jid.Parse(req.To)
	if err != nil {
		return errorf(http.StatusBadRequest, "invalid-jid", "to: %q is not a valid JID: %v", req.To, err)
	}
	if to.Local() == "" {
		return errorf(http.StatusBadRequest, "invalid-jid", "to: %q is not a user's JID: want user@domain or user@domain/resource", req.To)
	}
	if !slices.Contains(a.cfg.Hosts, to.Domain()) {
		return a.notServed(to.Domain())
	}
	ctx := r.Context()
	if _, err := a.cfg.Core.Store().Account(ctx, to.Bare().String()); errors.Is(err, storage.ErrNotFound) {
		return noAccount(to.Bare())
	} else if err != nil {
		return err
	}
	id := rand.Text()
	msg := stanza.New("message", stanza.NSClient, "to", to.String(), "type", req.Type, "id", id)
	if req.Subject != "" {
		msg.Append(stanza.New("subject", stanza.NSClient).SetText(req.Subject))
	}
	msg.Append(stanza.New("body", stanza.NSClient).SetText(req.Body))
	if err := a.cfg.Core.SendAsServer(ctx, msg); err != nil {
		return err
	}
	a.cfg.Log.Info("admin api: message sent", "to", to, "type", req.Type, "id", id)
	writeJSON(w, http.StatusAccepted, messageSent{ID: id})
	return nil
}

// xmlChar reports whether c is a Char of XML 1.0 (§2.2): what a stanza
// can carry.
func xmlChar(c rune) bool {
	switch {
	case c < 0x20:
		return c == '\t' || c == '\n' || c == '\r'
	case c <= 0xD7FF:
		return true
	case c < 0xE000:
		return false
	case c <= 0xFFFD:
		return true
	}
	return c >= 0x10000 && c <= 0x10FFFF
}
