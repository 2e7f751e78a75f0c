package im_test

import (
	"testing"

	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// RFC 6120 §7.7.2.2: a second login with the same full JID replaces the
// first, which gets a <conflict/> stream error. Contacts see the old
// session go (unavailable, if it was available) and the new one come when
// it sends presence; stanzas for that full JID go to the new session.
func TestResourceConflict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		oldAvailable  bool
		seeOldGoAway  bool // bob gets unavailable from alice/pc
		phoneSeesGone bool // alice's other resource does too
	}{
		{"old session available", true, true, true},
		{"old session never sent presence", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			e.relate("alice", "bob", storage.SubBoth)
			bob := e.online("bob", "pc", 0)
			phone := e.online("alice", "phone", 0)
			old := e.login("alice", "pc")
			if tt.oldAvailable {
				old.available(0)
				bob.expect("the old session's presence", presence(old.jid(), ""))
				phone.expect("the old session's presence", presence(old.jid(), ""))
			}

			fresh := e.login("alice", "pc")
			if fresh.jid() != "alice@localhost/pc" {
				t.Fatalf("second login bound %s, want alice@localhost/pc", fresh.jid())
			}
			if cond := old.expectStreamError(); cond != stanza.StreamConflict {
				t.Errorf("old session ended with %q, want conflict", cond)
			}
			gone := presence("alice@localhost/pc", "unavailable")
			if tt.seeOldGoAway {
				bob.expect("unavailable from the replaced session", gone)
				phone.expect("unavailable from the replaced session", gone)
			} else {
				expectAbsent(t,
					absence{bob, "unavailable from a session that never was available", gone},
					absence{phone, "unavailable from a session that never was available", gone})
			}

			fresh.available(0)
			bob.expect("the new session's presence", presence(fresh.jid(), ""))
			phone.expect("the new session's presence", presence(fresh.jid(), ""))
			bob.send("<message to='alice@localhost/pc' type='chat'><body>still there?</body></message>")
			fresh.expect("a message to the full JID", messageBody("still there?"))
			if n := e.sessions("alice"); n != 2 {
				t.Errorf("alice has %d sessions bound, want 2 (phone and the new pc)", n)
			}
			// A second unavailable later would make contacts drop the new
			// session's presence.
			bob.expectNone("another unavailable", gone)
		})
	}
}

// A session the server replaced has had its stream closed with an error
// (RFC 6120 §4.9.1.1: stream errors are unrecoverable); what its client
// still sends before noticing must not be acted on under the JID that now
// belongs to the new session.
func TestResourceConflictOldSessionSilenced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(t *testing.T, e *env, bob, old, fresh *client)
	}{
		{"its messages are not routed", func(t *testing.T, e *env, bob, old, fresh *client) {
			old.send("<message to='bob@localhost/pc' type='chat'><body>ghost</body></message>")
			bob.expectNone("message from the replaced session", messageBody("ghost"))
		}},
		{"its initial presence does not take the offline messages", func(t *testing.T, e *env, bob, old, fresh *client) {
			old.send("<presence/>")
			expectAbsent(t, absence{bob, "presence from the replaced session", presence("alice@localhost/pc", "")})
			fresh.send("<presence/>")
			fresh.expect("the offline message, at the new session's initial presence", messageBody("kept for you"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, []string{"alice", "bob"})
			e.relate("alice", "bob", storage.SubBoth)
			bob := e.online("bob", "pc", 0)
			bob.send("<message to='alice@localhost' type='chat'><body>kept for you</body></message>")
			bob.sync()
			old := e.login("alice", "pc")
			fresh := e.login("alice", "pc")
			// The old client has not read its stream error yet.
			tt.check(t, e, bob, old, fresh)
		})
	}
}

// Two logins with different resources coexist.
func TestNoConflictDifferentResource(t *testing.T) {
	t.Parallel()
	e := start(t, []string{"alice"})
	a := e.online("alice", "a", 0)
	b := e.online("alice", "b", 0)
	a.expect("b's presence", presence(b.jid(), ""))
	a.expectNone("stream error", func(*stanza.Element) bool { return false })
	if n := e.sessions("alice"); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
}
