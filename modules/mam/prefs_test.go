package mam_test

import (
	"fmt"
	"testing"

	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/mam"
	"github.com/parley-im/parley/stanza"
)

// prefs builds <prefs/>; an empty def leaves 'default' out.
func prefs(def string, always, never []string) *stanza.Element {
	p := stanza.New("prefs", mam.NS)
	if def != "" {
		p.SetAttr("default", def)
	}
	for name, jids := range map[string][]string{"always": always, "never": never} {
		if jids == nil {
			continue
		}
		l := stanza.New(name, mam.NS)
		for _, j := range jids {
			l.Append(stanza.New("jid", mam.NS).SetText(j))
		}
		p.Append(l)
	}
	return p
}

func TestPrefs(t *testing.T) {
	e := newEnv(t, mam.Config{})
	get := func() string {
		t.Helper()
		reply := e.c.IQ("get", "", stanza.New("prefs", mam.NS))
		p := reply.Child("prefs", mam.NS)
		if reply.Type() != "result" || p == nil {
			t.Fatalf("prefs get: %s", reply)
		}
		return p.String()
	}
	const none = `<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never/></prefs>`
	if got := get(); got != none {
		t.Fatalf("default prefs %s\nwant %s", got, none)
	}

	// Full JIDs are kept as their bare JIDs, JIDs normalized, repeats
	// dropped; the reply is what was stored.
	set := prefs("roster", []string{"Romeo@Example.com/orchard", "romeo@example.com", "montague.example"}, []string{"tybalt@example.com"})
	reply := e.c.IQ("set", "", set)
	const stored = `<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>romeo@example.com</jid><jid>montague.example</jid></always><never><jid>tybalt@example.com</jid></never></prefs>`
	if p := reply.Child("prefs", mam.NS); reply.Type() != "result" || p == nil || p.String() != stored {
		t.Fatalf("set reply %s\nwant %s", reply, stored)
	}
	if got := get(); got != stored {
		t.Fatalf("prefs after set %s\nwant %s", got, stored)
	}

	many := make([]string, mam.MaxPrefsJIDs+1)
	for i := range many {
		many[i] = fmt.Sprintf("u%d@example.com", i)
	}
	bad := []struct {
		name    string
		payload *stanza.Element
		cond    stanza.Condition
	}{
		{"no default", prefs("", []string{"a@example.com"}, nil), stanza.BadRequest},
		{"unknown default", prefs("sometimes", nil, nil), stanza.BadRequest},
		{"bad JID", prefs("always", []string{"romeo@"}, nil), stanza.BadRequest},
		{"empty JID", prefs("always", nil, []string{""}), stanza.BadRequest},
		{"in both lists", prefs("roster", []string{"a@example.com"}, []string{"a@example.com/x"}), stanza.BadRequest},
		{"unexpected list", stanza.New("prefs", mam.NS, "default", "always").Append(stanza.New("sometimes", mam.NS)), stanza.BadRequest},
		{"unexpected item", stanza.New("prefs", mam.NS, "default", "always").Append(stanza.New("always", mam.NS).Append(stanza.New("item", mam.NS))), stanza.BadRequest},
		{"too many", prefs("never", many, nil), stanza.NotAcceptable},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			reply := e.c.IQ("set", "", tt.payload)
			if got := modtest.Condition(reply); got != tt.cond {
				t.Errorf("condition %q, want %q: %s", got, tt.cond, reply)
			}
		})
	}
	if got := get(); got != stored {
		t.Fatalf("prefs after bad sets %s\nwant %s", got, stored)
	}

	// Replacing drops what was there.
	reply = e.c.IQ("set", "", prefs("never", nil, nil))
	const never = `<prefs xmlns='urn:xmpp:mam:2' default='never'><always/><never/></prefs>`
	if p := reply.Child("prefs", mam.NS); p == nil || p.String() != never {
		t.Fatalf("replace reply %s", reply)
	}
	if got := get(); got != never {
		t.Fatalf("prefs after replace %s", got)
	}
}
