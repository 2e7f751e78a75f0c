package private_test

import (
	"strings"
	"testing"

	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/private"
	"github.com/parley-im/parley/stanza"
)

const (
	prefs     = `<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus>`
	bookmarks = `<storage xmlns='storage:bookmarks'><conference jid='council@conference.example.com' autojoin='true'/></storage>`
)

func query(children ...string) string {
	return `<query xmlns='jabber:iq:private'>` + strings.Join(children, "") + `</query>`
}

func TestPrivate(t *testing.T) {
	env := modtest.New(t)
	private.New(env.Store, 256).Register(env.Server)
	env.Account("hamlet")
	env.Account("ophelia")
	hc := env.Bind("hamlet@example.com/denmark")
	oc := env.Bind("ophelia@example.com/river")
	big := `<big xmlns='urn:big'>` + strings.Repeat("x", 300) + `</big>`

	steps := []struct {
		name    string
		c       *modtest.Client
		typ, to string
		payload string
		cond    stanza.Condition
		want    string // the result's query, serialized; "-" for none
	}{
		{name: "get missing", c: hc, typ: "get", payload: query(`<exodus xmlns='exodus:prefs'/>`), want: query(`<exodus xmlns='exodus:prefs'/>`)},
		{name: "set", c: hc, typ: "set", payload: query(prefs), want: "-"},
		{name: "get", c: hc, typ: "get", payload: query(`<exodus xmlns='exodus:prefs'/>`), want: query(prefs)},
		{name: "get to own bare JID", c: hc, typ: "get", to: "hamlet@example.com", payload: query(`<exodus xmlns='exodus:prefs'/>`), want: query(prefs)},
		{name: "other users keep theirs", c: oc, typ: "get", payload: query(`<exodus xmlns='exodus:prefs'/>`), want: query(`<exodus xmlns='exodus:prefs'/>`)},
		{name: "set two namespaces", c: hc, typ: "set", payload: query(bookmarks, `<vCard xmlns='vcard-temp'><FN>H</FN></vCard>`), want: "-"},
		{name: "get the second", c: hc, typ: "get", payload: query(`<vCard xmlns='vcard-temp'/>`), want: query(`<vCard xmlns='vcard-temp'><FN>H</FN></vCard>`)},
		{name: "get by namespace whatever the name", c: hc, typ: "get", payload: query(`<storage xmlns='storage:bookmarks'/>`), want: query(bookmarks)},
		{name: "someone else's", c: oc, typ: "get", to: "hamlet@example.com", payload: query(`<exodus xmlns='exodus:prefs'/>`), cond: stanza.Forbidden},
		{name: "set someone else's", c: oc, typ: "set", to: "hamlet@example.com", payload: query(prefs), cond: stanza.Forbidden},
		{name: "to the server", c: hc, typ: "get", to: "example.com", payload: query(`<exodus xmlns='exodus:prefs'/>`), cond: stanza.Forbidden},
		{name: "empty get", c: hc, typ: "get", payload: query(), cond: stanza.NotAcceptable},
		{name: "empty set", c: hc, typ: "set", payload: query(), cond: stanza.NotAcceptable},
		{name: "child without its own namespace", c: hc, typ: "set", payload: query(`<prefs/>`), cond: stanza.NotAcceptable},
		{name: "namespace twice", c: hc, typ: "set", payload: query(`<a xmlns='urn:a'/>`, `<b xmlns='urn:a'/>`), cond: stanza.NotAcceptable},
		{name: "too large", c: hc, typ: "set", payload: query(`<exodus xmlns='exodus:prefs'/>`, big), cond: stanza.NotAcceptable},
		{name: "nothing stored from a refused set", c: hc, typ: "get", payload: query(`<exodus xmlns='exodus:prefs'/>`), want: query(prefs)},
		{name: "wrong element", c: hc, typ: "get", payload: `<storage xmlns='jabber:iq:private'/>`, cond: stanza.BadRequest},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			reply := tt.c.IQ(tt.typ, tt.to, modtest.Parse(t, tt.payload))
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q (%s), want %q: %s", got, modtest.Text(reply), tt.cond, reply)
			}
			if tt.cond != "" {
				return
			}
			got := "-"
			if q := reply.FirstElement(); q != nil {
				got = string(q.AppendXML(nil, ""))
			}
			want := tt.want
			if want != "-" {
				// Compare canonical forms: the test's XML as the writer writes it.
				want = string(modtest.Parse(t, want).AppendXML(nil, ""))
			}
			if got != want {
				t.Errorf("query = %s\nwant %s", got, want)
			}
		})
	}
}
